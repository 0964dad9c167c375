"""Metrics of the paper's Table 1/2 (section 6) plus PSNR and two temporal measures.

Images are (N, H, W, 3) uint8, or float in [0, 1] (numpy or torch); x' is generated, x the
ground truth, both on the [0, 1] scale (the paper's L1 of 0.0256 implies it).

Per frame (then averaged over a video's target frames):

* ``L1``    = mean |x' - x| over pixels and channels.
* ``SSIM``  = torchmetrics SSIM (Gaussian window 11, sigma 1.5, data range 1).
* ``PSNR``  = 10 log10(1 / mean (x' - x)^2) dB; **inf** for identical frames, and a video
  mean over frames containing an inf is inf (reported as such, never capped).
* ``VGG``   = sum_l w_l mean |phi_l(x') - phi_l(x)|, phi_l = VGG-19 relu1_1..relu5_1 on
  ImageNet-normalised input, w = (1/32, 1/16, 1/8, 1/4, 1) (the pix2pixHD perceptual
  distance; the paper does not define its "VGG" column, so absolute values may differ).
* ``LPIPS`` = torchmetrics LPIPS (AlexNet, the LPIPS default; the paper names no backbone).
* ``CLIP-tiny feature distance`` = 1 - cos(f(x'), f(x)) for a caller-supplied image tower f.

Per test set (one value per method, over the target frames of all its test videos; the
ground truth is the same target frames; ``frechet``):

* ``FID`` = Fréchet distance between Gaussians fitted to the 2048-d Inception pool3 features
  of every generated and every real frame (``inception``: pytorch-fid's network).
* ``FVD`` = the same over the 400-d I3D Kinetics logits of every 16-frame clip of each
  video's consecutive targets (``i3d``; the ICCV version of the paper reports FVD on 16 frames).

VGG, LPIPS, FID and FVD need pretrained weights (ImageNet, Kinetics). When they are not in
the torch hub cache and we are offline (HF_HUB_OFFLINE / TRANSFORMERS_OFFLINE), nothing is
downloaded and the metric's value is the string ``NA`` -- never a substitute under the same
name. docs/metrics.md lists every convention (ranges, colour space, resizing, windows).

Per sequence of consecutive target frames t = 1..N (the 1-pose vs 5-pose claim: per-frame
metrics miss flicker, as the caption of Table 2 admits):

* ``temporal L1`` = 1/(N-1) sum_t mean |(x'_{t+1} - x'_t) - (x_{t+1} - x_t)|;
  0 when x' = x + c, large when x' changes where x does not (or the reverse).
* ``flicker``     = 1/(N-1) sum_t [mean |x'_{t+1} - x'_t| - mean |x_{t+1} - x_t|]; the excess
  frame-to-frame change of the generated video; 0 is ideal, > 0 flickers, < 0 is too still.

When the targets are several runs of consecutive frames (``eval.n_runs``), the sums run over
the pairs within each run, never across the jump from one run to the next.
"""
from __future__ import annotations

import functools
import importlib.util
from dataclasses import dataclass
from typing import Callable, Literal, Sequence

import numpy as np
import torch
import torch.nn.functional as F
from torchmetrics.functional.image import structural_similarity_index_measure

from .frechet import SetMetric, SetScores
from .i3d import fvd, load_i3d
from .inception import fid, load_inception
from .weights import NA, hub_state, hub_weights


class MetricError(ValueError):
    """Images that cannot be compared; the message names the problem and the fix."""


@dataclass(frozen=True)
class MetricInfo:
    name: str
    better: Literal["lower", "higher", "zero"]
    fmt: str  # format spec of a value in tables


METRICS = {m.name: m for m in (
    MetricInfo("L1", "lower", ".4f"),
    MetricInfo("SSIM", "higher", ".3f"),
    MetricInfo("PSNR", "higher", ".2f"),
    MetricInfo("VGG", "lower", ".3f"),
    MetricInfo("LPIPS", "lower", ".3f"),
    MetricInfo("temporal L1", "lower", ".4f"),
    MetricInfo("flicker", "zero", "+.4f"),
    MetricInfo("FID", "lower", ".2f"),
    MetricInfo("FVD", "lower", ".1f"),
)}


