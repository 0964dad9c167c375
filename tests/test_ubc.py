import os
import warnings

import numpy as np
import pytest
from PIL import Image

from dreampose.cache import Cache
from dreampose.config import load_profile
from dreampose.data.pose import pose_maps
from dreampose.data.ubc import DEFAULT_CAPTION, iuv_from_densepose_result, read_ubc, write_ubc_video
from dreampose.data.video import DataError, Video


def box_video(name="clip_a", n=9, h=32, w=32, caption="a red box"):
    """A coloured rectangle moving right on grey; its IUV: part 2, U = column, V = row in the box."""
    frames = np.full((n, h, w, 3), 128, np.uint8)
    iuv = np.zeros((n, h, w, 3), np.uint8)
    bh, bw = h // 2, w // 4
    for t in range(n):
        top, left = h // 4, (t * 2) % (w - bw)
        frames[t, top:top + bh, left:left + bw] = (220, 40, 30)
        iuv[t, top:top + bh, left:left + bw, 0] = 2
        iuv[t, top:top + bh, left:left + bw, 1] = np.linspace(0, 255, bw).round().astype(np.uint8)[None]
        iuv[t, top:top + bh, left:left + bw, 2] = np.linspace(0, 255, bh).round().astype(np.uint8)[:, None]
    return Video(name, frames, iuv, 30, caption)


def dense_dir(root, split, video):
    return root / f"{split}_densepose" / video.name


def test_round_trip(tmp_path):
    video = box_video()
    path = write_ubc_video(tmp_path, "test", video)
    assert path == tmp_path / "test" / "clip_a.mp4" and len(list(dense_dir(tmp_path, "test", video).glob("*.png"))) == 9
    (back,) = read_ubc(tmp_path, "test", 32, 32)
    assert back.name == "clip_a" and back.caption == "a red box" and len(back) == 9 and back.fps == 30
    assert np.array_equal(back.iuv, video.iuv)
    assert np.abs(back.frames.astype(int) - video.frames.astype(int)).mean() < 4  # mp4 is lossy
    assert isinstance(back.frames, np.memmap)  # decoded once into the cache, then memory-mapped
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # copy-on-write maps: torch takes them without a read-only warning
        assert pose_maps(back.iuv).shape == (9, 2, 32, 32)


def test_changed_pose_file_is_decoded_again(tmp_path):
    video = box_video()
    write_ubc_video(tmp_path, "train", video)
    read_ubc(tmp_path, "train", 32, 32)
    f = dense_dir(tmp_path, "train", video) / "00004.png"
    Image.fromarray(np.zeros((32, 32, 3), np.uint8)).save(f)
    os.utime(f, ns=(1, 1))
    (back,) = read_ubc(tmp_path, "train", 32, 32)
    assert back.iuv[4].max() == 0 and np.array_equal(back.iuv[3], video.iuv[3])


def test_resize_takes_iuv_at_nearest_pixels(tmp_path):
    video = box_video(h=48, w=32)
    write_ubc_video(tmp_path, "train", video)
    (small,) = read_ubc(tmp_path, "train", 16, 24)
    assert small.size == (24, 16)
    assert np.array_equal(small.iuv, video.iuv[:, 1::2, 1::2])  # I, U, V from the same source pixel
    pooled = video.frames.reshape(9, 24, 2, 16, 2, 3).mean((2, 4))
    assert np.abs(small.frames - pooled).mean() < 6


def test_center_crop_for_another_aspect_ratio(tmp_path):
    video = box_video(h=48, w=32)
    write_ubc_video(tmp_path, "train", video)
    with pytest.raises(DataError, match=r"clip_a\.mp4 is 32x48 .*fit='center_crop'"):
        read_ubc(tmp_path, "train", 32, 32)
    (square,) = read_ubc(tmp_path, "train", 32, 32, fit="center_crop")
    assert np.array_equal(square.iuv, video.iuv[:, 8:40])


def test_max_videos_and_hidden_files(tmp_path):
    write_ubc_video(tmp_path, "test", box_video("b", caption=""))
    write_ubc_video(tmp_path, "test", box_video("a"))
    (tmp_path / "test" / "._a.mp4").write_bytes(b"macOS metadata")
    assert [v.name for v in read_ubc(tmp_path, "test", 32, 32)] == ["a", "b"]
    assert [v.name for v in read_ubc(tmp_path, "test", 32, 32, max_videos=1)] == ["a"]
    assert read_ubc(tmp_path, "test", 32, 32)[1].caption == DEFAULT_CAPTION


def test_missing_pose_file(tmp_path):
    video = box_video()
    write_ubc_video(tmp_path, "test", video)
    (dense_dir(tmp_path, "test", video) / "00003.png").unlink()
    with pytest.raises(DataError, match=r"missing pose file .*clip_a/00003\.png"):
        read_ubc(tmp_path, "test", 32, 32)


