"""The paper's protocol: frame selection rule, comparison size, evaluate_method and its cache."""
import dataclasses
import hashlib
import json
import math

import numpy as np
import pytest
import torch

from dreampose.config import EvalConfig
from dreampose.data.video import DataError, Video
from dreampose.evaluate.baselines import copy_input
from dreampose.evaluate.i3d import fvd
from dreampose.evaluate.inception import fid
from dreampose.evaluate.metrics import NA, MetricError, MetricSuite, flicker, l1, temporal_l1
from dreampose.evaluate.protocol import comparison_size, evaluate_method, resize_frames, runs, select_frames


def video(name="v0", t=60, h=32, w=24, seed=0):
    rng = np.random.default_rng(seed)
    frames = rng.integers(0, 256, (t, h, w, 3), dtype=np.uint8)
    return Video(name, frames, np.zeros_like(frames))


def oracle(v, i, targets):
    return v.frames[targets]


SUITE = MetricSuite(perceptual=False)


def test_selection_obeys_the_distance_rule_and_is_deterministic():
    for t, n, d in [(60, 16, 16), (120, 16, 16), (32, 16, 16), (300, 50, 50)]:
        for name in ("a", "b", "91-3003CN5S"):
            v = video(name, t, 4, 4)
            i, targets = select_frames(v, n, d, seed=3)
            assert i == 0 and len(targets) == n
            assert all(abs(j - i) >= d for j in targets) and targets[-1] < t
            assert targets == list(range(targets[0], targets[0] + n))  # one consecutive run
            assert select_frames(v, n, d, seed=3) == (i, targets)
    starts = {select_frames(video("a", 120, 4, 4), 16, 16, seed=s)[1][0] for s in range(10)}
    assert len(starts) > 1  # the seed matters


def test_short_videos_give_up_frames_not_distance():
    i, targets = select_frames(video("short", 25, 4, 4), 16, 16, seed=0)
    assert targets == list(range(16, 25))
    with pytest.raises(DataError, match="'tiny-clip'.*min_distance"):
        select_frames(video("tiny-clip", 17, 4, 4), 16, 16, seed=0)


def test_several_runs_spread_over_the_video_far_from_the_input():
    for t in (60, 90, 120):
        i, targets = select_frames(video("a", t, 4, 4), 16, 16, seed=3, n_runs=4)
        assert runs(targets) == [4, 4, 4, 4] and targets[0] == 16 and targets[-1] == t - 1
        assert min(targets) >= 16 and targets == sorted(set(targets))
        assert select_frames(video("b", t, 4, 4), 16, 16, seed=9, n_runs=4) == (i, targets)  # no seed, no name
    assert runs(select_frames(video("short", 30, 4, 4), 16, 16, seed=0, n_runs=4)[1]) == [14]  # one run of what is far
    with pytest.raises(ValueError, match="at least 2 frames per run"):
        select_frames(video("a", 60, 4, 4), 16, 16, seed=0, n_runs=16)


def test_temporal_metrics_never_span_two_runs():
    still = torch.full((8, 16, 16, 3), 0.5)
    jumpy = still.clone()
    jumpy[4:] = 0.9  # a jump between the two runs only
    assert temporal_l1(jumpy, still) == pytest.approx(0.4 / 7) == flicker(jumpy, still)
    assert temporal_l1(jumpy, still, [4, 4]) == 0 and flicker(jumpy, still, [4, 4]) == 0
    assert SUITE(jumpy, still, [4, 4])["temporal L1"] == 0
    with pytest.raises(MetricError, match="add up to 7"):
        temporal_l1(jumpy, still, [4, 3])


def test_comparison_size():
    assert comparison_size((640, 512), (640, 512), 256) == (320, 256)
    assert comparison_size((640, 512), (320, 256), 256) == (320, 256)
    assert comparison_size((64, 64), (64, 64), 0) == (64, 64)
    assert comparison_size((64, 64), (32, 32), 0) == (32, 32)  # model resolution
    with pytest.raises(DataError, match="aspect ratio"):
        comparison_size((640, 512), (256, 256), 256)
    x = np.full((2, 8, 8, 3), 200, np.uint8)
    out = resize_frames(x, (4, 4))
    assert out.shape == (2, 4, 4, 3) and np.allclose(out.numpy(), 200 / 255)


def test_evaluate_copy_baseline_matches_direct_metrics(tmp_path):
    videos = [video("a", 60, seed=1), video("b", 70, seed=2)]
    cfg = EvalConfig(resolution=0, n_frames=8, min_distance=10)
    res = evaluate_method(copy_input, videos, cfg, seed=0, label="copy", suite=SUITE, progress=False)
    for v in videos:
        i, targets = select_frames(v, 8, 10, 0)
        assert res.frames[v.name]["targets"] == targets
        expected = l1(np.repeat(v.frames[:1], 8, 0), v.frames[targets]).mean()
        assert res.per_video[v.name]["L1"] == pytest.approx(expected, abs=1e-9)
    vals = [res.per_video[n]["L1"] for n in ("a", "b")]
    mean, std = res.summary("L1")
    assert mean == pytest.approx(np.mean(vals)) and std == pytest.approx(np.std(vals, ddof=1))
    assert res.metrics == SUITE.names


