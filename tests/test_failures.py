"""Finding failure cases: views from DensePose, limb visibility, per-frame survey of a method."""
import numpy as np
import pytest

from dreampose.cache import Cache
from dreampose.config import load_profile
from dreampose.data.video import Video
from dreampose.data.world import load_world, view_of
from dreampose.evaluate import failures
from dreampose.evaluate.baselines import copy_input, texture_transfer
from dreampose.evaluate.metrics import l1
from dreampose.evaluate.protocol import Result


def torso(back: int, front: int) -> np.ndarray:
    iuv = np.zeros((1, 10, 10, 3), np.uint8)
    iuv[0].reshape(-1, 3)[:back, 0] = failures.TORSO_BACK
    iuv[0].reshape(-1, 3)[back:back + front, 0] = failures.TORSO_FRONT
    return iuv


def test_facing_from_the_torso_halves():
    assert failures.facing(torso(20, 0)) == ["back"]
    assert failures.facing(torso(0, 20)) == ["front"]
    assert failures.facing(torso(10, 10)) == ["side"]
    assert failures.facing(torso(0, 0)) == ["side"]  # no torso visible: undecided
    assert failures.facing(np.concatenate([torso(20, 1), torso(1, 20)])) == ["back", "front"]


@pytest.fixture(scope="module")
def smoke():
    profile = load_profile("smoke")
    return profile, load_world(profile, Cache(), progress=False)


def test_facing_never_contradicts_the_world_yaw(smoke):
    _, world = smoke
    for video in world.train + world.test:
        truth = [view_of(y) for y in video.meta["yaw"]]
        guess = failures.facing(video.iuv)
        assert not any({a, b} == {"front", "back"} for a, b in zip(truth, guess)), video.name


def test_views_use_the_yaw_when_known_and_densepose_otherwise(smoke):
    _, world = smoke
    video = world.test[0]
    idx = list(range(len(video)))
    assert failures.views(video, idx) == [view_of(y) for y in video.meta["yaw"]]
    bare = Video("ubc", video.frames, video.iuv)
    assert failures.views(bare, idx) == failures.facing(video.iuv)


def test_limb_visibility_and_region_l1():
    iuv = np.zeros((3, 4, 4, 3), np.uint8)
    iuv[0, :2, :2, 0] = 15
    iuv[1, :1, :2, 0] = 3
    vis = failures.limb_visibility(iuv)
    assert vis.tolist() == [1.0, 0.5, 0.0]
    assert failures.limb_visibility(np.zeros_like(iuv)).tolist() == [1.0, 1.0, 1.0]
    a = np.zeros((2, 4, 4, 3), np.uint8)
    b = a.copy()
    b[0, 0, 0] = 255
    mask = np.zeros((2, 4, 4), bool)
    mask[0, 0, :2] = True
    out = failures.region_l1(a, b, mask)
    assert out[0] == pytest.approx(0.5) and np.isnan(out[1])


def test_pattern_of():
    def video(top, bottom):
        return Video("v", np.zeros((1, 2, 2, 3), np.uint8), np.zeros((1, 2, 2, 3), np.uint8),
                     meta={"top_front": {"kind": top}, "bottom_front": {"kind": bottom}})

    assert failures.pattern_of(video("solid", "solid")) == "solid"
    assert failures.pattern_of(video("solid", "striped")) == "striped"
    assert failures.pattern_of(Video("v", np.zeros((1, 2, 2, 3), np.uint8), np.zeros((1, 2, 2, 3), np.uint8))) \
        == "unknown"


def test_survey_scores_every_target_frame_and_picks_distinct_failures(smoke):
    profile, world = smoke
    s = failures.survey(texture_transfer, world.test, profile, "texture")
    n = profile.eval.n_frames
    assert len(s.rows) == n * len(world.test)
    row = s.rows[0]
    video = s.videos[row["video"]]
    expected = l1(s.generated[row["video"]][:1], video.frames[[row["frame"]]])[0]
    assert row["L1"] == pytest.approx(expected, abs=1e-6)
    worst = s.worst("L1", 2)
    assert worst[0]["L1"] >= worst[1]["L1"] >= min(r["L1"] for r in s.rows)
    assert s.worst("SSIM", 1)[0]["SSIM"] == min(r["SSIM"] for r in s.rows)  # lower SSIM is worse
    cases = s.failures()
    assert cases and cases[0].reason.startswith("worst L1")
    assert len({(c.video, c.frame) for c in cases}) == len(cases)
    for c in cases:
        assert c.generated.shape == c.truth.shape == c.iuv.shape
    summary = failures.summarise(s)
    assert summary["frames"] == len(s.rows)
    groups = s.groups("view", "L1")
    assert sum(len(v) for v in groups.values()) == len(s.rows)


def test_copying_the_input_has_its_worst_frames_where_the_pose_differs(smoke):
    profile, world = smoke
    s = failures.survey(copy_input, world.test[:1], profile)
    assert all(np.array_equal(g, s.videos[r["video"]].frames[r["input"]])
               for r in s.rows for g in [s.generated[r["video"]][r["position"]]])


def test_pattern_groups():
    per_video = {"a": {"flicker": 0.1}, "b": {"flicker": 0.3}, "c": {"flicker": 0.2}}
    result = Result("x", ["flicker"], per_video, {})
    meta = {"a": ("solid", "solid"), "b": ("printed", "solid"), "c": ("dotted", "dotted")}
    videos = [Video(k, np.zeros((1, 2, 2, 3), np.uint8), np.zeros((1, 2, 2, 3), np.uint8),
                    meta={"top_front": {"kind": t}, "bottom_front": {"kind": b}}) for k, (t, b) in meta.items()]
    groups = failures.pattern_groups(result, videos)
    assert list(groups) == ["solid", "patterned"]
    assert groups["solid"].tolist() == [0.1] and sorted(groups["patterned"].tolist()) == [0.2, 0.3]


def test_failures_prefer_videos_not_shown_yet():
    blank = np.zeros((3, 4, 4, 3), np.uint8)
    videos = {n: Video(n, blank, blank) for n in ("a", "b")}

    def row(video, frame, l1, view):
        return {"video": video, "frame": frame, "position": frame, "input": 0, "L1": l1, "SSIM": 0.5,
                "arm L1": float("nan"), "view": view, "limb visibility": 1.0, "pattern": "solid"}

    rows = [row("a", 1, 0.9, "back"), row("a", 2, 0.8, "back"), row("b", 1, 0.5, "back"), row("b", 2, 0.1, "front")]
    s = failures.Survey("x", rows, {n: blank for n in videos}, videos)
    cases = s.failures(k=1)
    assert [(c.video, c.frame) for c in cases] == [("a", 1), ("b", 1)]  # b's back view beats a's second frame
    assert cases[1].reason == "back-facing: L1 0.500"
    assert [(c.video, c.frame) for c in s.failures(k=2)] == [("a", 1), ("a", 2), ("b", 1)]  # no frame twice