def test_mismatched_frame_count(tmp_path):
    video = box_video()
    write_ubc_video(tmp_path, "test", video)
    folder = dense_dir(tmp_path, "test", video)
    (folder / "00008.png").unlink()
    with pytest.raises(DataError, match=r"clip_a\.mp4 has 9 frames but .* 8 IUV files \(missing .*00008\.png"):
        read_ubc(tmp_path, "test", 32, 32)
    for i in (8, 9):
        Image.fromarray(video.iuv[0]).save(folder / f"{i:05d}.png")
    with pytest.raises(DataError, match=r"clip_a\.mp4 has 9 frames but .* 10 IUV files \(extra files from 00009"):
        read_ubc(tmp_path, "test", 32, 32)


def test_unreadable_video(tmp_path):
    video = box_video()
    write_ubc_video(tmp_path, "test", video)
    (tmp_path / "test" / "clip_a.mp4").write_bytes(b"not a video")
    with pytest.raises(DataError, match=r"cannot read video .*clip_a\.mp4"):
        read_ubc(tmp_path, "test", 32, 32)


def test_bad_pose_images(tmp_path):
    video = box_video()
    write_ubc_video(tmp_path, "test", video)
    f = dense_dir(tmp_path, "test", video) / "00000.png"
    bad = {
        "look like plain pictures, not DensePose IUV": Image.fromarray(np.full((32, 32, 3), 200, np.uint8)),  # a plain picture
        "mode RGBA": Image.fromarray(np.zeros((32, 32, 4), np.uint8)),
        "is 16x16 but the video": Image.fromarray(np.zeros((16, 16, 3), np.uint8)),
    }
    for message, img in bad.items():
        img.save(f)
        with pytest.raises(DataError, match=f"00000.png .*{message}"):
            read_ubc(tmp_path, "test", 32, 32)
    f.write_bytes(b"\x89PNG broken")
    with pytest.raises(DataError, match="cannot read pose file .*00000.png"):
        read_ubc(tmp_path, "test", 32, 32)


def test_missing_folders_and_bad_arguments(tmp_path):
    with pytest.raises(DataError, match="docs/ubc_fashion.md"):
        read_ubc(tmp_path, "train", 32, 32)
    (tmp_path / "train").mkdir()
    with pytest.raises(DataError, match="no .mp4 videos"):
        read_ubc(tmp_path, "train", 32, 32)
    write_ubc_video(tmp_path, "train", box_video())
    with pytest.raises(DataError, match="split must be"):
        read_ubc(tmp_path, "val", 32, 32)
    with pytest.raises(DataError, match="fit must be"):
        read_ubc(tmp_path, "train", 32, 32, fit="stretch")
    import shutil

    shutil.rmtree(tmp_path / "train_densepose")
    with pytest.raises(DataError, match="no DensePose folder .*train_densepose/clip_a"):
        read_ubc(tmp_path, "train", 32, 32)
    with pytest.raises(DataError, match="even width and height"):
        write_ubc_video(tmp_path, "train", box_video(w=31))


def test_paste_densepose_box():
    labels = np.array([[0, 2], [3, 24]], np.uint8)
    uv = np.stack([np.full((2, 2), 0.5), np.full((2, 2), 1.0)])
    iuv = iuv_from_densepose_result(labels, uv, (3.7, 1.2, 5.7, 3.2), (4, 6))  # corner truncated to (3, 1)
    expected = np.zeros((4, 6, 3), np.uint8)
    expected[1:3, 3:5, 0] = labels
    expected[1:3, 3:5, 1:] = np.where(labels[..., None] > 0, [128, 255], 0)
    assert np.array_equal(iuv, expected)
    edge = iuv_from_densepose_result(np.full((2, 2), 5), uv, (5, 3, 7, 5), (4, 6))  # clipped at the corner
    assert edge[..., 0].sum() == 5 and edge[3, 5].tolist() == [5, 128, 255]
    outside = iuv_from_densepose_result(labels, uv, (8, 8, 10, 10), (4, 6))
    assert not outside.any()
    with pytest.raises(DataError, match="x0, y0, x1, y1"):  # an (x, y, w, h) box passed by mistake
        iuv_from_densepose_result(np.zeros((20, 10)), np.zeros((2, 20, 10)), (30, 40, 10, 20), (100, 100))
    with pytest.raises(DataError, match="0..24"):
        iuv_from_densepose_result(labels + 30, uv, (3, 1, 5, 3), (4, 6))


def test_synthetic_world_through_the_ubc_layout(tmp_path):
    from dreampose.data.world import load_world

    world = load_world(load_profile("smoke"), Cache(tmp_path / "cache"), progress=False)
    root = tmp_path / "ubc"
    for split in ("train", "test"):
        for video in getattr(world, split):
            write_ubc_video(root, split, video)
    back = load_world(load_profile("smoke", ["data.source=ubc", f"data.root={root}"]))
    for a, b in zip(world.train + world.test, back.train + back.test, strict=True):
        assert a.name == b.name and a.caption == b.caption and np.array_equal(a.iuv, b.iuv)
        assert np.abs(a.frames.astype(int) - b.frames.astype(int)).mean() < 8