def metric_info(name: str) -> MetricInfo:
    """Direction and format of a metric; any "... feature distance" is lower-is-better."""
    if name in METRICS:
        return METRICS[name]
    if name.endswith("feature distance"):
        return MetricInfo(name, "lower", ".4f")
    raise KeyError(f"unknown metric {name!r}; known: {', '.join(METRICS)} or '<tower> feature distance'")


def to_0_1(images, what: str = "images") -> torch.Tensor:
    """(N, H, W, 3) uint8 or float in [0, 1] -> (N, 3, H, W) float32 tensor in [0, 1]."""
    x = torch.as_tensor(np.asarray(images) if not isinstance(images, torch.Tensor) else images)
    if x.ndim != 4 or x.shape[-1] != 3:
        raise MetricError(f"{what} must be (N, H, W, 3) RGB frames, got shape {tuple(x.shape)}")
    if x.dtype == torch.uint8:
        x = x.float() / 255.0
    elif x.is_floating_point():
        x = x.float()
        if x.numel() and (x.min() < 0 or x.max() > 1):
            raise MetricError(f"{what}: float images must lie in [0, 1], got [{x.min():.3g}, {x.max():.3g}]; "
                              "convert [-1, 1] with (x + 1) / 2 or pass uint8")
    else:
        raise MetricError(f"{what} must be uint8 or float in [0, 1], got {x.dtype}")
    return x.permute(0, 3, 1, 2).contiguous()


def _pair(gen, gt) -> tuple[torch.Tensor, torch.Tensor]:
    a, b = to_0_1(gen, "generated frames"), to_0_1(gt, "ground-truth frames")
    if a.shape != b.shape:
        raise MetricError(f"generated frames {tuple(a.shape)} and ground truth {tuple(b.shape)} differ in shape "
                          "(N, 3, H, W); resize both to the comparison size first (protocol.resize_frames)")
    return a, b


def l1(gen, gt) -> np.ndarray:
    """Per-frame mean |x' - x| on the [0, 1] scale, shape (N,)."""
    a, b = _pair(gen, gt)
    return (a - b).abs().mean(dim=(1, 2, 3)).double().numpy()


def psnr(gen, gt) -> np.ndarray:
    """Per-frame PSNR in dB, data range 1; inf where the frames are identical."""
    a, b = _pair(gen, gt)
    mse = (a.double() - b.double()).pow(2).mean(dim=(1, 2, 3)).numpy()
    with np.errstate(divide="ignore"):
        return np.where(mse == 0, np.inf, -10.0 * np.log10(mse))


def ssim(gen, gt) -> np.ndarray:
    """Per-frame SSIM (torchmetrics, Gaussian 11x11, sigma 1.5, data range 1), in float64:
    float32 loses ~2e-4 to cancellation in the window variances."""
    a, b = _pair(gen, gt)
    if min(a.shape[-2:]) < 11:
        raise MetricError(f"SSIM needs frames of at least 11x11 px, got {tuple(a.shape[-2:])}; "
                          "raise eval.resolution")
    out = structural_similarity_index_measure(a.double(), b.double(), data_range=1.0, reduction="none")
    return out.double().numpy()