def test_oracle_gives_zero_error_and_infinite_psnr():
    res = evaluate_method(oracle, [video("a"), video("b", seed=4)], EvalConfig(resolution=16, n_frames=4,
                          min_distance=4), seed=0, suite=SUITE, progress=False)
    assert res.summary("L1") == (0.0, 0.0)
    mean, std = res.summary("PSNR")
    assert mean == math.inf and math.isnan(std)
    assert res.frames["a"]["size"] == [21, 16]  # short side 24 -> 16, aspect kept (32 * 16 / 24 = 21.3)


def test_resolution_resizes_both_sides():
    v = video("a", 40, 32, 32)
    half = lambda vid, i, t: (resize_frames(vid.frames[t], (16, 16)).numpy() * 255).round().astype(np.uint8)  # noqa: E731
    res = evaluate_method(half, [v], EvalConfig(resolution=16, n_frames=4, min_distance=4), 0, suite=SUITE,
                          progress=False)
    assert res.per_video["a"]["L1"] < 0.5 / 255 + 1e-6  # only rounding to uint8 separates them


def test_cache_reuses_matching_settings_only(tmp_path):
    videos = [video("a")]
    cfg = EvalConfig(resolution=0, n_frames=4, min_distance=4)
    path = tmp_path / "copy.json"
    first = evaluate_method(copy_input, videos, cfg, 0, path, suite=SUITE, progress=False)
    assert json.loads(path.read_text())["per_video"]["a"]["L1"] == first.per_video["a"]["L1"]

    def boom(*args):
        raise AssertionError("method called although the cache matches")

    again = evaluate_method(boom, videos, cfg, 0, path, suite=SUITE, progress=False)
    assert again.per_video == first.per_video
    other = evaluate_method(oracle, videos, cfg, 1, path, suite=SUITE, progress=False)  # new seed: recomputed
    assert other.per_video["a"]["L1"] == 0
    reloaded = evaluate_method(boom, videos, cfg, 1, path, suite=SUITE, progress=False)
    assert reloaded.per_video["a"]["PSNR"] == math.inf  # inf survives the JSON round trip


def test_bad_method_output_is_a_clear_error():
    cfg = EvalConfig(resolution=0, n_frames=4, min_distance=4)
    with pytest.raises(DataError, match=r"'bad'.*\(4, H, W, 3\) uint8"):
        evaluate_method(lambda v, i, t: v.frames[t].astype(np.float32), [video()], cfg, 0, label="bad",
                        suite=SUITE, progress=False)
    with pytest.raises(DataError, match="no test videos"):
        evaluate_method(oracle, [], cfg, 0, suite=SUITE, progress=False)


def test_n_videos_limits_the_test_set():
    cfg = EvalConfig(resolution=0, n_frames=4, min_distance=4, n_videos=1)
    res = evaluate_method(oracle, [video("a"), video("b")], cfg, 0, suite=SUITE, progress=False)
    assert list(res.per_video) == ["a"]


def _save_pngs(root, v, indices, size=None):
    from PIL import Image

    (root / v.name).mkdir(parents=True, exist_ok=True)
    for i in indices:
        img = Image.fromarray(v.frames[i])
        (img.resize(size[::-1]) if size else img).save(root / v.name / f"{i:05d}.png")


def test_importer_reads_the_layout_and_scores_like_the_oracle(tmp_path):
    from dreampose.evaluate.importer import import_method

    videos = [video("a", 40), video("b", 40, seed=5)]
    for v in videos:
        _save_pngs(tmp_path, v, range(len(v)))
    cfg = EvalConfig(resolution=0, n_frames=4, min_distance=4)
    res = evaluate_method(import_method(tmp_path), videos, cfg, 0, suite=SUITE, progress=False)
    assert res.summary("L1") == (0.0, 0.0)  # PNG is lossless
    half = tmp_path / "half"
    _save_pngs(half, videos[0], range(40), size=(16, 12))
    out = import_method(half, size=(16, 12))(videos[0], 0, [5, 6])
    assert out.shape == (2, 16, 12, 3) and out.dtype == np.uint8


def test_importer_rejects_missing_and_mis_sized_frames(tmp_path):
    from dreampose.evaluate.importer import import_method

    v = video("a", 40)
    with pytest.raises(DataError, match="no folder"):
        import_method(tmp_path / "nowhere")
    method = import_method(tmp_path)
    with pytest.raises(DataError, match=r"no folder .*a for test video 'a'"):
        method(v, 0, [5])
    _save_pngs(tmp_path, v, [5])
    with pytest.raises(DataError, match=r"missing frame .*a/00006\.png"):
        method(v, 0, [5, 6])
    _save_pngs(tmp_path, v, [6], size=(16, 12))
    with pytest.raises(DataError, match=r"00006\.png is 16x12 \(h x w\), expected 32x24"):
        method(v, 0, [5, 6])
    (tmp_path / "a" / "00007.png").write_bytes(b"not a png")
    with pytest.raises(DataError, match=r"cannot read .*00007\.png"):
        method(v, 0, [7])


