"""Set-level Fréchet distances (FID, FVD): one value per method over all test videos.

The features of the generated samples and of the real ones are each fitted with a Gaussian,
mu = mean, Sigma = sample covariance (ddof 1), and compared with the Fréchet (2-Wasserstein)
distance between the two Gaussians:

    d^2 = |mu_g - mu_r|^2 + tr(Sigma_g + Sigma_r - 2 (Sigma_g Sigma_r)^(1/2))

computed in float64 as tr((Sigma_g Sigma_r)^(1/2)) = sum_i sqrt(lambda_i) over the eigenvalues
of the symmetric PSD matrix Sigma_g^(1/2) Sigma_r Sigma_g^(1/2) (negative rounding clamped to
0): exact for singular covariances, so no eps*I is added as scipy's ``sqrtm`` path of
pytorch-fid needs. Like every FID/FVD, the value is biased upwards for few samples and only
comparable between methods scored on the same number of samples.

A ``SetMetric`` names the network and how one video's frames become its samples: FID takes
every frame, FVD every 16-frame clip (``i3d.clips``). ``SetScores`` collects the features of
one method over the test set and gives each metric's value, or an n/a string with the reason.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import torch


def gaussian(features: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(n, D) features -> (mean (D,), sample covariance (D, D)) in float64; n >= 2."""
    x = features.double()
    if x.ndim != 2 or x.shape[0] < 2:
        raise ValueError(f"a Gaussian needs (n, D) features with n >= 2, got shape {tuple(x.shape)}")
    return x.mean(0), torch.cov(x.T, correction=1).reshape(x.shape[1], x.shape[1])


def _psd_sqrt(s: torch.Tensor) -> torch.Tensor:
    w, v = torch.linalg.eigh(s)
    return (v * w.clamp(min=0).sqrt()) @ v.T


def frechet_distance(mu1: torch.Tensor, s1: torch.Tensor, mu2: torch.Tensor, s2: torch.Tensor) -> float:
    """d^2 between N(mu1, s1) and N(mu2, s2) (module doc), >= 0."""
    mu1, s1, mu2, s2 = (t.double() for t in (mu1, s1, mu2, s2))
    r = _psd_sqrt(s1)
    m = r @ s2 @ r
    cross = torch.linalg.eigvalsh((m + m.T) / 2).clamp(min=0).sqrt().sum()
    return max(float((mu1 - mu2).pow(2).sum() + torch.trace(s1) + torch.trace(s2) - 2 * cross), 0.0)


def frechet_of(gen: torch.Tensor, real: torch.Tensor) -> float:
    """The Fréchet distance between the Gaussians fitted to two (n, D) feature sets."""
    return frechet_distance(*gaussian(gen), *gaussian(real))


def frames_as_samples(frames: torch.Tensor) -> torch.Tensor:
    return frames


@dataclass(frozen=True)
class SetMetric:
    """``net``: a batch of samples -> (n, D) features; ``samples``: one video's frames (N, 3, H, W)
    in [0, 1], in temporal order -> its samples; ``unit``: what a sample is, for messages."""

    name: str
    net: torch.nn.Module
    samples: Callable[[torch.Tensor], torch.Tensor] = frames_as_samples
    unit: str = "frames"


class SetScores:
    """Features of every generated and real sample of one method's test videos (``add`` per video).

    ``metrics``: name -> its ``SetMetric``, or the n/a string of a metric that cannot run here."""

    def __init__(self, metrics: dict[str, SetMetric | str], device="cpu", batch: int = 8):
        self.metrics, self.device, self.batch = metrics, torch.device(device), batch
        self.features: dict[str, tuple[list[torch.Tensor], list[torch.Tensor]]] = {
            name: ([], []) for name, m in metrics.items() if isinstance(m, SetMetric)}

    def _embed(self, metric: SetMetric, frames: torch.Tensor) -> torch.Tensor:
        samples = metric.samples(frames)
        if len(samples) == 0:
            return torch.zeros(0, 0, dtype=torch.float64)
        return torch.cat([metric.net(s.to(self.device)).double().cpu() for s in samples.split(self.batch)])

    def add(self, gen: torch.Tensor, real: torch.Tensor) -> None:
        """One video: generated and real frames (N, 3, H, W) in [0, 1], temporal order."""
        for name, (g, r) in self.features.items():
            g.append(self._embed(self.metrics[name], gen))
            r.append(self._embed(self.metrics[name], real))

    def values(self) -> dict[str, float | str]:
        """Each metric's Fréchet distance, or "n/a: <reason>" (no weights, fewer than 2 samples)."""
        out: dict[str, float | str] = {}
        for name, m in self.metrics.items():
            if isinstance(m, str):
                out[name] = m
                continue
            gen, real = (torch.cat([f for f in fs if len(f)] or [torch.zeros(0, 0)]) for fs in self.features[name])
            out[name] = frechet_of(gen, real) if min(len(gen), len(real)) >= 2 else (
                f"n/a: {len(gen)} generated {m.unit} in the test set; a Fréchet distance needs at least 2")
        return out
