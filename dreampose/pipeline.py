"""DreamPosePipeline: an input image and a pose sequence in, a list of frames out (paper 4.1).

Every frame is sampled independently from its own noise (paper 4.1), with dual classifier-free
guidance (paper 4.4, `dreampose.guidance`), and decoded x'_i = D(z'_i). Several frames go
through one UNet call (``frames_per_batch``), each with the needed guidance branches; the
image condition c_I is encoded once per call. Initial noise for all frames is drawn up front
from ``generator``, so the frames do not depend on ``frames_per_batch``.

Registered modules: vae, unet (4 + 2 * n_poses input channels, `models.surgery`), adapter
(`models.adapter`), image_encoder (CLIP image tower), feature_extractor (its processor, whose
crop size and mean/std `conditioning.clip_preprocess` applies in torch), scheduler (PNDM as in
the paper; any diffusers scheduler can be swapped in, see `make_scheduler`).

Recommended sampler (BENCHMARKS.md): ``RECOMMENDED_SAMPLER``, DPM-Solver++ with 15 steps, within
1% of PNDM 100 on every metric at 6.7x fewer UNet evaluations; the paper's PNDM 100 stays the
default of ``from_base`` and of ``__call__``.
"""
from __future__ import annotations

import copy
import numbers
from dataclasses import dataclass

import numpy as np
import torch
from diffusers import (DDIMScheduler, DiffusionPipeline, DPMSolverMultistepScheduler, EulerDiscreteScheduler,
                       PNDMScheduler)
from diffusers.utils import BaseOutput

from .data.images import as_image_batch, clip_preprocess
from .data.pose import as_pose_windows
from .guidance import check_scale, guided_eps, null_image_condition, null_pose
from .models.adapter import DreamPoseAdapter
from .models.surgery import expand_conv_in, n_poses_of

SCHEDULERS = {
    "pndm": (PNDMScheduler, {"skip_prk_steps": True}),
    "ddim": (DDIMScheduler, {}),
    "dpm++": (DPMSolverMultistepScheduler, {"algorithm_type": "dpmsolver++"}),
    "euler": (EulerDiscreteScheduler, {}),
}


RECOMMENDED_SAMPLER = {"scheduler": "dpm++", "num_inference_steps": 15}


def make_scheduler(name: str, config):
    """A diffusers scheduler by short name (pndm | ddim | dpm++ | euler) from a scheduler config."""
    if name not in SCHEDULERS:
        raise ValueError(f"unknown scheduler {name!r}; choose one of {', '.join(SCHEDULERS)}")
    cls, extra = SCHEDULERS[name]
    return cls.from_config(config, **extra)


@dataclass
class DreamPoseOutput(BaseOutput):
    """``frames``: T PIL images, a (T, H, W, 3) array or a (T, 3, H, W) tensor, values in [0, 1]."""

    frames: list | np.ndarray | torch.Tensor


