"""Fitting pictures and their poses to the model's frame (dreampose.data.fit)."""
import numpy as np
import pytest

from dreampose.data.fit import fit_box, fit_frame, fit_iuv
from dreampose.data.pose import as_iuv, iuv_to_uv, read_pose_sequence, resample_fps
from dreampose.data.video import DataError


def portrait():
    """A 300x500 (w x h) photo: grey studio background, a white 'person' box; and its IUV."""
    img = np.full((500, 300, 3), 90, np.uint8)
    img[100:450, 100:200] = 255
    iuv = np.zeros((500, 300, 3), np.uint8)
    iuv[100:450, 100:200] = (2, 128, 64)
    return img, iuv


def test_boxes_of_each_fit():
    assert fit_box((500, 300), (32, 32), "pad", "p") == (0, -100, 500, 500)
    assert fit_box((500, 300), (32, 32), "center_crop", "p") == (100, 0, 300, 300)
    assert fit_box((300, 500), (32, 32), "pad", "p") == (-100, 0, 500, 500)
    assert fit_box((64, 64), (32, 32), "error", "p") == (0, 0, 64, 64)  # same aspect: the whole frame
    with pytest.raises(DataError, match="fit='center_crop' or 'pad'"):
        fit_box((500, 300), (32, 32), "error", "clip.mp4")
    with pytest.raises(DataError, match="fit must be one of"):
        fit_box((500, 300), (32, 32), "stretch", "p")


@pytest.mark.parametrize("fit", ["pad", "center_crop"])
def test_the_picture_and_its_pose_stay_aligned(fit):
    img, iuv = portrait()
    box = fit_box(img.shape[:2], (32, 32), fit, "p")
    frame, pose = fit_frame(img, box, (32, 32)), fit_iuv(iuv, box, (32, 32))
    assert frame.shape == pose.shape == (32, 32, 3)
    person, body = frame[..., 0] > 170, pose[..., 0] == 2
    assert (person & body).sum() / (person | body).sum() > 0.8
    assert set(np.unique(pose[..., 0])) <= {0, 2}  # nearest neighbour: part indices never blend


def test_pad_keeps_the_whole_person_with_the_border_colour():
    img, iuv = portrait()
    box = fit_box(img.shape[:2], (32, 32), "pad", "p")
    frame, pose = fit_frame(img, box, (32, 32)), fit_iuv(iuv, box, (32, 32))
    assert (frame[:, :4] == 90).all() and (frame[:, -4:] == 90).all()  # the margins: the studio grey
    assert (pose[:, :6] == 0).all()  # background in the IUV
    assert (pose[..., 0] == 2).sum() == pytest.approx(32 * 32 * (350 * 100) / (500 * 500), rel=0.2)


def test_crop_cuts_the_edges():
    img, iuv = portrait()
    box = fit_box(img.shape[:2], (32, 32), "center_crop", "p")
    pose = fit_iuv(iuv, box, (32, 32))
    assert pose[-1, 16, 0] == 2 and pose[0, 16, 0] == 2  # the box runs through both crop edges


def test_uv_maps_as_iuv_round_trip_to_8_bits():
    uv = np.random.default_rng(0).uniform(-1, 1, (3, 2, 8, 8)).astype(np.float32)
    uv[:, :, :2] = -1  # background rows
    iuv = as_iuv(uv)
    assert iuv.dtype == np.uint8 and (iuv[:, :2, :, 0] == 0).all() and (iuv[:, 2:, :, 0] == 1).all()
    assert np.abs(iuv_to_uv(iuv).numpy() - uv).max() <= 1 / 255 + 1e-6


def test_resample_fps_keeps_the_duration():
    assert resample_fps(10, 60, 30) == [0, 2, 4, 6, 8]
    assert resample_fps(5, 30, 30) == [0, 1, 2, 3, 4]
    assert len(resample_fps(4, 15, 30)) == 8


def test_numbered_pose_folders_may_start_anywhere_but_not_skip(tmp_path):
    from PIL import Image

    for name in ("frame_1.png", "frame_2.png", "frame_3.png"):
        Image.fromarray(np.zeros((4, 4, 3), np.uint8)).save(tmp_path / name)
    assert len(read_pose_sequence(tmp_path)) == 3
    (tmp_path / "frame_2.png").unlink()
    with pytest.raises(DataError, match="skips frame_2.png"):
        read_pose_sequence(tmp_path)
    (tmp_path / "00007.png").write_bytes((tmp_path / "frame_1.png").read_bytes())  # two series: no numbering check
    assert len(read_pose_sequence(tmp_path)) == 3
