"""The DensePose error model: invariants, determinism, each error at its size, flicker, the world's switch."""
import dataclasses

import numpy as np
import pytest

from dreampose.config import load_profile
from dreampose.data import world as world_mod
from dreampose.data.pose_errors import MISSABLE, PoseErrors, body_height_px, estimate, flip_share
from dreampose.data.synthetic import random_motion, random_subject, render_video, with_dynamics
from dreampose.data.world import make_world, synthetic_video, validation_videos
from dreampose.settings import ConfigError

NONE = PoseErrors(boundary_cm=0.0, uv_error=0.0, box_offset=0.0, box_scale=0.0, missing_share=0.0)


def only(**sizes) -> PoseErrors:
    """No error but the named ones; errors independent over frames."""
    return dataclasses.replace(NONE, frame_correlation=0.0, **sizes)


def two_parts(t=40, size=48):
    """A centred block 40 px tall and 28 wide: its left half part 1, its right half part 2, U = V = 128."""
    iuv = np.zeros((t, size, size, 3), np.uint8)
    top, left = (size - 40) // 2, (size - 28) // 2
    iuv[:, top:top + 40, left:left + 14, 0] = 1
    iuv[:, top:top + 40, left + 14:left + 28, 0] = 2
    iuv[:, top:top + 40, left:left + 28, 1:] = 128
    return iuv


def edge_distance(labels: np.ndarray, cap: int = 3) -> np.ndarray:
    """Chebyshev distance in pixels (1, 2, ..., cap) from each pixel to the nearest pixel of
    another label: 1 for pixels with a differently labelled 8-neighbour."""
    h, w = labels.shape[1:]
    dist = np.full(labels.shape, cap)
    pad = np.pad(labels, ((0, 0), (cap, cap), (cap, cap)), mode="edge")
    for r in range(cap - 1, 0, -1):
        for dy in range(-r, r + 1):
            for dx in range(-r, r + 1):
                dist[pad[:, cap + dy:cap + dy + h, cap + dx:cap + dx + w] != labels] = r
    return dist


def test_no_error_is_the_identity_and_the_rest_keeps_the_iuv_convention():
    video = synthetic_video(0, "train", 0, 32, 32, 30, 0.3, 0.3)
    assert np.array_equal(estimate(video.iuv, np.random.default_rng(0), NONE), video.iuv)
    est = estimate(video.iuv, np.random.default_rng(0))
    assert est.shape == video.iuv.shape and est.dtype == np.uint8
    assert est[..., 0].max() <= 24 and not est[..., 1:][est[..., 0] == 0].any()
    assert not np.array_equal(est, video.iuv)
    nobody = np.zeros((3, 8, 8, 3), np.uint8)
    assert np.array_equal(estimate(nobody, np.random.default_rng(0)), nobody)


def test_same_seed_same_estimate_other_seed_differs():
    iuv = synthetic_video(0, "train", 1, 32, 32, 30, 0.3, 0.3).iuv
    a, b, c = (estimate(iuv, np.random.default_rng(s)) for s in (5, 5, 6))
    assert a.tobytes() == b.tobytes() and a.tobytes() != c.tobytes()


def test_body_height_is_the_silhouettes_row_extent():
    assert body_height_px(two_parts()) == 40 and body_height_px(np.zeros((2, 4, 4, 3), np.uint8)) == 0


def test_boundary_noise_flips_labels_along_edges_only():
    iuv = two_parts()
    sigma_px = 0.8
    errors = only(boundary_cm=sigma_px * 170 / 40, boundary_length_cm=12.0)
    est = estimate(iuv, np.random.default_rng(1), errors)
    dist = edge_distance(iuv[..., 0])
    flipped = est[..., 0] != iuv[..., 0]
    # along an edge a pixel flips when the displacement across it passes half a pixel
    assert flip_share(sigma_px) == pytest.approx(0.266, abs=0.001)
    assert flipped[dist == 1].mean() == pytest.approx(flip_share(sigma_px), abs=0.06)
    assert 0 < flipped[dist == 2].mean() < flipped[dist == 1].mean() / 4
    # displacements are clipped at 2 sigma = 1.6 px: nothing changes 3 px or more from an edge
    assert np.array_equal(est[dist >= 3], iuv[dist >= 3])
    # background <-> body both ways: the silhouette erodes and dilates
    assert ((iuv[..., 0] == 0) & (est[..., 0] > 0)).any() and ((iuv[..., 0] > 0) & (est[..., 0] == 0)).any()
    # in runs along the edge, not salt and pepper: a flipped edge pixel's neighbour along the
    # edge (the next row of the part edge at column 23/24) is flipped far more often than average
    col = flipped[:, 5:43, 23]  # the last column of part 1
    assert (col[:, 1:] & col[:, :-1]).sum() / col[:, :-1].sum() > 2 * col.mean()


def test_uv_jitter_is_smooth_and_of_the_given_size():
    iuv = two_parts()
    est = estimate(iuv, np.random.default_rng(2), only(uv_error=0.05))
    assert np.array_equal(est[..., 0], iuv[..., 0])
    body = iuv[..., 0] > 0
    du = (est[..., 1].astype(float) - iuv[..., 1]) / 255
    dv = (est[..., 2].astype(float) - iuv[..., 2]) / 255
    assert np.abs(du[body]).mean() == pytest.approx(0.05, rel=0.15)
    assert np.abs(dv[body]).mean() == pytest.approx(0.05, rel=0.15)
    step = np.abs(np.diff(du[:, 4:44, 10:38], axis=2)).mean()  # neighbouring pixels: low frequency
    assert step < 0.2 * np.abs(du[body]).mean()
    assert not est[..., 1:][~body].any()


