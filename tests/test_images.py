import struct
import zlib

import numpy as np
import pytest
import torch
from PIL import Image

from dreampose.data.images import load_image, tensor_to_uint8, video_to_tensor
from dreampose.data.video import DataError


def write_png16(path, arr):
    """A 16-bit RGB PNG written by hand (Pillow cannot write one)."""
    h, w, _ = arr.shape
    raw = b"".join(b"\x00" + arr[y].astype(">u2").tobytes() for y in range(h))

    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    header = struct.pack(">IIBBBBB", w, h, 16, 2, 0, 0, 0)
    body = chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b"")
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + body)


def test_round_trip():
    x = np.random.default_rng(0).integers(0, 256, (2, 4, 5, 3), dtype=np.uint8)
    t = video_to_tensor(x)
    assert t.shape == (2, 3, 4, 5) and t.min() >= -1 and t.max() <= 1
    assert t[0, :, 0, 0].tolist() == pytest.approx((x[0, 0, 0] / 127.5 - 1).tolist(), abs=1e-6)
    assert np.array_equal(tensor_to_uint8(t), x)
    assert np.array_equal(tensor_to_uint8(torch.full((3, 1, 1), 5.0)), np.full((1, 1, 3), 255))  # clamped


def test_rgb_and_palette_pngs_load_without_warning(tmp_path, recwarn):
    arr = np.random.default_rng(0).integers(0, 256, (8, 6, 3), dtype=np.uint8)
    Image.fromarray(arr).save(tmp_path / "a.png")
    assert np.array_equal(tensor_to_uint8(load_image(tmp_path / "a.png")), arr)
    Image.fromarray(arr).quantize(16).save(tmp_path / "p.png")
    assert load_image(str(tmp_path / "p.png")).shape == (3, 8, 6)
    assert not recwarn.list


def test_grayscale(tmp_path):
    Image.fromarray(np.full((4, 5), 100, np.uint8)).save(tmp_path / "g.png")
    with pytest.warns(UserWarning, match="g.png: grayscale"):
        x = load_image(tmp_path / "g.png")
    assert np.array_equal(tensor_to_uint8(x), np.full((4, 5, 3), 100))


def test_rgba_is_flattened_on_white(tmp_path):
    rgba = np.zeros((2, 2, 4), np.uint8)
    rgba[0, 0] = (255, 0, 0, 255)  # opaque red; the rest fully transparent
    Image.fromarray(rgba).save(tmp_path / "a.png")
    with pytest.warns(UserWarning, match="transparency"):
        out = tensor_to_uint8(load_image(tmp_path / "a.png"))
    assert out[0, 0].tolist() == [255, 0, 0] and out[1, 1].tolist() == [255, 255, 255]
    with pytest.warns(UserWarning, match="transparency"):
        assert np.array_equal(tensor_to_uint8(load_image(rgba)), out)


def test_16_bit(tmp_path):
    Image.fromarray(np.full((4, 4), 40000, np.uint16)).save(tmp_path / "g16.png")
    with pytest.warns(UserWarning, match="16-bit"):
        x = load_image(tmp_path / "g16.png")
    assert np.array_equal(tensor_to_uint8(x), np.full((4, 4, 3), round(40000 / 257)))
    arr = (np.arange(4 * 5 * 3).reshape(4, 5, 3) * 1000).astype(np.uint16)
    write_png16(tmp_path / "rgb16.png", arr)
    with pytest.warns(UserWarning, match="16-bit"):
        x = load_image(tmp_path / "rgb16.png")
    assert np.abs(tensor_to_uint8(x).astype(int) - arr / 257).max() <= 1
    with pytest.warns(UserWarning, match="16-bit"):
        assert np.array_equal(tensor_to_uint8(load_image(arr)), (arr / 257).round())


def test_exif_orientation_is_applied(tmp_path):
    img = Image.new("RGB", (6, 4), (0, 0, 255))
    exif = Image.Exif()
    exif[0x0112] = 6  # "rotate 90 degrees clockwise to display"
    img.save(tmp_path / "phone.jpg", exif=exif)
    assert load_image(tmp_path / "phone.jpg").shape == (3, 6, 4)


def test_resize_warns(tmp_path):
    Image.new("RGB", (10, 20)).save(tmp_path / "x.png")
    with pytest.warns(UserWarning, match=r"x.png: resized from 20x10 to 8x8 .*aspect ratio changed"):
        assert load_image(tmp_path / "x.png", size=(8, 8)).shape == (3, 8, 8)
    with pytest.warns(UserWarning, match="resized") as record:
        load_image(tmp_path / "x.png", size=(10, 5))
    assert "aspect" not in str(record[0].message)


def test_truncated_and_missing(tmp_path):
    Image.new("RGB", (64, 64), (10, 200, 30)).save(tmp_path / "x.png")
    data = (tmp_path / "x.png").read_bytes()
    (tmp_path / "t.png").write_bytes(data[: len(data) // 2])
    with pytest.raises(DataError, match="cannot read image .*t.png"):
        load_image(tmp_path / "t.png")
    (tmp_path / "n.png").write_text("hello")
    with pytest.raises(DataError, match="n.png"):
        load_image(tmp_path / "n.png")
    with pytest.raises(DataError, match="missing.png does not exist"):
        load_image(tmp_path / "missing.png")


def test_bad_arrays():
    with pytest.raises(DataError, match="uint8"):
        load_image(np.zeros((4, 4, 3), np.float32))
    with pytest.raises(DataError, match=r"\(H, W, 3\)"):
        load_image(np.zeros((4, 4, 5), np.uint8))
    with pytest.raises(DataError, match="path, a PIL image"):
        load_image(torch.zeros(3, 4, 4))
