import numpy as np
import pytest
from PIL import Image

from dreampose.config import load_profile
from dreampose.data.ubc import iuv_from_densepose_result, read_ubc, write_ubc_video
from dreampose.data.video import DataError, Video
from dreampose.data.world import synthetic_video


@pytest.fixture(scope="module")
def video():
    return synthetic_video(0, "test", 0, 32, 32, 30, 0.3, 0.3)


def test_round_trip(tmp_path, video):
    write_ubc_video(tmp_path, "test", video)
    (back,) = read_ubc(tmp_path, "test", 32, 32)
    assert back.name == video.name and back.caption == video.caption and len(back) == len(video)
    assert np.array_equal(back.iuv, video.iuv)
    assert np.abs(back.frames.astype(int) - video.frames.astype(int)).mean() < 6  # mp4 is lossy


def test_resize_keeps_part_indices_exact(tmp_path, video):
    write_ubc_video(tmp_path, "train", video)
    (small,) = read_ubc(tmp_path, "train", 16, 16)
    assert small.size == (16, 16)
    assert set(np.unique(small.iuv[..., 0])) <= set(np.unique(video.iuv[..., 0]))


def test_profile_reads_ubc_layout(tmp_path, video):
    from dreampose.data.world import load_world

    write_ubc_video(tmp_path, "train", video)
    write_ubc_video(tmp_path, "test", video)
    p = load_profile("smoke", [f"data.source=ubc", f"data.root={tmp_path}"])
    world = load_world(p)
    assert len(world.train) == len(world.test) == 1


def test_missing_pose_file(tmp_path, video):
    write_ubc_video(tmp_path, "test", video)
    (tmp_path / "test_densepose" / video.name / "00003.png").unlink()
    with pytest.raises(DataError, match="00003.png"):
        read_ubc(tmp_path, "test", 32, 32)


def test_mismatched_frame_count(tmp_path, video):
    write_ubc_video(tmp_path, "test", video)
    Image.fromarray(video.iuv[0]).save(tmp_path / "test_densepose" / video.name / f"{len(video):05d}.png")
    with pytest.raises(DataError, match=f"{len(video)} frames but .* {len(video) + 1} IUV files"):
        read_ubc(tmp_path, "test", 32, 32)


def test_unreadable_video(tmp_path, video):
    write_ubc_video(tmp_path, "test", video)
    (tmp_path / "test" / f"{video.name}.mp4").write_bytes(b"not a video")
    with pytest.raises(DataError, match=f"{video.name}.mp4"):
        read_ubc(tmp_path, "test", 32, 32)


def test_wrong_aspect_ratio(tmp_path, video):
    write_ubc_video(tmp_path, "test", video)
    with pytest.raises(DataError, match="aspect"):
        read_ubc(tmp_path, "test", 32, 40)


def test_plain_picture_as_pose(tmp_path, video):
    write_ubc_video(tmp_path, "test", video)
    Image.fromarray(np.full((32, 32, 3), 200, np.uint8)).save(tmp_path / "test_densepose" / video.name / "00000.png")
    with pytest.raises(DataError, match="not a DensePose IUV"):
        read_ubc(tmp_path, "test", 32, 32)


def test_missing_folder(tmp_path):
    with pytest.raises(DataError, match="docs/ubc_fashion.md"):
        read_ubc(tmp_path, "train", 32, 32)


def test_paste_densepose_box():
    labels = np.array([[0, 2], [3, 24]], np.uint8)
    uv = np.stack([np.full((2, 2), 0.5), np.full((2, 2), 1.0)])
    iuv = iuv_from_densepose_result(labels, uv, (3, 1, 5, 3), (4, 6))
    assert iuv.shape == (4, 6, 3)
    assert iuv[1, 4].tolist() == [2, 128, 255] and iuv[2, 3].tolist() == [3, 128, 255]
    assert iuv[1, 3].tolist() == [0, 0, 0]  # background inside the box stays 0
    assert iuv[..., 0].sum() == 2 + 3 + 24
    # a box hanging over the frame edge is clipped
    edge = iuv_from_densepose_result(labels, uv, (5, 3, 7, 5), (4, 6))
    assert edge[3, 5, 0] == 0 and edge[..., 0].sum() == 0
