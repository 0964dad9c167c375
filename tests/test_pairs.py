import numpy as np
import pytest
import torch

from dreampose.data.pairs import PairDataset, SubjectDataset, apply_crop, crop_box
from dreampose.data.pose import pose_maps, pose_window
from dreampose.data.video import DataError
from dreampose.data.world import synthetic_video


@pytest.fixture(scope="module")
def videos():
    return [synthetic_video(0, "train", i, 32, 32, 30, 0.3, 0.5) for i in range(3)]


def test_pairs_are_deterministic_and_carry_the_targets_window(videos):
    ds = PairDataset(videos, 5, (8, 8), length=20, seed=1)
    a, b = ds[7], PairDataset(videos, 5, (8, 8), length=20, seed=1)[7]
    assert a["video"] == b["video"] and a["target_index"] == b["target_index"] and torch.equal(a["target"], b["target"])
    video = next(v for v in videos if v.name == a["video"])
    assert torch.equal(a["pose"], pose_window(pose_maps(video.iuv, (8, 8)), a["target_index"], 5))
    assert a["image"].shape == (3, 32, 32) and a["pose"].shape == (10, 8, 8)
    assert a["image"].min() >= -1 and a["image"].max() <= 1
    assert len({ds[i]["video"] for i in range(20)}) > 1
    assert PairDataset(videos, 1, (8, 8), 4, 0)[0]["pose"].shape == (2, 8, 8)


def test_empty_inputs_are_clear_errors():
    with pytest.raises(DataError, match="no training videos"):
        PairDataset([], 5, (8, 8), 4, 0)
    with pytest.raises(DataError, match="no images"):
        SubjectDataset([], [], 4, 0)
    with pytest.raises(DataError, match="one pose per image"):
        SubjectDataset([torch.zeros(3, 8, 8)], [], 4, 0)


def _coords(h, w):
    """Normalised pixel-centre coordinates (the convention of grid_sample, align_corners=False)."""
    centre = lambda n: (2 * torch.arange(n) + 1) / n - 1  # noqa: E731
    ys, xs = torch.meshgrid(centre(h), centre(w), indexing="ij")
    return torch.stack([xs, ys])


def test_joint_crop_keeps_image_and_pose_aligned():
    """Image and pose (at 1/4 resolution) both encode position; after the same crop they agree."""
    image = torch.cat([_coords(64, 64), torch.zeros(1, 64, 64)])
    pose = _coords(16, 16)
    box = crop_box(np.random.default_rng(0), 0.7)
    ci, cp = apply_crop(image, box), apply_crop(pose, box)
    down = torch.nn.functional.avg_pool2d(ci[None, :2], 4)[0]
    assert (down - cp)[:, 1:-1, 1:-1].abs().max() < 1e-4  # exact away from the clamped border
    assert (down - cp).abs().max() < 0.02
    top, left, h, w = box
    assert ci[0, 32, 0].item() == pytest.approx(2 * left - 1 + w / 64, abs=0.02)  # left edge maps to the box edge
    assert not torch.allclose(ci, image)


def test_subject_dataset_augments_target_only():
    image = torch.rand(3, 32, 32) * 2 - 1
    pose = torch.rand(10, 8, 8) * 2 - 1
    ds = SubjectDataset([image], [pose], length=4, seed=0)
    item = ds[0]
    assert torch.equal(item["image"], image) and not torch.equal(item["target"], image)
    raw = SubjectDataset([image], [pose], length=4, seed=0, random_crop=False)[0]
    assert torch.equal(raw["target"], image) and torch.equal(raw["pose"], pose)
    boxes = {tuple(np.round(crop_box(np.random.default_rng([0, i]), 0.8), 3)) for i in range(10)}
    assert len(boxes) == 10 and all(0.8 <= b[2] <= 1 and 0.8 <= b[3] <= 1 for b in boxes)
