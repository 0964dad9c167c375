"""Metrics: exact values on constructed images, honest n/a for weights we cannot have offline."""
import math
import time

import numpy as np
import pytest
import torch

from dreampose.evaluate import i3d, inception, metrics
from dreampose.evaluate.metrics import (NA, FeatureDistance, MetricError, MetricSuite, flicker, l1, psnr, ssim,
                                        temporal_l1)


def frames(n=4, h=32, w=24, seed=0):
    return np.random.default_rng(seed).integers(0, 256, (n, h, w, 3), dtype=np.uint8)


def test_identical_images():
    x = frames()
    assert np.array_equal(l1(x, x), np.zeros(4))
    np.testing.assert_allclose(ssim(x, x), 1.0, atol=1e-9)
    assert np.isinf(psnr(x, x)).all() and (psnr(x, x) > 0).all()
    out = MetricSuite(perceptual=False)(x, x)
    assert out["L1"] == 0 and out["PSNR"] == math.inf and out["temporal L1"] == 0 and out["flicker"] == 0


def test_known_offset_l1_and_psnr():
    gt = np.full((2, 16, 16, 3), 0.25, np.float32)
    gen = gt + 0.1
    np.testing.assert_allclose(l1(gen, gt), 0.1, atol=1e-6)
    np.testing.assert_allclose(psnr(gen, gt), 20.0, atol=1e-4)  # 10 log10(1 / 0.01)
    a = np.zeros((1, 8, 8, 3), np.uint8)
    b = a.copy()
    b[0, :4] = 255  # half the pixels differ by 1
    assert l1(a, b)[0] == pytest.approx(0.5)


def test_psnr_mean_over_frames_with_one_identical_frame_is_inf():
    x = frames(3)
    y = x.copy()
    y[1] ^= 1
    assert np.isinf(psnr(y, x)[0]) and np.isfinite(psnr(y, x)[1])
    assert MetricSuite(perceptual=False)(y, x)["PSNR"] == math.inf


def test_ssim_matches_constant_shift_formula():
    # a constant shift keeps variance and covariance: SSIM = (2 mu mu' + C1) / (mu^2 + mu'^2 + C1)
    gt = np.random.default_rng(1).uniform(0.2, 0.6, (1, 32, 32, 3)).astype(np.float32)
    gt[:] = gt.mean()  # flat image so every window has the same means
    gen = gt + 0.1
    mu, c1 = float(gt.mean()), 0.01 ** 2
    expected = (2 * mu * (mu + 0.1) + c1) / (mu ** 2 + (mu + 0.1) ** 2 + c1)
    np.testing.assert_allclose(ssim(gen, gt), expected, atol=1e-6)


def test_pitfall_psnr_does_not_overflow_uint8():
    """(a - b) ** 2 on uint8 wraps around (10 - 20 = 246): PSNR must be computed on floats."""
    a, b = np.full((1, 16, 16, 3), 10, np.uint8), np.full((1, 16, 16, 3), 20, np.uint8)
    expected = 20 * math.log10(255 / 10)  # mse = (10 / 255)^2
    assert psnr(a, b)[0] == pytest.approx(expected, abs=1e-5) and psnr(b, a)[0] == pytest.approx(expected, abs=1e-5)
    assert psnr(a, b)[0] == pytest.approx(psnr(a / 255.0, b / 255.0)[0], abs=1e-9)
    assert psnr(np.zeros_like(a), np.full_like(a, 255))[0] == pytest.approx(0.0, abs=1e-12)


def test_pitfall_ssim_is_on_rgb_not_grey():
    """A change of colour at constant luminance: SSIM on a grey conversion would call it perfect."""
    rng = np.random.default_rng(3)
    gt = rng.uniform(0.3, 0.7, (1, 32, 32, 3))
    v = np.cross([1.0, 1.0, 1.0], [0.299, 0.587, 0.114])  # orthogonal to mean-grey and to BT.601 luma
    gen = gt + rng.uniform(-0.2, 0.2, (1, 32, 32, 1)) * v / np.abs(v).max()
    for weights in ([1 / 3] * 3, [0.299, 0.587, 0.114]):
        assert np.allclose(gen @ weights, gt @ weights)  # identical grey images
    rgb = ssim(gen, gt)[0]
    per_channel = [ssim(np.repeat(gen[..., c:c + 1], 3, -1), np.repeat(gt[..., c:c + 1], 3, -1))[0] for c in range(3)]
    assert rgb < 0.9 and rgb == pytest.approx(np.mean(per_channel), abs=1e-9)