def test_box_jitter_moves_the_centroid_and_scales_the_body():
    iuv = two_parts(t=300, size=64)
    est = estimate(iuv, np.random.default_rng(3), only(box_offset=0.05))
    ys, xs = np.arange(64)[None, :, None], np.arange(64)[None, None, :]

    def centroid(a):
        fg = a[..., 0] > 0
        return (fg * ys).sum(axis=(1, 2)) / fg.sum(axis=(1, 2)), (fg * xs).sum(axis=(1, 2)) / fg.sum(axis=(1, 2))

    (y0, x0), (y1, x1) = centroid(iuv), centroid(est)
    assert np.std(y1 - y0) == pytest.approx(0.05 * 40, rel=0.15) and np.std(x1 - x0) == pytest.approx(2.0, rel=0.15)
    assert np.array_equal(est[..., 1:][est[..., 0] > 0], np.full(((est[..., 0] > 0).sum(), 2), 128))
    scaled = estimate(iuv, np.random.default_rng(4), only(box_scale=0.1))
    height = (scaled[..., 0] > 0).any(axis=2).sum(axis=1)
    assert np.std(np.log(height / 40)) == pytest.approx(0.1, rel=0.25)


def with_every_missable_part(t: int) -> np.ndarray:
    iuv = np.zeros((t, 24, 24, 3), np.uint8)
    iuv[:, 2:22, 2:6, 0] = 2  # torso
    for k, part in enumerate(sorted({p for parts in MISSABLE for p in parts})):
        iuv[:, 2 + 2 * k:4 + 2 * k, 10:14, 0] = part
    iuv[..., 1:] = np.where(iuv[..., :1] > 0, 100, 0)
    return iuv


def present(iuv: np.ndarray, part: int) -> np.ndarray:
    return (iuv[..., 0] == part).any(axis=(1, 2))


def test_missing_parts_come_in_runs_of_the_given_share_and_length():
    iuv = with_every_missable_part(600)
    none = estimate(iuv, np.random.default_rng(5), only(missing_share=0.0))
    assert np.array_equal(none, iuv)
    every = estimate(iuv, np.random.default_rng(5), only(missing_share=1.0))
    assert present(every, 2).all() and not any(present(every, p).any() for parts in MISSABLE for p in parts)
    some = estimate(iuv, np.random.default_rng(5), only(missing_share=0.3, missing_frames=5.0))
    gone = ~present(some, 22)  # right lower arm front: missing only with its whole group
    assert gone.mean() == pytest.approx(0.3, abs=0.1)
    runs = np.diff(np.flatnonzero(np.diff(np.r_[0, gone.astype(int), 0])))[::2]
    assert runs.mean() == pytest.approx(5.0, rel=0.3)
    assert present(some, 2).all()


def test_flicker_on_a_static_pose_grows_as_the_frame_correlation_falls():
    subject = random_subject(np.random.default_rng(0))
    n = 24
    const = lambda v: np.full((n, 2), v)  # noqa: E731
    _, iuv = render_video(subject, with_dynamics(np.zeros(n), np.zeros(n), const(0.0), const(0.3), const(0.2), 30),
                          48, 48)
    assert not np.diff(iuv.astype(int), axis=0).any()  # a still body: exact IUV does not change

    def flicker(rho):
        est = estimate(iuv, np.random.default_rng(6), dataclasses.replace(PoseErrors(), frame_correlation=rho))
        return (np.diff(est[..., 0].astype(int), axis=0) != 0).mean()

    independent, weak, strong = flicker(0.0), flicker(0.5), flicker(0.9)
    assert independent > weak > strong > 0


def test_the_world_switch_changes_the_iuv_only():
    exact = synthetic_video(0, "test", 2, 32, 32, 30, 0.3, 0.3)
    estimated = synthetic_video(0, "test", 2, 32, 32, 30, 0.3, 0.3, "densepose")
    rng = np.random.default_rng([0, 1, 2])  # the exact world as rendered before the switch existed
    subject = random_subject(rng)
    n_frames = int(round(rng.uniform(0.3, 0.3) * 30))
    frames, iuv = render_video(subject, random_motion(rng, n_frames, 30), 32, 32)
    assert np.array_equal(exact.iuv, iuv) and np.array_equal(exact.frames, frames)
    assert np.array_equal(estimated.frames, frames) and not np.array_equal(estimated.iuv, iuv)
    assert (estimated.caption, estimated.meta, estimated.name) == (exact.caption, exact.meta, exact.name)
    assert np.array_equal(estimated.iuv, estimate(iuv, np.random.default_rng([0, 1, 2, 1])))


def test_the_profile_key_reaches_every_video(monkeypatch):
    profile = load_profile("smoke", ["data.n_train_videos=1", "data.n_test_videos=1", "data.max_seconds=0.5",
                                     "data.pose_estimate=densepose"])
    assert load_profile("smoke").data.pose_estimate == "exact"
    assert profile.stage_hash("data") != load_profile("smoke", ["data.n_train_videos=1", "data.n_test_videos=1",
                                                                 "data.max_seconds=0.5"]).stage_hash("data")
    monkeypatch.setattr(world_mod.os, "cpu_count", lambda: 1)  # render in this process
    world = make_world(profile, progress=False)
    for video in world.train + world.test + validation_videos(profile, 1):
        exact = synthetic_video(0, video.meta["split"], 0, 32, 32, 30, 0.5, 0.5)
        assert np.array_equal(video.frames, exact.frames) and not np.array_equal(video.iuv, exact.iuv)
    with pytest.raises(ConfigError, match="pose_estimate"):
        load_profile("paper", ["data.pose_estimate=densepose"])
