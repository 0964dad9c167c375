"""Dual classifier-free guidance (paper 4.4, the equation of section 4.4):

    eps(z_t, c_I, c_p) = eps(z_t, ∅, ∅)
                       + s_I * (eps(z_t, c_I, ∅)   - eps(z_t, ∅, ∅))
                       + s_p * (eps(z_t, c_I, c_p) - eps(z_t, c_I, ∅))

Rewritten as weights of the three branches: (1 - s_I) * uncond + (s_I - s_p) * image +
s_p * full. A branch whose weight is 0 is not evaluated (s_I = s_p = 1 needs only the full
branch). The branches that remain go through the UNet in ONE batched call and are split
after, as diffusers' InstructPix2Pix does. The null image condition is all zeros (the same
definition training dropout uses, ``null_image_condition``) and the null pose is all zeros.
"""
from __future__ import annotations

import math
import numbers

import torch

BRANCHES = ("uncond", "image", "full")


def check_scale(name: str, value: float) -> float:
    """A guidance weight as a float; anything but a finite real number is a ValueError."""
    if isinstance(value, torch.Tensor) and value.numel() == 1:
        value = value.item()
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not math.isfinite(value):
        raise ValueError(f"{name} must be a finite number (paper demo: s_I = 8, s_p = 3), got {value!r}")
    return float(value)


def null_image_condition(c_image: torch.Tensor) -> torch.Tensor:
    """The null image condition ∅ (paper 4.4): zeros of c_I's shape.

    One definition for training dropout and for guidance at test time. The UNet's key/value
    projections have no bias, so a zero condition feeds zero values to cross-attention
    whatever its token count (one or several input images give the same ∅ branch).
    """
    return torch.zeros_like(c_image)


def null_pose(pose: torch.Tensor) -> torch.Tensor:
    """The null pose condition ∅: an all-zero pose window of c_p's shape."""
    return torch.zeros_like(pose)


def branch_weights(s_image: float, s_pose: float) -> dict[str, float]:
    """Weights of eps(∅,∅), eps(c_I,∅), eps(c_I,c_p) in the guided eps; zero weights dropped."""
    s_image = check_scale("image_guidance_scale", s_image)
    s_pose = check_scale("pose_guidance_scale", s_pose)
    weights = {"uncond": 1.0 - s_image, "image": s_image - s_pose, "full": s_pose}
    return {k: w for k, w in weights.items() if w != 0.0}  # never empty: the weights sum to 1


def combine(eps_uncond, eps_image, eps_full, s_image: float, s_pose: float) -> torch.Tensor:
    """The paper's equation, term by term."""
    return eps_uncond + s_image * (eps_image - eps_uncond) + s_pose * (eps_full - eps_image)


def guided_eps(unet, z_t, t, c_image, pose, s_image: float, s_pose: float, null_image=None):
    """Dual-guided noise prediction with the needed branches in one UNet call.

    z_t (B, C, h, w); t a scalar or (B,) timesteps; c_image (B, N, D); pose (B, 2 * n_poses, h, w);
    ``null_image`` defaults to zeros (the null image condition). Returns eps (B, C, h, w).
    """
    weights = branch_weights(s_image, s_pose)
    null_image = null_image_condition(c_image) if null_image is None else null_image
    no_pose = null_pose(pose)
    conds = {"uncond": (null_image, no_pose), "image": (c_image, no_pose), "full": (c_image, pose)}
    names = list(weights)
    x = torch.cat([torch.cat([z_t, conds[n][1]], dim=1) for n in names])
    states = torch.cat([conds[n][0] for n in names])
    timestep = t if torch.as_tensor(t).ndim == 0 else torch.as_tensor(t).repeat(len(names))
    eps = unet(x, timestep, encoder_hidden_states=states).sample.chunk(len(names))
    return sum(weights[n] * e for n, e in zip(names, eps))
