"""The split CLIP-VAE image encoder's adapter A (paper 4.2.1): c_I = A(c_CLIP, c_VAE).

c_CLIP are the CLIP image tower's tokens (B, 1 + g*g, D_clip): a CLS token and a g x g grid of
patch tokens. c_VAE is the VAE latent of the input image (B, C, h, w), scaled like the
diffusion latents. Design (ours, not the authors'):

    c_I[cls]   = P(c_CLIP[cls])   + W_g · vec(pool_k x k(c_VAE))
    c_I[i, j]  = P(c_CLIP[i, j])  + W_p · vec(pool_{gk x gk}(c_VAE)[cell i, j])

The VAE latent is centre-cropped to a square (as the CLIP processor crops the image) and
average-pooled onto the CLIP patch grid with k x k latent values per cell; W_p and W_g start
at ZERO. Adding to the patch token of the same image region keeps the token count (so the
UNet's cross-attention sees exactly the CLIP-only input at initialisation: appending extra
tokens, even zero ones, would take softmax mass) and gives the VAE detail a spatial address.
P is a trainable Linear D_clip -> D on every CLIP token, initialised to the (rectangular)
identity with zero bias: when D_clip = D (tiny: 64 = 64; SD 1.5 with CLIP ViT-B/32:
768 = 768) it starts as exactly the CLIP tokens, otherwise it copies the first min(D_clip, D)
features and zero-pads or truncates the rest. Finetuning can then map CLIP's image space onto
what the text-trained cross-attention expects, in both modes (it also gives the CLIP-only
adapter weights to save).

Shapes: tiny  c_CLIP (B, 65, 64),  c_VAE (B, 4, 16, 16) -> c_I (B, 65, 64),  k = 2;
        paper c_CLIP (B, 50, 768), c_VAE (B, 4, 80, 64) -> c_I (B, 50, 768), k = 2.
The authors instead max-pooled the latent to one token and mixed 51 -> 50 tokens with an
identity-initialised linear map. ``image_encoder="clip"`` (Ours_CLIP) has no VAE branch.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from diffusers import ConfigMixin, ModelMixin
from diffusers.configuration_utils import register_to_config  # documented there; not exported at the top
from torch import nn

from ..guidance import null_image_condition  # noqa: F401  (re-exported: one definition of ∅)

MODES = ("clip+vae", "clip")


class DreamPoseAdapter(ModelMixin, ConfigMixin):
    """A: (c_CLIP (B, 1 + g*g, D_clip), c_VAE (B, C, h, w)) -> c_I (B, 1 + g*g, D)."""

    @register_to_config
    def __init__(self, clip_dim: int, cross_attention_dim: int, latent_channels: int = 4, grid: int = 8,
                 cell: int = 2, mode: str = "clip+vae"):
        super().__init__()
        if mode not in MODES:
            raise ValueError(f"image_encoder mode must be one of {MODES} (profile key model.image_encoder), "
                             f"got {mode!r}")
        if cell < 1 or grid < 1:
            raise ValueError(f"grid and cell must be >= 1, got grid={grid}, cell={cell}")
        self.proj = nn.Linear(clip_dim, cross_attention_dim)
        nn.init.eye_(self.proj.weight)  # (rectangular) identity: starts as the CLIP tokens themselves
        nn.init.zeros_(self.proj.bias)
        if mode == "clip+vae":
            features = latent_channels * cell * cell
            self.vae_patch = nn.Linear(features, cross_attention_dim)
            self.vae_global = nn.Linear(features, cross_attention_dim)
            for layer in (self.vae_patch, self.vae_global):  # zero init: starts as CLIP only
                nn.init.zeros_(layer.weight)
                nn.init.zeros_(layer.bias)

    def vae_tokens(self, c_vae: torch.Tensor) -> torch.Tensor:
        """(B, C, h, w) -> (B, 1 + g*g, D): the VAE branch's addition to each token."""
        g, k = self.config.grid, self.config.cell
        b, c, h, w = c_vae.shape
        s = min(h, w)
        top, left = (h - s) // 2, (w - s) // 2
        square = c_vae[:, :, top:top + s, left:left + s]
        cells = F.adaptive_avg_pool2d(square, g * k)  # (B, C, gk, gk)
        cells = cells.reshape(b, c, g, k, g, k).permute(0, 2, 4, 1, 3, 5).reshape(b, g * g, c * k * k)
        pooled = F.adaptive_avg_pool2d(square, k).reshape(b, 1, c * k * k)
        return torch.cat([self.vae_global(pooled), self.vae_patch(cells)], dim=1)

    def forward(self, clip_tokens: torch.Tensor, c_vae: torch.Tensor | None = None) -> torch.Tensor:
        g = self.config.grid
        if clip_tokens.shape[1] != 1 + g * g:
            raise ValueError(f"expected 1 + {g}x{g} = {1 + g * g} CLIP tokens, got {clip_tokens.shape[1]}; "
                             "build the adapter with grid = sqrt(number of patch tokens)")
        tokens = self.proj(clip_tokens)
        if self.config.mode == "clip+vae":
            if c_vae is None:
                raise ValueError("the clip+vae adapter needs the VAE latent of the input image")
            if c_vae.ndim != 4 or c_vae.shape[1] != self.config.latent_channels:
                raise ValueError(f"c_VAE must be (B, {self.config.latent_channels}, h, w) VAE latents, "
                                 f"got {tuple(c_vae.shape)}")
            tokens = tokens + self.vae_tokens(c_vae.to(tokens.dtype))
        return tokens

    def vae_branch_parameters(self) -> list[nn.Parameter]:
        """W_p, W_g and their biases: the weights that read c_VAE (none in a CLIP-only adapter)."""
        if self.config.mode != "clip+vae":
            return []
        return [*self.vae_patch.parameters(), *self.vae_global.parameters()]

    @torch.no_grad()
    def vae_share(self, clip_tokens: torch.Tensor, c_vae: torch.Tensor) -> dict[str, float]:
        """How much of c_I = proj(c_CLIP) + vae_tokens(c_VAE) the VAE branch makes, for a batch of
        B >= 2 input images: "tokens", the mean per-token norm ratio |vae_tokens| / |proj|; and
        "variation", the same ratio for the tokens' spread across the images (the part that can
        tell one person from another). Both are 0 at the zero init (paper 4.2.1)."""
        if self.config.mode != "clip+vae":
            raise ValueError("vae_share needs a clip+vae adapter; a CLIP-only one has no VAE branch")
        if clip_tokens.shape[0] < 2:
            raise ValueError(f"vae_share needs at least 2 input images to measure their spread, got "
                             f"{clip_tokens.shape[0]}")
        clip_part = self.proj(clip_tokens)
        vae_part = self.vae_tokens(c_vae.to(clip_part.dtype))
        return {"tokens": (vae_part.norm(dim=-1) / clip_part.norm(dim=-1)).mean().item(),
                "variation": (vae_part.std(0).norm(dim=-1).mean() / clip_part.std(0).norm(dim=-1).mean()).item()}

    @classmethod
    def for_encoders(cls, image_encoder, unet, vae, mode: str = "clip+vae") -> "DreamPoseAdapter":
        """An adapter sized for a CLIP image tower, a UNet and a VAE."""
        vc = image_encoder.config
        grid = vc.image_size // vc.patch_size
        return cls(clip_dim=vc.hidden_size, cross_attention_dim=unet.config.cross_attention_dim,
                   latent_channels=vae.config.latent_channels, grid=grid, cell=2, mode=mode)
