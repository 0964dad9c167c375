"""FID and FVD: the Fréchet distance against closed forms, 16-frame clips, tiny random backbones
through every path, n/a with its reason where weights or samples are missing."""
import math

import numpy as np
import pytest
import torch

from dreampose.evaluate import i3d, inception
from dreampose.evaluate.frechet import SetScores, frechet_distance, frechet_of, gaussian
from dreampose.evaluate.i3d import I3D, clips, fvd
from dreampose.evaluate.inception import FIDInception, fid
from dreampose.evaluate.metrics import NA, MetricSuite



def he_init(net):
    """He-normal convolutions: PyTorch's default init shrinks activations to ~0 over 20+ layers."""
    for m in net.modules():
        if isinstance(m, (torch.nn.Conv2d, torch.nn.Conv3d)):
            torch.nn.init.kaiming_normal_(m.weight, nonlinearity="relu")
    return net


torch.manual_seed(0)
TINY_FID, TINY_I3D = he_init(FIDInception(width=1 / 16)), he_init(I3D(width=1 / 16))


def test_a_set_against_itself_is_zero_even_with_singular_covariances():
    for n, d in ((200, 8), (10, 32)):  # the second: rank 9 covariances in 32 dimensions
        x = torch.randn(n, d, dtype=torch.float64)
        assert abs(frechet_of(x, x)) < 1e-8


def test_a_shifted_set_is_the_squared_shift():
    x = torch.randn(300, 6, dtype=torch.float64) @ torch.randn(6, 6, dtype=torch.float64)  # correlated
    delta = torch.tensor([0.5, -1.0, 0.0, 2.0, 0.1, 0.3], dtype=torch.float64)
    assert frechet_of(x + delta, x) == pytest.approx(float(delta.pow(2).sum()), rel=1e-9)


def test_closed_forms():
    mu1, mu2 = torch.tensor([0.0, 1.0, 2.0]), torch.tensor([1.0, 1.0, 0.0])
    a, b = torch.tensor([1.0, 4.0, 0.25]), torch.tensor([9.0, 1.0, 0.25])
    expected = float((mu1 - mu2).pow(2).sum() + (a.sqrt() - b.sqrt()).pow(2).sum())  # diagonal: sum (sd1 - sd2)^2
    assert frechet_distance(mu1, torch.diag(a), mu2, torch.diag(b)) == pytest.approx(expected, rel=1e-12)
    # non-commuting 2 x 2: tr sqrt(M) = sqrt(tr M + 2 sqrt(det M)) for M = S1 S2 (positive eigenvalues)
    s1 = torch.tensor([[2.0, 0.9], [0.9, 1.0]], dtype=torch.float64)
    s2 = torch.tensor([[1.0, -0.4], [-0.4, 3.0]], dtype=torch.float64)
    m = s1 @ s2
    cross = math.sqrt(float(torch.trace(m)) + 2 * math.sqrt(float(torch.det(m))))
    zero = torch.zeros(2, dtype=torch.float64)
    want = float(torch.trace(s1) + torch.trace(s2)) - 2 * cross
    assert frechet_distance(zero, s1, zero, s2) == pytest.approx(want, rel=1e-10)
    assert frechet_distance(zero, s2, zero, s1) == pytest.approx(want, rel=1e-10)


def test_gaussian_is_mean_and_unbiased_covariance():
    x = torch.tensor([[1.0, 2.0], [3.0, 0.0], [5.0, 4.0]])
    mu, cov = gaussian(x)
    assert torch.allclose(mu, torch.tensor([3.0, 2.0], dtype=torch.float64))
    assert torch.allclose(cov, torch.tensor(np.cov(x.numpy(), rowvar=False)))
    with pytest.raises(ValueError, match="n >= 2"):
        gaussian(x[:1])


def test_fvd_clips_are_consecutive_16_frame_runs():
    frames = torch.arange(50).float().view(50, 1, 1, 1).expand(50, 3, 2, 2)
    c = clips(frames)
    assert c.shape == (3, 16, 3, 2, 2)  # 50 frames: 0-15, 16-31, 32-47; 48, 49 left out
    assert [c[k, :, 0, 0, 0].tolist() for k in range(3)] == [list(map(float, range(16 * k, 16 * k + 16)))
                                                            for k in range(3)]
    assert clips(frames[:15]).shape[0] == 0