class DreamPosePipeline(DiffusionPipeline):
    """DreamPose (paper Fig. 2): c_I from the image(s), c_p windows from the poses, dual-guided sampling."""

    model_cpu_offload_seq = "image_encoder->adapter->unet->vae"

    def __init__(self, vae, unet, adapter, image_encoder, feature_extractor, scheduler):
        super().__init__()
        self.register_modules(vae=vae, unet=unet, adapter=adapter, image_encoder=image_encoder,
                              feature_extractor=feature_extractor, scheduler=scheduler)

    @classmethod
    def from_base(cls, base, n_poses: int = 5, image_encoder_mode: str = "clip+vae") -> "DreamPosePipeline":
        """DreamPose at initialisation (paper 4.2): the base UNet with conv_in surgery, a zero-init adapter.

        UNet and VAE are copied (they are finetuned later); the frozen CLIP image tower and its
        processor are shared with ``base``. Scheduler: PNDM (paper 4.4) from the base's config.
        """
        unet = expand_conv_in(copy.deepcopy(base.unet), n_poses)
        adapter = DreamPoseAdapter.for_encoders(base.image_encoder, unet, base.vae, image_encoder_mode)
        scheduler = make_scheduler("pndm", base.scheduler.config)
        return cls(vae=copy.deepcopy(base.vae), unet=unet, adapter=adapter, image_encoder=base.image_encoder,
                   feature_extractor=base.feature_extractor, scheduler=scheduler)

    @property
    def n_poses(self) -> int:
        return n_poses_of(self.unet, self.vae.config.latent_channels)

    @property
    def image_size(self) -> tuple[int, int]:
        """Default output (height, width): the VAE's sample size (override per call)."""
        s = self.vae.config.sample_size
        return (s, s) if isinstance(s, int) else tuple(s)

    @property
    def latent_factor(self) -> int:
        return 2 ** (len(self.vae.config.block_out_channels) - 1)

    # -- conditions (shared with training) ------------------------------------------------
    def encode_latents(self, images: torch.Tensor, generator=None) -> torch.Tensor:
        """z = E(x) * scaling_factor, a sample of the VAE posterior (as SD trains)."""
        dist = self.vae.encode(images.to(self.vae.device, self.vae.dtype)).latent_dist
        return dist.sample(generator=generator) * self.vae.config.scaling_factor

    def encode_image_features(self, images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(c_CLIP, c_VAE) of input images (B, 3, H, W) in [-1, 1] (paper 4.2.1).

        c_CLIP: the CLIP image tower's last hidden state (B, 1 + g*g, D_clip). c_VAE: the mean of
        the VAE posterior times ``scaling_factor`` (B, C, H/f, W/f), deterministic; None for the
        CLIP-only adapter (Ours_CLIP), which does not read it.
        """
        pixels = clip_preprocess(images, self.feature_extractor).to(self.image_encoder.device, self.image_encoder.dtype)
        c_clip = self.image_encoder(pixel_values=pixels).last_hidden_state
        if self.adapter.config.mode == "clip":
            return c_clip, None
        c_vae = self.vae.encode(images.to(self.vae.device, self.vae.dtype)).latent_dist.mean
        return c_clip, c_vae * self.vae.config.scaling_factor

    def encode_image_condition(self, images: torch.Tensor) -> torch.Tensor:
        """c_I = A(c_CLIP, c_VAE) for (B, 3, H, W) images -> (B, N, D)."""
        return self.adapter(*self.encode_image_features(images))

    null_image_condition = staticmethod(null_image_condition)
    null_pose = staticmethod(null_pose)

    # -- sampling -------------------------------------------------------------------------
    def _fresh_scheduler(self, num_inference_steps: int, device):
        """A copy of the scheduler set for one sampling run (multistep schedulers keep state)."""
        scheduler = copy.deepcopy(self.scheduler)
        scheduler.set_timesteps(num_inference_steps, device=device)
        return scheduler

    @torch.no_grad()
    def __call__(self, image, poses, num_inference_steps: int = 100, image_guidance_scale: float = 8.0,
                 pose_guidance_scale: float = 3.0, generator: torch.Generator | None = None,
                 frames_per_batch: int = 8, output_type: str = "pil", latents: torch.Tensor | None = None,
                 height: int | None = None, width: int | None = None,
                 frames: list[int] | None = None) -> DreamPoseOutput:
        """Animate ``image`` with ``poses``: one frame per pose (paper 4.1), dual guidance (4.4).

        image: a path, PIL image, uint8 (H, W, 3) array or [-1, 1] (3, H, W) tensor, or a list of
            them (several views of the subject, paper 6.3: their c_I tokens are concatenated along
            the token axis, so cross-attention reads all views at once).
        poses: UV maps (T, 2, H, W) in [-1, 1] or DensePose IUV uint8 (T, H, W, 3), any resolution
            (resized to the latent size); frame i is conditioned on the window of n_poses poses.
        height, width: output size, multiples of the VAE's downsampling (default: ``image_size``).
        latents: initial noise (T, C, height/f, width/f); default drawn from ``generator``.
        frames: indices of the poses to render (default all); each keeps its window of
            neighbouring poses from the full sequence. T is then ``len(frames)``.
        Returns ``DreamPoseOutput.frames``: T PIL images, an (T, H, W, 3) array in [0, 1] ("np")
        or a (T, 3, H, W) tensor in [0, 1] ("pt").
        """
        s_image = check_scale("image_guidance_scale", image_guidance_scale)
        s_pose = check_scale("pose_guidance_scale", pose_guidance_scale)
        for name, value in (("num_inference_steps", num_inference_steps), ("frames_per_batch", frames_per_batch)):
            if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
                raise ValueError(f"{name} must be a positive integer, got {value!r}")
        if output_type not in ("pil", "np", "pt"):
            raise ValueError(f"output_type must be 'pil', 'np' or 'pt', got {output_type!r}")
        max_steps = getattr(self.scheduler.config, "num_train_timesteps", None) or num_inference_steps
        if num_inference_steps > max_steps:
            raise ValueError(f"num_inference_steps={num_inference_steps} exceeds the scheduler's {max_steps} training "
                             f"timesteps; use at most {max_steps} (paper: 100)")
        if generator is not None and not isinstance(generator, torch.Generator):
            raise ValueError(f"generator must be a torch.Generator, got {type(generator).__name__}; "
                             "pass torch.Generator().manual_seed(seed)")
        h = self.image_size[0] if height is None else height
        w = self.image_size[1] if width is None else width
        f = self.latent_factor
        if not all(isinstance(v, numbers.Integral) and not isinstance(v, bool) and v > 0 and not v % f for v in (h, w)):
            raise ValueError(f"height and width must be positive multiples of {f} (the VAE's downsampling), "
                             f"got {h!r}x{w!r}")
        images = as_image_batch(image, (h, w))
        c_p = as_pose_windows(poses, (h // f, w // f), self.n_poses)
        if frames is not None:
            bad = [i for i in frames if not -len(c_p) <= i < len(c_p)]
            if bad or not len(frames):
                raise ValueError(f"frames must be a non-empty list of indices into the {len(c_p)} poses, got {bad or frames}")
            c_p = c_p[list(frames)]
        n = len(c_p)
        shape = (n, self.vae.config.latent_channels, h // f, w // f)
        if latents is None:
            latents = torch.randn(shape, generator=generator, dtype=torch.float32)
        elif tuple(latents.shape) != shape:
            raise ValueError(f"latents must have shape {shape} (frames, channels, height/{f}, width/{f}), "
                             f"got {tuple(latents.shape)}")
        elif not torch.isfinite(latents).all():
            raise ValueError("latents contain NaN or inf; pass finite initial noise (or none, to draw it)")
        device, dtype = self.unet.device, self.unet.dtype
        c_image = self.encode_image_condition(images).to(device, dtype)  # once per call
        c_image = c_image.reshape(1, -1, c_image.shape[-1])  # K views -> K * N tokens
        out = []
        batches = range(0, n, frames_per_batch)
        evaluations = len(self._fresh_scheduler(num_inference_steps, device).timesteps)  # PNDM: steps + 1
        with self.progress_bar(total=len(batches) * evaluations) as bar:
            for start in batches:
                scheduler = self._fresh_scheduler(num_inference_steps, device)
                z = latents[start:start + frames_per_batch].to(device, dtype) * scheduler.init_noise_sigma
                pose = c_p[start:start + frames_per_batch].to(device, dtype)
                cond = c_image.expand(len(z), -1, -1)
                for t in scheduler.timesteps:
                    eps = guided_eps(self.unet, scheduler.scale_model_input(z, t), t, cond, pose, s_image, s_pose)
                    z = scheduler.step(eps, t, z).prev_sample
                    bar.update()
                x = self.vae.decode(z.to(self.vae.dtype) / self.vae.config.scaling_factor).sample  # x' = D(z')
                out.append(x.float().clamp(-1, 1).cpu())
        frames = (torch.cat(out) + 1) / 2
        if output_type == "pt":
            return DreamPoseOutput(frames=frames)
        arr = frames.permute(0, 2, 3, 1).numpy()
        return DreamPoseOutput(frames=arr if output_type == "np" else self.numpy_to_pil(arr))
