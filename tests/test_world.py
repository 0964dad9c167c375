import numpy as np

from dreampose.cache import Cache
from dreampose.config import load_profile
from dreampose.data.world import WORLD_VERSION, load_world, view_of


def test_world_is_built_once_then_loaded(tmp_path):
    profile = load_profile("smoke")
    cache = Cache(tmp_path)
    first = load_world(profile, cache, progress=False)
    d = profile.data
    assert (len(first.train), len(first.test)) == (d.n_train_videos, d.n_test_videos)
    for v in first.train + first.test:
        assert v.size == (d.height, d.width) and v.fps == d.fps
        assert d.min_seconds * d.fps - 1 <= len(v) <= d.max_seconds * d.fps + 1
        assert v.caption and len(v.meta["yaw"]) == len(v)
    manifest = cache.find("data", profile.stage_hash("data", world_version=WORLD_VERSION)).manifest
    assert manifest["frames"] == sum(len(v) for v in first.train + first.test)
    again = load_world(profile, cache, progress=False)
    for a, b in zip(first.train + first.test, again.train + again.test):
        assert a.name == b.name and np.array_equal(a.frames, b.frames) and np.array_equal(a.iuv, b.iuv)


def test_train_and_test_subjects_are_disjoint(tmp_path):
    world = load_world(load_profile("smoke", ["data.n_train_videos=8", "data.n_test_videos=4"]), Cache(tmp_path), progress=False)
    keys = lambda vs: {(v.caption, v.meta["skin"], v.meta["hair"], str(v.meta["top_back"])) for v in vs}  # noqa: E731
    assert not keys(world.train) & keys(world.test)
    assert {v.meta["split"] for v in world.train} == {"train"} and {v.meta["split"] for v in world.test} == {"test"}


def test_views():
    assert [view_of(y) for y in (0.0, np.pi / 2, np.pi, -0.2)] == ["front", "side", "back", "front"]


def test_preview_figure(tmp_path):
    import matplotlib.pyplot as plt

    from dreampose.figures import _varied, preview_world, save

    world = load_world(load_profile("smoke"), Cache(tmp_path), progress=False)
    out = save(preview_world(world.train, n_videos=2, n_frames=3), tmp_path / "preview.png")
    assert out.stat().st_size > 5000
    fig = preview_world(world.train, tmp_path / "direct.png", n_videos=1, n_frames=2)
    assert (tmp_path / "direct.png").stat().st_size > 2000 and plt.fignum_exists(fig.number)
    plt.close(fig)
    # one video per garment type first, the order kept otherwise
    videos = world.train + world.test
    order = [v.meta["garment"] for v in _varied(videos)]
    kinds = list(dict.fromkeys(v.meta["garment"] for v in videos))
    assert order[: len(kinds)] == kinds and sorted(order) == sorted(v.meta["garment"] for v in videos)