def videos(n_videos, n_frames, h=16, w=12, seed=0):
    g = torch.Generator().manual_seed(seed)
    return [torch.rand(n_frames, 3, h, w, generator=g) for _ in range(n_videos)]


def test_fid_and_fvd_run_on_tiny_random_backbones():
    scores = SetScores({"FID": fid(TINY_FID), "FVD": fvd(TINY_I3D)})
    real, other = videos(3, 16), videos(3, 16, seed=1)
    for v in real:
        scores.add(v, v)
    same = scores.values()
    assert same["FID"] == pytest.approx(0.0, abs=1e-6) and same["FVD"] == pytest.approx(0.0, abs=1e-6)
    scores = SetScores({"FID": fid(TINY_FID), "FVD": fvd(TINY_I3D)})
    for g, r in zip(other, real):
        scores.add(torch.flip(g, dims=[1]) * 0.5, r)  # other frames, other colours, darker
    diff = scores.values()
    assert diff["FID"] > 1e-3 and diff["FVD"] > 1.0  # same distribution, other draws: 5e-6, 0.3
    assert TINY_FID(real[0]).shape == (16, TINY_FID.dim) and TINY_I3D(clips(real[0])).shape == (1, 400)


def test_too_few_samples_and_missing_weights_are_na_with_the_reason():
    scores = SetScores({"FID": fid(TINY_FID), "FVD": fvd(TINY_I3D), "other": NA})
    scores.add(*videos(2, 8))  # 8 frames: no 16-frame clip
    out = scores.values()
    assert isinstance(out["FID"], float)
    assert out["FVD"] == "n/a: 0 generated clips of 16 frames in the test set; a Fréchet distance needs at least 2"
    assert out["other"] == NA and list(out) == ["FID", "FVD", "other"]


def test_suite_is_na_offline_and_never_downloads(tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    old = torch.hub.get_dir()
    torch.hub.set_dir(str(tmp_path))
    for loader in (inception.load_inception, i3d.load_i3d):
        loader.cache_clear()
    try:
        suite = MetricSuite()
    finally:
        torch.hub.set_dir(old)
        for loader in (inception.load_inception, i3d.load_i3d):
            loader.cache_clear()
    assert suite.set_names == ["FID", "FVD"] and suite.set_scores().values() == {"FID": NA, "FVD": NA}
    assert "pt_inception-2015-12-05-6726825d.pth is missing" in suite.unavailable["FID"]
    assert "rgb_imagenet.pt is missing" in suite.unavailable["FVD"]
    assert not list(tmp_path.rglob("*.pt*"))
    assert MetricSuite(perceptual=False).set_names == []


def random_state(net):
    return {k: torch.randn_like(v) if v.is_floating_point() else v for k, v in net.state_dict().items()}


def test_pretrained_loaders_read_the_hub_files(tmp_path, monkeypatch):
    """Random full-width weights saved under pytorch-fid's and pytorch-i3d's file names and key layouts."""
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    fid_state = {**random_state(FIDInception()), "fc.weight": torch.zeros(1008, 2048), "fc.bias": torch.zeros(1008)}
    i3d_state = random_state(I3D())
    (tmp_path / "checkpoints").mkdir()
    torch.save(fid_state, tmp_path / "checkpoints" / inception.FID_WEIGHTS_URL.rsplit("/", 1)[-1])
    torch.save(i3d_state, tmp_path / "checkpoints" / i3d.I3D_WEIGHTS_URL.rsplit("/", 1)[-1])
    old = torch.hub.get_dir()
    torch.hub.set_dir(str(tmp_path))
    for loader in (inception.load_inception, i3d.load_i3d):
        loader.cache_clear()
    try:
        (fid_net, r1), (i3d_net, r2) = inception.load_inception(), i3d.load_i3d()
        suite = MetricSuite(perceptual=True)
    finally:
        torch.hub.set_dir(old)
        for loader in (inception.load_inception, i3d.load_i3d):
            loader.cache_clear()
    assert (r1, r2) == ("", "") and fid_net.dim == 2048
    assert torch.equal(fid_net.Mixed_7c.branch_pool.conv.weight, fid_state["Mixed_7c.branch_pool.conv.weight"])
    assert torch.equal(i3d_net.logits.conv3d.bias, i3d_state["logits.conv3d.bias"])
    assert "FID" not in suite.unavailable and "FVD" not in suite.unavailable
    assert fid_net(torch.rand(1, 3, 32, 32)).shape == (1, 2048)
