"""The FID Inception-v3, written without torchvision: frames in, 2048-d pool features out.

FID (Heusel et al. 2017) embeds every frame with TensorFlow's 2015-12-05 Inception-v3 and
keeps the 2048-d global average pool ("pool3"). This is that network as pytorch-fid ports it:
frames (N, 3, H, W) in [0, 1] are resized to 299 x 299 (bilinear, align_corners=False, no
anti-aliasing, no re-quantisation) and scaled to [-1, 1]. It differs from torchvision's
Inception-v3 in its weights and in three pools: the average pools of the A, C and first E
blocks leave the zero padding out of the mean (TensorFlow's), and the last E block pools with
max instead of average. Weights: pytorch-fid's ``pt_inception-2015-12-05-6726825d.pth``
(torchvision's key layout), from the torch hub cache (``weights``).

``width`` multiplies every channel count: 1 for the pretrained weights; the tests build tiny,
randomly initialised copies to run every path offline.
"""
from __future__ import annotations

import functools

import torch
import torch.nn.functional as F
from torch import nn

from .frechet import SetMetric
from .weights import hub_state

FID_WEIGHTS_URL = ("https://github.com/mseitzer/pytorch-fid/releases/download/fid_weights/"
                   "pt_inception-2015-12-05-6726825d.pth")
FID_SIZE = 299


class Conv(nn.Module):
    """Conv (no bias) -> BatchNorm (eps 1e-3) -> ReLU; keys ``conv.*``, ``bn.*`` as torchvision's."""

    def __init__(self, cin: int, cout: int, kernel, stride=1, padding=0):
        super().__init__()
        self.conv = nn.Conv2d(cin, cout, kernel, stride, padding, bias=False)
        self.bn = nn.BatchNorm2d(cout, eps=0.001)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.relu(self.bn(self.conv(x)))


def _avg_pool(x: torch.Tensor) -> torch.Tensor:
    return F.avg_pool2d(x, 3, stride=1, padding=1, count_include_pad=False)


class BlockA(nn.Module):
    def __init__(self, cin: int, pool: int, c):
        super().__init__()
        self.branch1x1 = Conv(cin, c(64), 1)
        self.branch5x5_1, self.branch5x5_2 = Conv(cin, c(48), 1), Conv(c(48), c(64), 5, padding=2)
        self.branch3x3dbl_1 = Conv(cin, c(64), 1)
        self.branch3x3dbl_2 = Conv(c(64), c(96), 3, padding=1)
        self.branch3x3dbl_3 = Conv(c(96), c(96), 3, padding=1)
        self.branch_pool = Conv(cin, c(pool), 1)
        self.out = c(64) + c(64) + c(96) + c(pool)

    def forward(self, x):
        return torch.cat([self.branch1x1(x), self.branch5x5_2(self.branch5x5_1(x)),
                          self.branch3x3dbl_3(self.branch3x3dbl_2(self.branch3x3dbl_1(x))),
                          self.branch_pool(_avg_pool(x))], 1)


class BlockB(nn.Module):
    def __init__(self, cin: int, c):
        super().__init__()
        self.branch3x3 = Conv(cin, c(384), 3, stride=2)
        self.branch3x3dbl_1 = Conv(cin, c(64), 1)
        self.branch3x3dbl_2 = Conv(c(64), c(96), 3, padding=1)
        self.branch3x3dbl_3 = Conv(c(96), c(96), 3, stride=2)
        self.out = c(384) + c(96) + cin

    def forward(self, x):
        return torch.cat([self.branch3x3(x), self.branch3x3dbl_3(self.branch3x3dbl_2(self.branch3x3dbl_1(x))),
                          F.max_pool2d(x, 3, stride=2)], 1)


class BlockC(nn.Module):
    def __init__(self, cin: int, c7: int, c):
        super().__init__()
        w, t = (1, 7), (7, 1)  # 1x7 and 7x1 factorised convolutions
        pw, pt = (0, 3), (3, 0)
        self.branch1x1 = Conv(cin, c(192), 1)
        self.branch7x7_1 = Conv(cin, c(c7), 1)
        self.branch7x7_2 = Conv(c(c7), c(c7), w, padding=pw)
        self.branch7x7_3 = Conv(c(c7), c(192), t, padding=pt)
        self.branch7x7dbl_1 = Conv(cin, c(c7), 1)
        self.branch7x7dbl_2 = Conv(c(c7), c(c7), t, padding=pt)
        self.branch7x7dbl_3 = Conv(c(c7), c(c7), w, padding=pw)
        self.branch7x7dbl_4 = Conv(c(c7), c(c7), t, padding=pt)
        self.branch7x7dbl_5 = Conv(c(c7), c(192), w, padding=pw)
        self.branch_pool = Conv(cin, c(192), 1)
        self.out = 4 * c(192)

    def forward(self, x):
        a = self.branch7x7_3(self.branch7x7_2(self.branch7x7_1(x)))
        b = x
        for k in range(1, 6):
            b = getattr(self, f"branch7x7dbl_{k}")(b)
        return torch.cat([self.branch1x1(x), a, b, self.branch_pool(_avg_pool(x))], 1)


