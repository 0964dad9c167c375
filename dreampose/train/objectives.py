"""The losses of DreamPose's finetuning stages (paper 4.2.3), as modules for `train.loop`.

DreamPoseObjective (stage 1 and subject finetuning) trains the UNet and the adapter with
the noise-prediction loss of latent diffusion (paper section 3),

    L = E_{z, eps, t} || eps - eps_theta(z_t, t, c_I, c_p) ||^2,

where z = E(x_target), c_I = A(c_CLIP(x0), c_VAE(x0)) and c_p is the target's pose window
(concatenated to z_t on the channel axis). Conditioning dropout for dual classifier-free
guidance (paper 4.4) is decided by ONE uniform draw u per sample:

    u < both                      -> drop image and pose
    both <= u < image             -> drop the image only
    image <= u < image + pose - both -> drop the pose only

so the marginal rates are exactly ``image_dropout`` and ``pose_dropout``. A dropped image
becomes the null image condition (zeros, the same null the sampler uses); a dropped pose
becomes the zero pose. In the subject stage the conditioning image x0 is the same photo(s) at
every step (only the target is cropped), so ``fixed_images`` encodes each distinct batch of
them once: the encoders are frozen, so the loss is the same, at about a third less time.
``vae_branch_lr_scale`` gives the adapter's VAE branch (zero at the start of stage 1) its own
learning rate, lr x scale (``stage1.`` and ``subject.vae_branch_lr_scale``; 1, the paper: one lr).

DecoderObjective finetunes only the VAE decoder D on the subject image(s) with a
reconstruction loss ||D(E(x)) - x||_1 + ||D(E(x)) - x||_2^2, the encoder E frozen.

Both read the posterior q(z | x) of the frozen encoder through a ``PosteriorMemo`` where one is
given: the per-subject stages pass ``POSTERIORS``, kept for the whole process, because their
encoder passes repeat. The subject stages of Ours_Full, Ours_CLIP and Ours_1-pose draw the same
random crops (same seed), and the decoder stage of the same image(s) draws the first of them.
z is still sampled from each step's own generator, so the trained weights are the same.
"""
from __future__ import annotations

import hashlib
import math
from collections import OrderedDict

import torch
import torch.nn.functional as F
from diffusers import DDPMScheduler
from torch import nn


def dropout_masks(
    n: int, image: float, pose: float, both: float, generator: torch.Generator
) -> tuple[torch.Tensor, torch.Tensor]:
    """Boolean masks (drop_image, drop_pose) of length n from one uniform draw per sample."""
    u = torch.rand(n, generator=generator)
    drop_both = u < both
    drop_image_only = (u >= both) & (u < image)
    drop_pose_only = (u >= image) & (u < image + pose - both)
    return drop_both | drop_image_only, drop_both | drop_pose_only


def _digest(*parts) -> str:
    h = hashlib.sha1()
    for part in parts:
        h.update(part.detach().cpu().contiguous().reshape(-1).view(torch.uint8).numpy().tobytes()  # any dtype
                 if torch.is_tensor(part) else repr(part).encode())
    return h.hexdigest()


class PosteriorMemo:
    """q(z | x) = N(mean, std^2) of a frozen VAE encoder per batch of pixels, keyed by the
    encoder's weights and the batch's bytes; least recently used batches go beyond ``max_bytes``."""

    def __init__(self, max_bytes: int = 256 * 2**20):
        self.max_bytes = max_bytes
        self._moments: OrderedDict[str, tuple[type, torch.Tensor]] = OrderedDict()
        self.clear()

    def clear(self) -> None:
        self._moments.clear()
        self.hits = self.misses = self._bytes = 0

    @staticmethod
    def encoder_key(vae) -> str:
        """What the posterior depends on besides the pixels: the encoder's weights, dtype and device."""
        return _digest(vae.dtype, vae.device, *vae.encoder.state_dict().values(), *vae.quant_conv.state_dict().values())

    def posterior(self, vae, pixels: torch.Tensor, encoder_key: str):
        """``vae.encode(pixels).latent_dist``, encoded once per distinct batch (``encoder_key``: ``encoder_key(vae)``)."""
        key = _digest(encoder_key, tuple(pixels.shape), pixels.dtype, torch.is_autocast_enabled(pixels.device.type),
                      pixels)
        if key in self._moments:
            self.hits += 1
            self._moments.move_to_end(key)
            kind, moments = self._moments[key]
            return kind(moments)
        self.misses += 1
        dist = vae.encode(pixels.to(vae.device, vae.dtype)).latent_dist
        self._moments[key] = (type(dist), dist.parameters)
        self._bytes += dist.parameters.nbytes
        while self._bytes > self.max_bytes and len(self._moments) > 1:
            self._bytes -= self._moments.popitem(last=False)[1][1].nbytes
        return dist


POSTERIORS = PosteriorMemo()  # the process's memo, for the per-subject stages