def test_pitfall_l1_is_a_mean_over_channels_not_divided_by_hw():
    """sum |x' - x| / (H W) over 3 channels reads 3x too high; L1 is the mean over H W 3 values."""
    gt = np.zeros((1, 8, 8, 3), np.float32)
    gen = gt.copy()
    gen[..., 1] = 0.3  # one channel off by 0.3
    assert l1(gen, gt)[0] == pytest.approx(0.1, abs=1e-7)
    assert l1(np.full((1, 8, 8, 3), 255, np.uint8), np.zeros((1, 8, 8, 3), np.uint8))[0] == 1.0  # [0, 1] scale


def test_temporal_metrics():
    gt = np.random.default_rng(2).uniform(0.2, 0.7, (6, 16, 16, 3)).astype(np.float32)
    assert temporal_l1(gt + 0.1, gt) == pytest.approx(0.0, abs=1e-7)
    assert flicker(gt + 0.1, gt) == pytest.approx(0.0, abs=1e-7)
    still = np.repeat(gt[:1], 6, axis=0)
    flick = still + np.array([0, 0.2] * 3, np.float32)[:, None, None, None]  # alternating brightness
    assert temporal_l1(flick, still) == pytest.approx(0.2, abs=1e-6)
    assert flicker(flick, still) == pytest.approx(0.2, abs=1e-6)
    assert flicker(still, gt) < 0  # too still
    with pytest.raises(MetricError, match="at least 2"):
        temporal_l1(gt[:1], gt[:1])


def test_bad_input_is_a_clear_error():
    x = frames()
    with pytest.raises(MetricError, match=r"\[0, 1\]"):
        l1(x.astype(np.float32), x.astype(np.float32))  # 0..255 floats
    with pytest.raises(MetricError, match="differ in shape"):
        l1(x, x[:, :16])
    with pytest.raises(MetricError, match=r"\(N, H, W, 3\)"):
        l1(x[0], x[0])


def test_perceptual_metrics_are_na_offline_and_fast(tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    old = torch.hub.get_dir()
    torch.hub.set_dir(str(tmp_path))  # an empty hub cache: nothing to find
    loaders = (metrics.load_vgg, metrics.load_lpips, inception.load_inception, i3d.load_i3d)
    for loader in loaders:
        loader.cache_clear()
    try:
        start = time.perf_counter()
        suite = MetricSuite()
        elapsed = time.perf_counter() - start
        out = suite(frames(), frames(seed=1))
    finally:
        torch.hub.set_dir(old)
        for loader in loaders:
            loader.cache_clear()
    assert out["VGG"] == NA == "n/a: pretrained weights unavailable offline" and out["LPIPS"] == NA
    assert set(suite.unavailable) == {"VGG", "LPIPS", "FID", "FVD"} and "VGG" in suite.names
    assert "FID" not in suite.names  # set-level: not a per-video value
    assert elapsed < 30  # no network wait (generous: this only guards against a hang)
    assert not list(tmp_path.rglob("*.pt*"))


def test_vgg_distance_runs_from_a_hub_checkpoint(tmp_path, monkeypatch):
    """The loader path: random weights saved under torchvision's file name and key layout."""
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    torch.manual_seed(0)
    state = {}
    c, idx = 3, 0
    for v in metrics.VGG19_CFG:
        if v == "M":
            idx += 1
            continue
        state[f"features.{idx}.weight"] = torch.randn(v, c, 3, 3) * (2 / (9 * c)) ** 0.5
        state[f"features.{idx}.bias"] = torch.zeros(v)
        c, idx = v, idx + 2
    state["classifier.0.weight"] = torch.zeros(1)  # ignored
    (tmp_path / "checkpoints").mkdir()
    torch.save(state, tmp_path / "checkpoints" / "vgg19-dcbb9e9d.pth")
    old = torch.hub.get_dir()
    torch.hub.set_dir(str(tmp_path))
    metrics.load_vgg.cache_clear()
    try:
        net, reason = metrics.load_vgg()
    finally:
        torch.hub.set_dir(old)
        metrics.load_vgg.cache_clear()
    assert net is not None and reason == ""
    a, b = (metrics.to_0_1(frames(2, 32, 32, s)) for s in (0, 1))
    assert torch.equal(net(a, a), torch.zeros(2))
    assert (net(a, b) > 0).all()


def test_feature_distance():
    x = frames(3)
    tower = lambda u8: u8.reshape(len(u8), -1).astype(np.float32) + 1.0  # noqa: E731
    fd = FeatureDistance(tower)
    suite = MetricSuite(perceptual=False, features=[fd])
    assert "CLIP-tiny feature distance" in suite.names
    assert suite(x, x)["CLIP-tiny feature distance"] == pytest.approx(0.0, abs=1e-6)
    assert suite(255 - x, x)["CLIP-tiny feature distance"] > 0.1
    with pytest.raises(ValueError, match="feature distance"):
        FeatureDistance(tower, name="CLIP")
