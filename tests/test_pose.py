import numpy as np
import pytest
import torch

from dreampose.data.pose import (
    check_pose_maps,
    iuv_to_uv,
    pose_maps,
    pose_window,
    pose_windows,
    window_indices,
)
from dreampose.data.video import DataError


def test_window_indices_replace_missing_neighbours_by_the_frame_itself():
    assert window_indices(0, 10, 5) == [0, 0, 0, 1, 2]
    assert window_indices(1, 10, 5) == [1, 0, 1, 2, 3]
    assert window_indices(5, 10, 5) == [3, 4, 5, 6, 7]
    assert window_indices(9, 10, 5) == [7, 8, 9, 9, 9]
    assert window_indices(0, 1, 5) == [0, 0, 0, 0, 0]
    assert window_indices(4, 10, 1) == [4]
    with pytest.raises(ValueError):
        window_indices(0, 10, 4)
    with pytest.raises(IndexError):
        window_indices(10, 10, 5)


def test_uv_normalisation_is_2u_minus_1_and_background_minus_1():
    iuv = np.zeros((1, 2, 2, 3), np.uint8)
    iuv[0, 0, 0] = (2, 255, 0)
    iuv[0, 1, 1] = (5, 51, 204)
    uv = iuv_to_uv(iuv)
    assert uv.shape == (1, 2, 2, 2)
    assert torch.allclose(uv[0, :, 0, 0], torch.tensor([1.0, -1.0]))
    assert torch.allclose(uv[0, :, 1, 1], torch.tensor([0.2 * 2 - 1, 0.8 * 2 - 1]))
    assert torch.all(uv[0, :, 0, 1] == -1)


def test_pose_windows_stack_uv_of_the_window():
    t = 6
    iuv = np.zeros((t, 8, 8, 3), np.uint8)
    for i in range(t):
        iuv[i, ..., 1] = 10 * i  # U encodes the frame index
    uv = pose_maps(iuv, size=(4, 4))
    assert uv.shape == (t, 2, 4, 4)
    w = pose_window(uv, 0, 5)
    assert w.shape == (10, 4, 4)
    frames = [round(((w[2 * k, 0, 0].item() + 1) / 2 * 255) / 10) for k in range(5)]
    assert frames == [0, 0, 0, 1, 2]
    all_w = pose_windows(uv, 5)
    assert all_w.shape == (t, 10, 4, 4) and torch.equal(all_w[3], pose_window(uv, 3, 5))
    assert torch.equal(pose_windows(uv, 1), uv)


@pytest.mark.parametrize(
    "bad, word",
    [
        (torch.zeros(3, 3, 8, 8), "(T, 2, H, W)"),
        (torch.zeros(0, 2, 8, 8), "empty"),
        (torch.zeros(3, 2, 8, 8, dtype=torch.uint8), "floating"),
        (torch.full((3, 2, 8, 8), 2.0), "[-1, 1]"),
        (np.zeros((3, 2, 8, 8)), "torch tensor"),
    ],
)
def test_bad_pose_maps(bad, word):
    with pytest.raises(DataError) as err:
        check_pose_maps(bad)
    assert word in str(err.value)


def test_iuv_must_be_uint8_with_3_channels():
    with pytest.raises(DataError, match="uint8"):
        iuv_to_uv(np.zeros((2, 4, 4, 3), np.float32))