def _frame_deltas(gen, gt, runs: Sequence[int] | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """x'_{t+1} - x'_t and x_{t+1} - x_t for every consecutive pair; with ``runs`` (lengths of the
    runs of consecutive frames the sequence is made of) only pairs within a run."""
    a, b = _pair(gen, gt)
    runs = list(runs) if runs is not None else [a.shape[0]]
    if sum(runs) != a.shape[0]:
        raise MetricError(f"runs {runs} add up to {sum(runs)} frames, but there are {a.shape[0]}")
    if max(runs) < 2:
        raise MetricError(f"temporal metrics need at least 2 consecutive frames, got runs of {runs}")
    ends = np.cumsum(runs)
    pairs = [t for start, end in zip(ends - runs, ends) for t in range(start, end - 1)]
    return a[[t + 1 for t in pairs]] - a[pairs], b[[t + 1 for t in pairs]] - b[pairs]


def temporal_l1(gen, gt, runs: Sequence[int] | None = None) -> float:
    """1/(N-1) sum_t mean |(x'_{t+1} - x'_t) - (x_{t+1} - x_t)| over consecutive frames (within runs)."""
    da, db = _frame_deltas(gen, gt, runs)
    return float((da - db).abs().mean(dim=(1, 2, 3)).double().mean())


def flicker(gen, gt, runs: Sequence[int] | None = None) -> float:
    """Mean frame-to-frame change of x' minus that of x (0 ideal, > 0 flickers), within runs."""
    da, db = _frame_deltas(gen, gt, runs)
    return float(da.abs().mean(dim=(1, 2, 3)).double().mean() - db.abs().mean(dim=(1, 2, 3)).double().mean())


# --- pretrained perceptual networks: found in the torch hub cache, or honestly unavailable ---

VGG19_URL = "https://download.pytorch.org/models/vgg19-dcbb9e9d.pth"  # torchvision's IMAGENET1K_V1
VGG19_CFG = (64, 64, "M", 128, 128, "M", 256, 256, 256, 256, "M", 512, 512, 512, 512, "M", 512, 512, 512, 512)
VGG_SLICES = (2, 7, 12, 21, 30)  # ends of relu1_1, relu2_1, relu3_1, relu4_1, relu5_1 in vgg19.features
VGG_WEIGHTS = (1 / 32, 1 / 16, 1 / 8, 1 / 4, 1.0)
IMAGENET_MEAN, IMAGENET_STD = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)


class VGGDistance(torch.nn.Module):
    """The pix2pixHD VGG-19 perceptual distance (module doc), built without torchvision."""

    def __init__(self, state_dict: dict[str, torch.Tensor]):
        super().__init__()
        layers, c = [], 3
        for v in VGG19_CFG:
            if v == "M":
                layers.append(torch.nn.MaxPool2d(2, 2))
            else:
                layers += [torch.nn.Conv2d(c, v, 3, padding=1), torch.nn.ReLU(inplace=True)]
                c = v
        self.features = torch.nn.Sequential(*layers)
        self.features.load_state_dict({k[len("features."):]: v for k, v in state_dict.items()
                                       if k.startswith("features.")})
        self.register_buffer("mean", torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1))
        self.register_buffer("std", torch.tensor(IMAGENET_STD).view(1, 3, 1, 1))
        self.eval().requires_grad_(False)

    @torch.no_grad()
    def forward(self, gen: torch.Tensor, gt: torch.Tensor) -> torch.Tensor:
        """(N, 3, H, W) in [0, 1] twice -> (N,) distances."""
        a, b = (gen - self.mean) / self.std, (gt - self.mean) / self.std
        out, start = torch.zeros(a.shape[0], device=a.device), 0
        for end, w in zip(VGG_SLICES, VGG_WEIGHTS):
            for layer in self.features[start:end]:
                a, b = layer(a), layer(b)
            out += w * (a - b).abs().mean(dim=(1, 2, 3))
            start = end
        return out


@functools.lru_cache(maxsize=None)
def load_vgg() -> tuple[VGGDistance | None, str]:
    state, reason = hub_state(VGG19_URL)
    return (VGGDistance(state), "") if state is not None else (None, reason)


@functools.lru_cache(maxsize=None)
def load_lpips(net: str = "alex") -> tuple[torch.nn.Module | None, str]:
    """torchmetrics' LPIPS network; it takes its backbone (and weights) from torchvision."""
    if importlib.util.find_spec("torchvision") is None:
        return None, "torchvision is not installed (torchmetrics LPIPS takes its backbone from it)"
    try:
        import torchvision

        weights = {"alex": torchvision.models.AlexNet_Weights, "vgg": torchvision.models.VGG16_Weights,
                   "squeeze": torchvision.models.SqueezeNet1_1_Weights}[net].DEFAULT
        path, reason = hub_weights(weights.url)
        if path is None:
            return None, reason
        from torchmetrics.image.lpip import LearnedPerceptualImagePatchSimilarity

        return LearnedPerceptualImagePatchSimilarity(net_type=net, normalize=True).net.eval(), ""
    except Exception as err:  # noqa: BLE001 -- a broken torchvision install also means "unavailable"
        return None, f"LPIPS could not be built ({type(err).__name__}: {err})"


