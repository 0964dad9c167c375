import numpy as np
import pytest
import torch
import torch.nn.functional as F

from dreampose.data.images import video_to_tensor
from dreampose.data.pairs import PairDataset, SubjectDataset, apply_crop, crop_box
from dreampose.data.pose import pose_maps, pose_window
from dreampose.data.video import DataError, Video


def random_video(name, n, seed, size=16):
    rng = np.random.default_rng(seed)
    frames = rng.integers(0, 256, (n, size, size, 3), dtype=np.uint8)
    iuv = rng.integers(0, 256, (n, size, size, 3), dtype=np.uint8)
    iuv[..., 0] = rng.integers(0, 25, (n, size, size))
    return Video(name, frames, iuv)


@pytest.fixture(scope="module")
def videos():  # 70 frames: longer than one pose-map chunk
    return [random_video("long", 70, 0), random_video("short", 8, 1)]


def test_pairs_are_deterministic_and_carry_the_targets_window(videos):
    ds = PairDataset(videos, 5, (8, 8), length=50, seed=1)
    again = PairDataset(videos, 5, (8, 8), length=50, seed=1)
    for i in (0, 7, 49):
        a, b = ds[i], again[i]
        assert {k: a[k] for k in ("video", "input_index", "target_index")} == \
            {k: b[k] for k in ("video", "input_index", "target_index")}
        assert all(torch.equal(a[k], b[k]) for k in ("image", "target", "pose"))
        video = next(v for v in videos if v.name == a["video"])
        assert torch.equal(a["pose"], pose_window(pose_maps(video.iuv, (8, 8)), a["target_index"], 5))
        assert torch.equal(a["image"], video_to_tensor(video.frames[a["input_index"]]))
        assert torch.equal(a["target"], video_to_tensor(video.frames[a["target_index"]]))
        assert a["image"].shape == (3, 16, 16) and a["pose"].shape == (10, 8, 8)
    other = PairDataset(videos, 5, (8, 8), length=50, seed=2)
    assert [ds[i]["target_index"] for i in range(10)] != [other[i]["target_index"] for i in range(10)]
    assert PairDataset(videos, 1, (8, 8), 4, 0)[0]["pose"].shape == (2, 8, 8)
    with pytest.raises(IndexError):
        ds[50]


def test_videos_are_drawn_in_proportion_to_their_length(videos):
    ds = PairDataset(videos, 5, (8, 8), length=400, seed=0)
    share = np.mean([ds[i]["video"] == "long" for i in range(400)])
    assert 0.85 < share < 0.95  # 70 / 78 = 0.897


def test_bad_inputs_are_clear_errors(videos):
    with pytest.raises(DataError, match="no training videos"):
        PairDataset([], 5, (8, 8), 4, 0)
    with pytest.raises(ValueError, match="odd"):
        PairDataset(videos, 4, (8, 8), 4, 0)
    with pytest.raises(DataError, match="length"):
        PairDataset(videos, 5, (8, 8), 0, 0)
    with pytest.raises(DataError, match="no images"):
        SubjectDataset([], [], 4, 0)
    with pytest.raises(DataError, match="one pose per image"):
        SubjectDataset([torch.zeros(3, 8, 8)], [], 4, 0)
    with pytest.raises(DataError, match="same shape"):
        SubjectDataset([torch.zeros(3, 8, 8), torch.zeros(3, 8, 6)], [torch.zeros(10, 2, 2)] * 2, 4, 0)
    with pytest.raises(DataError, match="3 channels"):
        SubjectDataset([torch.zeros(4, 8, 8)], [torch.zeros(10, 2, 2)], 4, 0)
    with pytest.raises(ValueError, match="crop scale"):
        SubjectDataset([torch.zeros(3, 8, 8)], [torch.zeros(10, 2, 2)], 4, 0, crop_scale=1.5)


def _coords(h, w):
    """Normalised pixel-centre coordinates (x, y) (grid_sample's convention, align_corners=False)."""
    centre = lambda n: (2 * torch.arange(n) + 1) / n - 1  # noqa: E731
    ys, xs = torch.meshgrid(centre(h), centre(w), indexing="ij")
    return torch.stack([xs, ys])


def test_crop_samples_exactly_the_box():
    """On an image that is its own coordinate map, the crop is the box's affine map (clamped at the border)."""
    image = _coords(24, 32)
    box = (0.05, 0.1, 0.8, 0.85)  # top, left, height, width
    out = apply_crop(image, box)
    top, left, h, w = box
    expected = torch.stack([
        (w * image[0] + 2 * left + w - 1).clamp(-1 + 1 / 32, 1 - 1 / 32),
        (h * image[1] + 2 * top + h - 1).clamp(-1 + 1 / 24, 1 - 1 / 24),
    ])
    assert (out - expected).abs().max() < 1e-5


def test_subject_crop_keeps_image_and_pose_aligned():
    """Colour and UV both encode position (pose at 1/4 resolution); after augmentation they still agree."""
    image = torch.cat([_coords(64, 64), torch.zeros(1, 64, 64)])
    pose = _coords(16, 16).repeat(5, 1, 1)  # a 5-frame window
    ds = SubjectDataset([image], [pose], length=8, seed=0, crop_scale=0.7)
    for i in range(8):
        item = ds[i]
        assert torch.equal(item["image"], image)  # the conditioning image is never augmented
        assert not torch.allclose(item["target"], image)
        down = F.avg_pool2d(item["target"][None, :2], 4)[0]
        for k in range(5):
            diff = down - item["pose"][2 * k:2 * k + 2]
            assert diff[:, 1:-1, 1:-1].abs().max() < 1e-4  # exact away from the clamped border
            assert diff.abs().max() < 0.03


def test_subject_dataset_without_crop_returns_the_raw_pair():
    images = [torch.rand(3, 32, 32) * 2 - 1 for _ in range(2)]
    poses = [torch.rand(10, 8, 8) * 2 - 1 for _ in range(2)]
    ds = SubjectDataset(images, poses, length=6, seed=0, random_crop=False)
    for i in range(6):
        item = ds[i]
        k = next(j for j in range(2) if torch.equal(item["image"], images[j]))
        assert torch.equal(item["target"], images[k]) and torch.equal(item["pose"], poses[k])
    assert len({next(j for j in range(2) if torch.equal(ds[i]["image"], images[j])) for i in range(6)}) == 2


def test_crop_boxes_cover_the_scale():
    boxes = [crop_box(np.random.default_rng([0, i]), 0.8) for i in range(50)]
    assert len(set(boxes)) == 50
    for top, left, h, w in boxes:
        assert 0.8 <= h <= 1 and 0.8 <= w <= 1 and 0 <= top <= 1 - h and 0 <= left <= 1 - w