def tiny_set_metrics():
    from test_frechet import TINY_FID, TINY_I3D

    return [fid(TINY_FID), fvd(TINY_I3D)]


def test_fid_and_fvd_are_set_level_over_all_videos_of_an_imported_method(tmp_path):
    from dreampose.evaluate.importer import import_method
    from dreampose.evaluate.tables import rows_from_results

    videos = [video("a", 60, 16, 16), video("b", 60, 16, 16, seed=5)]
    for v in videos:
        _save_pngs(tmp_path, Video(v.name, v.frames // 2, v.iuv), range(len(v)))  # a darker method
    cfg = EvalConfig(resolution=0, n_frames=16, min_distance=16)
    suite = MetricSuite(perceptual=False, set_metrics=tiny_set_metrics())
    dark = evaluate_method(import_method(tmp_path), videos, cfg, 0, tmp_path / "dark.json", suite=suite,
                           progress=False)
    exact = evaluate_method(oracle, videos, cfg, 0, suite=suite, progress=False)
    assert list(dark.set_level) == ["FID", "FVD"] and "FID" not in dark.metrics
    assert dark.set_level["FID"] > 1e-3 and dark.set_level["FVD"] > 1.0  # 32 frames, 2 clips
    assert exact.set_level["FID"] == pytest.approx(0, abs=1e-6) and exact.set_level["FVD"] == pytest.approx(0, abs=1e-6)
    row = rows_from_results({"dark": dark})[0]
    assert row["FID"] == dark.set_level["FID"] and isinstance(row["L1"], tuple)
    assert dark.summary("FVD")[0] == dark.set_level["FVD"] and math.isnan(dark.summary("FVD")[1])
    reused = evaluate_method(None, videos, cfg, 0, tmp_path / "dark.json", suite=suite, progress=False)
    assert reused.set_level == dark.set_level


def offline_suite(tmp_path):
    """The suite of a machine without any pretrained weights (VGG, LPIPS, FID, FVD all n/a)."""
    from dreampose.evaluate import i3d, inception, metrics

    old = torch.hub.get_dir()
    torch.hub.set_dir(str(tmp_path / "empty-hub"))
    loaders = (metrics.load_vgg, metrics.load_lpips, inception.load_inception, i3d.load_i3d)
    for loader in loaders:
        loader.cache_clear()
    try:
        return MetricSuite()
    finally:
        torch.hub.set_dir(old)
        for loader in loaders:
            loader.cache_clear()


def test_cache_key_and_old_cached_scores_survive_when_fid_and_fvd_cannot_run(tmp_path):
    videos = [video("a")]
    cfg = EvalConfig(resolution=0, n_frames=4, min_distance=4)
    suite, path = offline_suite(tmp_path), tmp_path / "copy.json"
    first = evaluate_method(copy_input, videos, cfg, 0, path, label="copy", suite=suite, progress=False)
    assert first.set_level == {"FID": NA, "FVD": NA} and set(first.unavailable) == {"VGG", "LPIPS", "FID", "FVD"}
    # the key as computed before set-level metrics existed
    before = {"eval": dataclasses.asdict(cfg), "seed": 0, "label": "copy", "metrics": suite.names,
              "unavailable": ["LPIPS", "VGG"], "videos": [["a", 60]]}
    data = json.loads(path.read_text())
    assert data["settings"]["key"] == hashlib.sha256(json.dumps(before, sort_keys=True).encode()).hexdigest()[:16]
    # a file written by that older code (no set_level, no FID/FVD reasons) is reused as it is
    del data["set_level"]
    data["unavailable"] = {k: data["unavailable"][k] for k in ("VGG", "LPIPS")}
    path.write_text(json.dumps(data))
    old = evaluate_method(None, videos, cfg, 0, path, label="copy", suite=suite, progress=False)
    assert old.per_video == first.per_video and old.set_level == first.set_level
    assert old.unavailable == first.unavailable
    # FID and FVD that can run are part of the key: the scores are made again, with them
    plain, path = MetricSuite(perceptual=False), tmp_path / "plain.json"
    evaluate_method(copy_input, videos, cfg, 0, path, suite=plain, progress=False)
    key = json.loads(path.read_text())["settings"]["key"]
    new = evaluate_method(oracle, videos, cfg, 0, path, suite=MetricSuite(perceptual=False,
                          set_metrics=tiny_set_metrics()), progress=False)
    assert json.loads(path.read_text())["settings"]["key"] != key and new.per_video["a"]["L1"] == 0
    assert new.set_level["FID"] == pytest.approx(0, abs=1e-6)
    assert new.set_level["FVD"].startswith("n/a: 0 generated clips of 16 frames")  # 4 targets: no clip