class FeatureDistance:
    """1 - cos(f(x'), f(x)) for an image tower ``fn``: (N, H, W, 3) uint8 -> (N, D) features."""

    def __init__(self, fn: Callable, name: str = "CLIP-tiny feature distance"):
        if not name.endswith("feature distance"):
            raise ValueError(f"feature metric name {name!r} must end with 'feature distance'")
        self.fn, self.name = fn, name

    @torch.no_grad()
    def __call__(self, gen: torch.Tensor, gt: torch.Tensor) -> np.ndarray:
        u8 = [(x * 255).round().to(torch.uint8).permute(0, 2, 3, 1).numpy() for x in (gen, gt)]
        fa, fb = (torch.as_tensor(np.asarray(self.fn(x))).float().flatten(1) for x in u8)
        return (1 - F.cosine_similarity(fa, fb, dim=1)).double().numpy()


class MetricSuite:
    """Every metric for one video: per-frame ones averaged over frames, temporal ones per sequence;
    and the set-level ones (``set_scores``: FID, FVD over all test videos of a method).

    ``perceptual``: the pretrained-network metrics VGG, LPIPS, FID and FVD, each n/a (with its
    reason in ``unavailable``) where its weights are missing. ``set_metrics`` replaces the
    pretrained FID and FVD (e.g. by tiny random networks in the tests)."""

    def __init__(self, perceptual: bool = True, features: list[FeatureDistance] | None = None,
                 device: str = "cpu", batch: int = 8, set_metrics: list[SetMetric] | None = None):
        self.device, self.batch = torch.device(device), batch
        self.features = list(features or [])
        self.unavailable: dict[str, str] = {}  # metric -> why it is n/a
        self.nets: dict[str, torch.nn.Module] = {}
        if perceptual:
            for name, (net, reason) in (("VGG", load_vgg()), ("LPIPS", load_lpips())):
                if net is None:
                    self.unavailable[name] = reason
                else:
                    self.nets[name] = net.to(self.device)
        per_frame = ["L1", "SSIM", "PSNR"] + (["VGG", "LPIPS"] if perceptual else [])
        self.names = per_frame + [f.name for f in self.features] + ["temporal L1", "flicker"]
        self.set_metrics: dict[str, SetMetric | str] = {m.name: m for m in set_metrics or []}
        if set_metrics is None and perceptual:
            for name, make, (net, reason) in (("FID", fid, load_inception()), ("FVD", fvd, load_i3d())):
                if net is None:
                    self.unavailable[name], self.set_metrics[name] = reason, NA
                else:
                    self.set_metrics[name] = make(net.to(self.device))
        self.set_names = list(self.set_metrics)

    def set_scores(self) -> SetScores:
        """A fresh collector of one method's set-level features (``add`` each video, then ``values``)."""
        return SetScores(self.set_metrics, self.device, self.batch)

    def _net(self, name: str, a: torch.Tensor, b: torch.Tensor) -> np.ndarray:
        net = self.nets[name]
        with torch.no_grad():
            out = [net(x.to(self.device), y.to(self.device)).flatten().double().cpu()
                   for x, y in zip(a.split(self.batch), b.split(self.batch))]
        return torch.cat(out).numpy()

    def __call__(self, gen, gt, runs: Sequence[int] | None = None) -> dict[str, float | str]:
        """Values for one video (frames in temporal order; ``runs``: the lengths of its runs of
        consecutive frames, default one run); inf PSNR stays inf."""
        a, b = _pair(gen, gt)
        a_hw, b_hw = a.permute(0, 2, 3, 1), b.permute(0, 2, 3, 1)
        per_frame: dict[str, np.ndarray | str] = {"L1": l1(a_hw, b_hw), "SSIM": ssim(a_hw, b_hw),
                                                  "PSNR": psnr(a_hw, b_hw)}
        for name in ("VGG", "LPIPS"):
            if name in self.names:
                per_frame[name] = self._net(name, a, b) if name in self.nets else NA
        for f in self.features:
            per_frame[f.name] = f(a, b)
        out: dict[str, float | str] = {k: v if isinstance(v, str) else float(np.mean(v)) for k, v in per_frame.items()}
        out["temporal L1"], out["flicker"] = temporal_l1(a_hw, b_hw, runs), flicker(a_hw, b_hw, runs)
        return out