class BlockD(nn.Module):
    def __init__(self, cin: int, c):
        super().__init__()
        self.branch3x3_1, self.branch3x3_2 = Conv(cin, c(192), 1), Conv(c(192), c(320), 3, stride=2)
        self.branch7x7x3_1 = Conv(cin, c(192), 1)
        self.branch7x7x3_2 = Conv(c(192), c(192), (1, 7), padding=(0, 3))
        self.branch7x7x3_3 = Conv(c(192), c(192), (7, 1), padding=(3, 0))
        self.branch7x7x3_4 = Conv(c(192), c(192), 3, stride=2)
        self.out = c(320) + c(192) + cin

    def forward(self, x):
        b = x
        for k in range(1, 5):
            b = getattr(self, f"branch7x7x3_{k}")(b)
        return torch.cat([self.branch3x3_2(self.branch3x3_1(x)), b, F.max_pool2d(x, 3, stride=2)], 1)


class BlockE(nn.Module):
    """``max_pool``: the FID network's last block pools with max (pytorch-fid's FIDInceptionE_2)."""

    def __init__(self, cin: int, c, max_pool: bool):
        super().__init__()
        self.max_pool = max_pool
        self.branch1x1 = Conv(cin, c(320), 1)
        self.branch3x3_1 = Conv(cin, c(384), 1)
        self.branch3x3_2a = Conv(c(384), c(384), (1, 3), padding=(0, 1))
        self.branch3x3_2b = Conv(c(384), c(384), (3, 1), padding=(1, 0))
        self.branch3x3dbl_1 = Conv(cin, c(448), 1)
        self.branch3x3dbl_2 = Conv(c(448), c(384), 3, padding=1)
        self.branch3x3dbl_3a = Conv(c(384), c(384), (1, 3), padding=(0, 1))
        self.branch3x3dbl_3b = Conv(c(384), c(384), (3, 1), padding=(1, 0))
        self.branch_pool = Conv(cin, c(192), 1)
        self.out = c(320) + 4 * c(384) + c(192)

    def forward(self, x):
        a = self.branch3x3_1(x)
        b = self.branch3x3dbl_2(self.branch3x3dbl_1(x))
        pool = F.max_pool2d(x, 3, stride=1, padding=1) if self.max_pool else _avg_pool(x)
        return torch.cat([self.branch1x1(x), self.branch3x3_2a(a), self.branch3x3_2b(a),
                          self.branch3x3dbl_3a(b), self.branch3x3dbl_3b(b), self.branch_pool(pool)], 1)


class FIDInception(nn.Module):
    """(N, 3, H, W) frames in [0, 1] -> (N, 2048 * width) pool3 features (module doc)."""

    def __init__(self, width: float = 1.0):
        super().__init__()

        def c(n: int) -> int:
            return max(1, round(n * width))

        self.Conv2d_1a_3x3 = Conv(3, c(32), 3, stride=2)
        self.Conv2d_2a_3x3 = Conv(c(32), c(32), 3)
        self.Conv2d_2b_3x3 = Conv(c(32), c(64), 3, padding=1)
        self.Conv2d_3b_1x1 = Conv(c(64), c(80), 1)
        self.Conv2d_4a_3x3 = Conv(c(80), c(192), 3)
        blocks = {}
        cin = c(192)
        for name, make in (("Mixed_5b", lambda i: BlockA(i, 32, c)), ("Mixed_5c", lambda i: BlockA(i, 64, c)),
                           ("Mixed_5d", lambda i: BlockA(i, 64, c)), ("Mixed_6a", lambda i: BlockB(i, c)),
                           ("Mixed_6b", lambda i: BlockC(i, 128, c)), ("Mixed_6c", lambda i: BlockC(i, 160, c)),
                           ("Mixed_6d", lambda i: BlockC(i, 160, c)), ("Mixed_6e", lambda i: BlockC(i, 192, c)),
                           ("Mixed_7a", lambda i: BlockD(i, c)), ("Mixed_7b", lambda i: BlockE(i, c, False)),
                           ("Mixed_7c", lambda i: BlockE(i, c, True))):
            blocks[name] = make(cin)
            cin = blocks[name].out
        for name, block in blocks.items():
            self.add_module(name, block)
        self.blocks = list(blocks)
        self.dim = cin
        self.eval().requires_grad_(False)

    @torch.no_grad()
    def forward(self, frames: torch.Tensor) -> torch.Tensor:
        x = F.interpolate(frames, size=(FID_SIZE, FID_SIZE), mode="bilinear", align_corners=False) * 2 - 1
        x = self.Conv2d_2b_3x3(self.Conv2d_2a_3x3(self.Conv2d_1a_3x3(x)))
        x = self.Conv2d_4a_3x3(self.Conv2d_3b_1x1(F.max_pool2d(x, 3, stride=2)))
        x = F.max_pool2d(x, 3, stride=2)
        for name in self.blocks:
            x = getattr(self, name)(x)
        return x.mean(dim=(2, 3))


@functools.lru_cache(maxsize=None)
def load_inception() -> tuple[FIDInception | None, str]:
    """The pretrained FID Inception, or (None, why it is unavailable)."""
    state, reason = hub_state(FID_WEIGHTS_URL)
    if state is None:
        return None, reason
    net = FIDInception()
    net.load_state_dict({k: v for k, v in state.items() if not k.startswith(("fc.", "AuxLogits."))})
    return net, ""


def fid(net: FIDInception) -> SetMetric:
    """FID with ``net``: every frame of every test video is a sample."""
    return SetMetric("FID", net)
