"""conv_in surgery (paper 4.2.2): the UNet's first convolution reads 4 + 2 * n_poses channels.

The pose window c_p (2 UV channels per pose) is concatenated to the noisy latent z_t, so the
first convolution needs 2 * n_poses more input channels. All pretrained weights of the 4
latent channels and the bias are copied unchanged and only the new channels are zero, so at
initialisation  conv_in'([z_t, c_p]) = conv_in(z_t)  for every c_p: the modified UNet computes
exactly what the pretrained one computes. (Public reimplementations got this wrong twice: one
zeroed a pretrained latent channel, another left the new bias random.) The UNet config's
``in_channels`` is updated, so ``save_pretrained`` / ``from_pretrained`` round-trip.
"""
from __future__ import annotations

import torch
from torch import nn

from ..data.pose import POSE_CHANNELS


@torch.no_grad()
def expand_conv_in(unet, n_poses: int):
    """Give ``unet`` 2 * n_poses zero-initialised pose input channels, in place; returns it."""
    if isinstance(n_poses, bool) or not isinstance(n_poses, int) or n_poses < 1 or n_poses % 2 == 0:
        raise ValueError(f"n_poses must be a positive odd integer, the window centred on the target frame "
                         f"(paper: 5, ablation Ours_1-pose: 1), got {n_poses!r}")
    latent = unet.config.in_channels
    if latent != unet.config.out_channels:
        raise ValueError(f"this UNet reads {latent} channels but predicts {unet.config.out_channels}: it already "
                         "has pose channels; apply expand_conv_in to the base (text-to-image) UNet only")
    old: nn.Conv2d = unet.conv_in
    new = nn.Conv2d(latent + POSE_CHANNELS * n_poses, old.out_channels, old.kernel_size, old.stride, old.padding,
                    dtype=old.weight.dtype, device=old.weight.device)
    new.weight.zero_()
    new.weight[:, :latent] = old.weight
    new.bias.copy_(old.bias)
    unet.conv_in = new
    unet.register_to_config(in_channels=latent + POSE_CHANNELS * n_poses)
    return unet


def n_poses_of(unet, latent_channels: int = 4) -> int:
    """How many poses a (modified) UNet reads: (in_channels - latent) / 2."""
    extra = unet.config.in_channels - latent_channels
    if extra <= 0 or extra % POSE_CHANNELS:
        raise ValueError(f"UNet with {unet.config.in_channels} input channels is not a DreamPose UNet "
                         f"(expected {latent_channels} + 2 * n_poses); build one with expand_conv_in")
    return extra // POSE_CHANNELS
