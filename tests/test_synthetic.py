"""The synthetic world: determinism, exact IUV, textures that stick to the surface, cloth dynamics."""
import dataclasses

import numpy as np
import pytest

from dreampose.data.garments import Texture, random_outfit
from dreampose.data.synthetic import random_subject, render_video, with_dynamics
from dreampose.data.world import synthetic_video

BACKGROUND = np.round(np.array([0.93, 0.93, 0.91]) * 255).astype(np.uint8)


def _video(seed=0, index=0, size=48, seconds=0.5):
    return synthetic_video(seed, "train", index, size, size, 30, seconds, seconds)


def _still(yaw, n=1, sway=0.0):
    """A pose sequence with fixed arms: yaw per frame given, everything else constant."""
    yaw = np.asarray(yaw, float) * np.ones(n)
    const = lambda v: np.full((len(yaw), 2), v)  # noqa: E731
    return with_dynamics(yaw, np.full(len(yaw), sway), const(0.0), const(0.3), const(0.2), 30)


def _subject(garment="dress", top=None, seed=0, long_hair=False):
    rng = np.random.default_rng(seed)
    s = random_subject(rng)
    while s.outfit.garment != garment:
        s = random_subject(rng)
    outfit = s.outfit if top is None else dataclasses.replace(s.outfit, top_front=top)
    return dataclasses.replace(s, outfit=outfit, long_hair=long_hair)


def test_same_seed_same_bytes_other_seed_differs():
    a, b, c = _video(0), _video(0), _video(1)
    assert a.frames.tobytes() == b.frames.tobytes() and a.iuv.tobytes() == b.iuv.tobytes()
    assert a.caption == b.caption and a.meta == b.meta
    assert a.frames.tobytes() != c.frames.tobytes()


def test_iuv_marks_exactly_the_figure():
    v = _video(size=64)
    part = v.iuv[..., 0]
    assert part.max() <= 24 and (part > 0).any()
    assert ((v.iuv[..., 1] == 0) & (v.iuv[..., 2] == 0))[part == 0].all()  # background U = V = 0
    # away from edges (3x3 neighbourhood of one kind), background pixels are background colour
    # and figure pixels are not
    pad = np.pad(part > 0, ((0, 0), (1, 1), (1, 1)), mode="edge")
    neigh = sum(pad[:, 1 + dy: 1 + dy + 64, 1 + dx: 1 + dx + 64] for dy in (-1, 0, 1) for dx in (-1, 0, 1))
    pure_bg, pure_fg = neigh == 0, neigh == 9
    assert (v.frames[pure_bg] == BACKGROUND).all()
    assert (np.abs(v.frames[pure_fg].astype(int) - BACKGROUND).sum(-1) > 0).mean() > 0.99


def test_all_parts_appear_over_a_turn():
    subject = _subject("trousers")
    _, iuv = render_video(subject, _still(np.linspace(0, 2 * np.pi, 24), 24), 64, 64)
    assert set(np.unique(iuv[..., 0])) == set(range(25))


def test_texture_sticks_to_the_surface_as_the_body_turns():
    """A garment point keeps its (I, U, V): the checked pattern seen at a UV is the same at two yaws."""
    checks = Texture("checked", "red", "blue", 0.05, 0.0)
    subject = _subject("trousers", top=checks)
    frames, iuv = render_video(subject, _still([0.0, 0.7], 2), 256, 256)
    votes = []
    for f in range(2):
        torso = iuv[f, ..., 0] == 2
        red = frames[f, ..., 0].astype(int) > frames[f, ..., 2].astype(int)
        grid = {}
        for u, v, r in zip(iuv[f, ..., 1][torso] // 8, iuv[f, ..., 2][torso] // 8, red[torso]):
            grid.setdefault((u, v), []).append(r)
        votes.append({k: np.mean(x) for k, x in grid.items() if len(x) >= 3 and min(np.mean(x), 1 - np.mean(x)) < 0.2})
    shared = set(votes[0]) & set(votes[1])
    assert len(shared) > 50
    agree = np.mean([round(votes[0][k]) == round(votes[1][k]) for k in shared])
    assert agree > 0.9


def _feature_pixels(frames, iuv):
    f = frames.astype(int)
    head = (iuv[..., 0] == 23) | (iuv[..., 0] == 24)
    return (head & (f[..., 2] > 2 * f[..., 0])).sum()


def test_face_marker_only_from_the_front():
    subject = _subject("dress")
    frames, iuv = render_video(subject, _still([0.0, np.pi], 2), 256, 256)
    assert _feature_pixels(frames[0], iuv[0]) > 20
    assert _feature_pixels(frames[1], iuv[1]) == 0


def test_back_texture_differs_from_front():
    for i in range(50):
        o = random_outfit(np.random.default_rng(i))
        assert vars(o.top_front) != vars(o.top_back)


def test_cloth_depends_on_the_neighbouring_poses():
    """Same pose (yaw) reached while turning one way, then the other: the skirt differs, the
    body (trousers, short hair: no cloth dynamics) does not."""
    yaw = np.concatenate([np.linspace(0, 1.2, 30), np.linspace(1.2, 0, 30)[1:]])
    i, j = 15, len(yaw) - 1 - 15  # the same yaw, opposite turning direction
    assert yaw[i] == pytest.approx(yaw[j])
    motion = _still(yaw, len(yaw))
    _, skirt = render_video(_subject("dress"), motion, 64, 64)
    _, trousers = render_video(_subject("trousers"), motion, 64, 64)
    assert (skirt[i, ..., 0] != skirt[j, ..., 0]).sum() >= 8  # pixels whose part changed
    assert (trousers[i] == trousers[j]).all()


def test_render_is_consistent_across_resolutions():
    subject = _subject("skirt")
    motion = _still([0.4], 1)
    _, small = render_video(subject, motion, 32, 32)
    _, large = render_video(subject, motion, 128, 128)
    # the centre of a 32-px pixel falls between large pixels 4k+1 and 4k+2
    agree = (small[0, ..., 0] == large[0, 1::4, 1::4, 0]).mean()
    assert agree > 0.93


def test_caption_describes_the_front_garment():
    v = _video(3)
    words = v.meta["top_front"]["colour"]
    assert v.caption.startswith("a person in") and words in v.caption
    assert v.meta["garment"] in v.caption or ("top" in v.caption)
    assert len(v.meta["yaw"]) == len(v)