class DreamPoseObjective(nn.Module):
    """Noise-prediction loss of the pose- and image-conditioned UNet; trains UNet + adapter."""

    def __init__(self, pipe, image_dropout: float = 0.0, pose_dropout: float = 0.0, both_dropout: float = 0.0, *,
                 fixed_images: bool = False, posteriors: PosteriorMemo | None = None,
                 vae_branch_lr_scale: float = 1.0):
        super().__init__()
        if not (vae_branch_lr_scale > 0 and math.isfinite(vae_branch_lr_scale)):
            raise ValueError(f"vae_branch_lr_scale must be a positive number (stage1. or subject.vae_branch_lr_scale), "
                             f"got {vae_branch_lr_scale!r}")
        self.unet, self.adapter = pipe.unet, pipe.adapter
        self.vae, self.image_encoder = pipe.vae, pipe.image_encoder  # frozen; registered so .to() moves them
        self.vae.requires_grad_(False)
        self.image_encoder.requires_grad_(False)
        self.unet.requires_grad_(True)
        self.adapter.requires_grad_(True)
        self.pipe = pipe
        self.noise_scheduler = DDPMScheduler.from_config(pipe.scheduler.config)
        self.rates = (image_dropout, pose_dropout, both_dropout)
        self._features: dict[str, tuple] | None = {} if fixed_images else None
        self.posteriors = posteriors
        self._encoder_key = PosteriorMemo.encoder_key(self.vae) if posteriors is not None else None
        self.vae_branch_lr_scale = vae_branch_lr_scale

    def param_groups(self, lr: float) -> list[dict]:
        """The optimizer's parameter groups: the adapter's VAE branch at ``lr`` x
        ``vae_branch_lr_scale``, everything else trainable at ``lr`` (one group when the scale is 1)."""
        trainable = [p for p in self.parameters() if p.requires_grad]
        branch = {id(p) for p in self.adapter.vae_branch_parameters()}
        if self.vae_branch_lr_scale == 1 or not branch:
            return [{"params": trainable, "lr": lr}]
        return [{"params": [p for p in trainable if id(p) not in branch], "lr": lr},
                {"params": [p for p in trainable if id(p) in branch], "lr": lr * self.vae_branch_lr_scale}]

    def image_features(self, images: torch.Tensor) -> tuple:
        """(c_CLIP, c_VAE) of the conditioning images; with ``fixed_images``, encoded once per
        distinct batch (the subject stage draws from K photos: at most K^batch_size batches)."""
        if self._features is None:
            return self.pipe.encode_image_features(images)
        key = _digest(tuple(images.shape), images)
        if key not in self._features:
            self._features[key] = self.pipe.encode_image_features(images)
        return self._features[key]

    def forward(self, batch: dict, generator: torch.Generator) -> torch.Tensor:
        pipe = self.pipe
        device = next(self.unet.parameters()).device
        target = batch["target"].to(device)
        pose = batch["pose"].to(device)
        with torch.no_grad():
            if self.posteriors is None:
                z = pipe.encode_latents(target, generator=generator)
            else:  # as encode_latents does, through the memo
                dist = self.posteriors.posterior(pipe.vae, target, self._encoder_key)
                z = dist.sample(generator=generator) * pipe.vae.config.scaling_factor
            clip_tokens, c_vae = self.image_features(batch["image"].to(device))
        c_image = self.adapter(clip_tokens, c_vae)
        n = z.shape[0]
        drop_image, drop_pose = dropout_masks(n, *self.rates, generator)
        if drop_image.any():
            null = pipe.null_image_condition(c_image)
            c_image = torch.where(drop_image.to(device)[:, None, None], null, c_image)
        if drop_pose.any():
            pose = torch.where(drop_pose.to(device)[:, None, None, None], torch.zeros_like(pose), pose)
        noise = torch.randn(z.shape, generator=generator).to(device)
        t = torch.randint(0, self.noise_scheduler.config.num_train_timesteps, (n,), generator=generator).to(device)
        z_t = self.noise_scheduler.add_noise(z, noise, t)
        eps = self.unet(torch.cat([z_t, pose], dim=1), t, encoder_hidden_states=c_image).sample
        return F.mse_loss(eps.float(), noise.float())


class DecoderObjective(nn.Module):
    """Reconstruction loss of the VAE decoder on the subject image(s); encoder frozen."""

    def __init__(self, vae, posteriors: PosteriorMemo | None = None):
        super().__init__()
        self.vae = vae
        vae.requires_grad_(False)
        vae.decoder.requires_grad_(True)
        vae.post_quant_conv.requires_grad_(True)
        self.posteriors = posteriors
        self._encoder_key = PosteriorMemo.encoder_key(vae) if posteriors is not None else None

    def forward(self, batch: dict, generator: torch.Generator) -> torch.Tensor:
        x = batch["target"].to(self.vae.device)
        with torch.no_grad():
            if self.posteriors is None:
                z = self.vae.encode(x).latent_dist.sample(generator=generator)
            else:
                z = self.posteriors.posterior(self.vae, x, self._encoder_key).sample(generator=generator)
        recon = self.vae.decode(z).sample
        return F.l1_loss(recon, x) + F.mse_loss(recon, x)
