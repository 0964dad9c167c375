import numpy as np
import pytest
import torch
from PIL import Image

from dreampose.data.images import load_image, tensor_to_uint8, video_to_tensor
from dreampose.data.video import DataError


def test_round_trip():
    x = np.random.default_rng(0).integers(0, 256, (2, 4, 5, 3), dtype=np.uint8)
    t = video_to_tensor(x)
    assert t.shape == (2, 3, 4, 5) and t.min() >= -1 and t.max() <= 1
    assert np.array_equal(tensor_to_uint8(t), x)


def test_rgb_png_loads_without_warning(tmp_path, recwarn):
    arr = np.random.default_rng(0).integers(0, 256, (8, 6, 3), dtype=np.uint8)
    Image.fromarray(arr).save(tmp_path / "a.png")
    x = load_image(tmp_path / "a.png")
    assert x.shape == (3, 8, 6) and np.array_equal(tensor_to_uint8(x), arr)
    assert not recwarn.list


@pytest.mark.parametrize(
    "mode, word",
    [("L", "grayscale"), ("RGBA", "transparency"), ("I;16", "16-bit")],
)
def test_conversions_warn(tmp_path, mode, word):
    if mode == "I;16":
        img = Image.fromarray(np.full((8, 8), 40000, np.uint16))
    else:
        img = Image.new(mode, (8, 8))
    img.save(tmp_path / "x.png")
    with pytest.warns(UserWarning, match=word):
        x = load_image(tmp_path / "x.png")
    assert x.shape == (3, 8, 8)


def test_resize_warns(tmp_path):
    Image.new("RGB", (10, 20)).save(tmp_path / "x.png")
    with pytest.warns(UserWarning, match="resized"):
        assert load_image(tmp_path / "x.png", size=(8, 8)).shape == (3, 8, 8)


def test_truncated_and_missing(tmp_path):
    Image.new("RGB", (64, 64), (10, 200, 30)).save(tmp_path / "x.png")
    data = (tmp_path / "x.png").read_bytes()
    (tmp_path / "t.png").write_bytes(data[: len(data) // 2])
    with pytest.raises(DataError, match="t.png"):
        load_image(tmp_path / "t.png")
    (tmp_path / "n.png").write_text("hello")
    with pytest.raises(DataError, match="n.png"):
        load_image(tmp_path / "n.png")
    with pytest.raises(DataError, match="does not exist"):
        load_image(tmp_path / "missing.png")


def test_bad_arrays():
    with pytest.raises(DataError, match="uint8"):
        load_image(np.zeros((4, 4, 3), np.float32))
    with pytest.raises(DataError, match="path, a PIL image"):
        load_image(torch.zeros(3, 4, 4))
