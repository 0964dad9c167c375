"""Baselines: copy-input and DensePose texture transfer on cases with a known answer."""
import numpy as np
import pytest

from dreampose.data.video import DataError, Video
from dreampose.evaluate.baselines import background_colour, copy_input, texture_transfer, texture_transfer_frames


def colour_of(iuv):
    """A colour that is a function of (I, U, V) only."""
    i, u, v = (iuv[..., k].astype(np.int64) for k in range(3))
    return np.stack([(i * 37 + u) % 256, (u * 3 + v) % 256, (v * 7 + i * 11) % 256], -1).astype(np.uint8)


def random_iuv(rng, shape, parts=(1, 2, 3)):
    iuv = np.zeros((*shape, 3), np.uint8)
    iuv[..., 0] = rng.choice((0,) + parts, shape)
    iuv[..., 1:] = rng.integers(0, 32, (*shape, 2)) * 8  # a coarse UV grid so cells repeat
    iuv[iuv[..., 0] == 0] = 0
    return iuv


def test_copy_input_returns_the_input_frame():
    rng = np.random.default_rng(0)
    frames = rng.integers(0, 256, (10, 8, 8, 3), dtype=np.uint8)
    out = copy_input(Video("v", frames, np.zeros_like(frames)), 2, [5, 6, 7])
    assert out.shape == (3, 8, 8, 3) and out.dtype == np.uint8
    assert all(np.array_equal(f, frames[2]) for f in out)


def test_texture_transfer_reproduces_target_where_input_covers_its_uvs():
    rng = np.random.default_rng(1)
    iuv = random_iuv(rng, (20, 48, 48))
    frames = colour_of(iuv)
    frames[iuv[..., 0] == 0] = (9, 99, 199)  # plain background
    v = Video("v", frames, iuv)
    out = texture_transfer(v, 0, list(range(1, 20)))
    target = iuv[1:]
    in_cells = {tuple(c) for c in iuv[0][iuv[0][..., 0] > 0]}
    covered = np.array([tuple(c) in in_cells for c in target.reshape(-1, 3)]).reshape(target.shape[:-1])
    covered &= target[..., 0] > 0
    assert covered.mean() > 0.25  # the check is not vacuous
    assert np.array_equal(out[covered], frames[1:][covered])
    bg = target[..., 0] == 0
    assert (out[bg] == (9, 99, 199)).all()
    # elsewhere: the colour of an input cell of the same part at the smallest UV distance (brute force)
    cells = np.array(sorted(in_cells), dtype=np.int64)
    missing = ~covered & ~bg
    assert missing.any()
    for (i, u, v), got in zip(target[missing].astype(np.int64), out[missing]):
        pool = cells[cells[:, 0] == i]
        d = ((pool[:, 1:] - (u, v)) ** 2).sum(1)
        nearest = {tuple(c) for c in colour_of(pool[d == d.min()].astype(np.uint8)[None])[0]}
        assert tuple(got) in nearest


def test_nearest_uv_same_part_then_any_part_and_averaging():
    iuv = np.zeros((4, 4, 3), np.uint8)
    frame = np.full((4, 4, 3), 50, np.uint8)  # background median -> 50
    iuv[0, 0], frame[0, 0] = (3, 10, 10), (200, 0, 0)
    iuv[0, 1], frame[0, 1] = (3, 100, 100), (0, 200, 0)
    iuv[0, 2], frame[0, 2] = (3, 100, 100), (0, 100, 0)  # same cell: averaged to (0, 150, 0)
    iuv[0, 3], frame[0, 3] = (4, 0, 0), (0, 0, 255)
    target = np.zeros((1, 2, 3, 3), np.uint8)
    target[0, 0, 0] = (3, 20, 15)  # nearest in part 3: (10, 10)
    target[0, 0, 1] = (3, 90, 120)  # nearest in part 3: (100, 100)
    target[0, 0, 2] = (4, 200, 200)  # the only part-4 cell, although part 3 is nearer in UV
    target[0, 1, 0] = (7, 95, 101)  # part 7 unseen: nearest over all parts -> (3, 100, 100)
    out = texture_transfer_frames(frame, iuv, target)
    assert out[0, 0, 0].tolist() == [200, 0, 0]
    assert out[0, 0, 1].tolist() == [0, 150, 0]
    assert out[0, 0, 2].tolist() == [0, 0, 255]
    assert out[0, 1, 0].tolist() == [0, 150, 0]
    assert out[0, 1, 1].tolist() == [50, 50, 50] == background_colour(frame, iuv).tolist()


def test_texture_transfer_edge_cases():
    frame = np.full((4, 4, 3), 7, np.uint8)
    empty = np.zeros((4, 4, 3), np.uint8)
    target = np.zeros((2, 4, 4, 3), np.uint8)
    target[:, 1, 1] = (2, 5, 5)
    assert (texture_transfer_frames(frame, empty, target) == 7).all()  # nobody in the input: background
    with pytest.raises(DataError, match="equal shape"):
        texture_transfer_frames(frame, empty[:2], target)
