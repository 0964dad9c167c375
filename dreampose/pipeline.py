"""DreamPosePipeline: an input image and a pose sequence in, a list of frames out (paper 4.1).

Every frame is sampled independently from its own noise (paper 4.1), with dual classifier-free
guidance (paper 4.4, `dreampose.guidance`), and decoded x'_i = D(z'_i). Several frames go
through one UNet call (``frames_per_batch``) with their guidance branches, then one scheduler
step moves all frames; c_I is encoded once per call. Initial noise is drawn per pose index, so a
frame depends neither on ``frames_per_batch`` nor on the other frames rendered. ``__call__``
chains diffusers-style stages, each usable alone: ``check_inputs``, ``prepare_poses``,
``prepare_latents``, ``encode_image``, ``prepare_scheduler``, ``denoise`` (``denoise_step`` per
timestep), ``decode``.

Registered modules: vae, unet (4 + 2 * n_poses input channels, `models.surgery`), adapter
(`models.adapter`), image_encoder (CLIP image tower), feature_extractor (its processor, whose
crop size and mean/std `data.images.clip_preprocess` applies in torch), scheduler (PNDM as in
the paper; any diffusers scheduler can be swapped in, see `make_scheduler`).

``RECOMMENDED_SAMPLER`` (BENCHMARKS.md): DPM-Solver++ 15 steps, within 1% of PNDM 100 on every metric
at 6.7x fewer UNet evaluations; the paper's PNDM 100 stays the default of ``from_base`` and ``__call__``.
"""
from __future__ import annotations

import copy
import inspect
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
from .settings import nearest_sizes

SCHEDULERS = {
    "pndm": (PNDMScheduler, {"skip_prk_steps": True}),
    "ddim": (DDIMScheduler, {}),
    "dpm++": (DPMSolverMultistepScheduler, {"algorithm_type": "dpmsolver++"}),
    "euler": (EulerDiscreteScheduler, {}),
}

NOISE_DRAW = "per-pose-index"  # in the keys of cached frames and scores: a new draw re-renders them
RECOMMENDED_SAMPLER = {"scheduler": "dpm++", "num_inference_steps": 15}


def make_scheduler(name: str, config):
    """A diffusers scheduler by short name (pndm | ddim | dpm++ | euler) from a scheduler config."""
    if name not in SCHEDULERS:
        raise ValueError(f"unknown scheduler {name!r}; choose one of {', '.join(SCHEDULERS)}")
    cls, extra = SCHEDULERS[name]
    return cls.from_config(config, **extra)


def _sample_size(vae) -> tuple[int, int]:
    s = vae.config.sample_size
    return (s, s) if isinstance(s, int) else tuple(s)


@dataclass
class DreamPoseOutput(BaseOutput):
    """``frames``: T PIL images, a (T, H, W, 3) array or (T, 3, H, W) tensor in [0, 1], or latents."""

    frames: list | np.ndarray | torch.Tensor


class DreamPosePipeline(DiffusionPipeline):
    """DreamPose (paper Fig. 2): c_I from the image(s), c_p windows from the poses, dual-guided sampling."""

    model_cpu_offload_seq = "image_encoder->adapter->unet->vae"

    def __init__(self, vae, unet, adapter, image_encoder, feature_extractor, scheduler):
        super().__init__()
        self.register_modules(vae=vae, unet=unet, adapter=adapter, image_encoder=image_encoder,
                              feature_extractor=feature_extractor, scheduler=scheduler)

    @classmethod
    def from_base(cls, base, n_poses: int = 5, image_encoder_mode: str = "clip+vae",
                  size: tuple[int, int] | None = None) -> "DreamPosePipeline":
        """DreamPose at initialisation (paper 4.2): the base UNet with conv_in surgery, a zero-init adapter.

        UNet and VAE are copied (they are finetuned later); the frozen CLIP image tower and its
        processor are shared with ``base``. Scheduler: PNDM (paper 4.4) from the base's config.
        ``size``: the (height, width) the pipeline renders when a call names none, kept in the
        VAE's ``sample_size`` (default: the base VAE's, 512 x 512 for SD, not the paper's 640 x 512).
        """
        unet = expand_conv_in(copy.deepcopy(base.unet), n_poses)
        adapter = DreamPoseAdapter.for_encoders(base.image_encoder, unet, base.vae, image_encoder_mode).to(unet.device)
        scheduler = make_scheduler("pndm", base.scheduler.config)
        vae = copy.deepcopy(base.vae)
        if size is not None and tuple(size) != _sample_size(vae):
            vae.register_to_config(sample_size=list(size))
        return cls(vae=vae, unet=unet, adapter=adapter, image_encoder=base.image_encoder,
                   feature_extractor=base.feature_extractor, scheduler=scheduler)

    @property
    def n_poses(self) -> int:
        return n_poses_of(self.unet, self.vae.config.latent_channels)

    @property
    def image_size(self) -> tuple[int, int]:
        """Default output (height, width): the VAE's sample size (override per call)."""
        return _sample_size(self.vae)

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
    _callback_tensor_inputs = ["latents", "c_image", "c_pose"]

    def check_inputs(self, num_inference_steps, image_guidance_scale, pose_guidance_scale, frames_per_batch,
                     output_type, generator, height, width, callback_on_step_end=None,
                     callback_on_step_end_tensor_inputs=("latents",)) -> tuple[float, float, int, int]:
        """ValueError for any bad setting, before any model runs; returns (s_I, s_p, height, width)."""
        s_image = check_scale("image_guidance_scale", image_guidance_scale)
        s_pose = check_scale("pose_guidance_scale", pose_guidance_scale)
        for name, value in (("num_inference_steps", num_inference_steps), ("frames_per_batch", frames_per_batch)):
            if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
                raise ValueError(f"{name} must be a positive integer, got {value!r}")
        if output_type not in ("pil", "np", "pt", "latent"):
            raise ValueError(f"output_type must be 'pil', 'np', 'pt' or 'latent', got {output_type!r}")
        max_steps = getattr(self.scheduler.config, "num_train_timesteps", None) or num_inference_steps
        if num_inference_steps > max_steps:
            raise ValueError(f"num_inference_steps={num_inference_steps} exceeds the scheduler's {max_steps} training "
                             f"timesteps; use at most {max_steps} (paper: 100)")
        bad = [g for g in (generator if isinstance(generator, list) else [generator])
               if g is not None and not isinstance(g, torch.Generator)]
        if bad:
            raise ValueError(f"generator must be a torch.Generator, got {type(bad[0]).__name__}; "
                             "pass torch.Generator().manual_seed(seed) (or a list, one per rendered frame)")
        if callback_on_step_end is not None and not callable(callback_on_step_end):
            raise ValueError(f"callback_on_step_end must be callable, got {type(callback_on_step_end).__name__}")
        unknown = [k for k in callback_on_step_end_tensor_inputs if k not in self._callback_tensor_inputs]
        if unknown:
            raise ValueError(f"callback_on_step_end_tensor_inputs must be among {self._callback_tensor_inputs}, "
                             f"got {unknown}")
        h = self.image_size[0] if height is None else height
        w, f = self.image_size[1] if width is None else width, self.latent_factor
        integers = all(isinstance(v, numbers.Integral) and not isinstance(v, bool) for v in (h, w))
        if not (integers and all(v > 0 and not v % f for v in (h, w))):
            hint = f"; the nearest valid sizes are {nearest_sizes(int(h), int(w), f)}" if integers else ""
            raise ValueError(f"height and width must be positive multiples of {f} (the VAE's downsampling), "
                             f"got {h!r}x{w!r} (height x width){hint}")
        return s_image, s_pose, h, w

    def prepare_poses(self, poses, height: int, width: int, frames: list[int] | None = None):
        """(the pose windows c_p of all poses (T_all, 2 * n_poses, h, w), the checked ``frames`` as a list)."""
        f = self.latent_factor
        windows = as_pose_windows(poses, (height // f, width // f), self.n_poses)
        if frames is None:
            return windows, list(range(len(windows)))
        bad = [i for i in frames if not -len(windows) <= i < len(windows)]
        if bad or not len(frames):
            raise ValueError(f"frames must be a non-empty list of indices into the {len(windows)} poses, "
                             f"got {bad or frames}")
        return windows, list(frames)

    def prepare_latents(self, frames: list[int], n_total: int, height: int, width: int, generator=None, latents=None):
        """Initial noise z_T (len(frames), C, h, w) on the UNet's device, before init_noise_sigma, per pose
        index: one generator draws all ``n_total`` poses' noise and keeps the rows of ``frames``;
        generator k of a list draws rendered frame k's. Drawn on the CPU (CPU generators), so a seed gives
        the same noise on any device."""
        f, n_frames = self.latent_factor, len(frames)
        shape = (n_frames, self.vae.config.latent_channels, height // f, width // f)
        if isinstance(generator, list) and len(generator) != n_frames:
            raise ValueError(f"generator is a list of {len(generator)} generators; pass one per rendered frame "
                             f"({n_frames}) or a single torch.Generator")
        if latents is None and isinstance(generator, list):
            latents = torch.cat([torch.randn((1, *shape[1:]), generator=g, dtype=torch.float32) for g in generator])
        elif latents is None:
            latents = torch.randn((n_total, *shape[1:]), generator=generator, dtype=torch.float32)[frames]
        elif tuple(latents.shape) != shape:
            raise ValueError(f"latents must have shape {shape} (frames, channels, height/{f}, width/{f}), "
                             f"got {tuple(latents.shape)}")
        elif not torch.isfinite(latents).all():
            raise ValueError("latents contain NaN or inf; pass finite initial noise (or none, to draw it)")
        return latents.to(self.unet.device, self.unet.dtype)

    def encode_image(self, images: torch.Tensor) -> torch.Tensor:
        """c_I for sampling: K views (K, 3, H, W) -> (1, K * N, D) tokens on the UNet's device (paper 6.3)."""
        c_image = self.encode_image_condition(images).to(self.unet.device, self.unet.dtype)
        return c_image.reshape(1, -1, c_image.shape[-1])

    def prepare_scheduler(self, num_inference_steps: int):
        """A copy of the scheduler set for one sampling run (multistep schedulers keep state)."""
        scheduler = copy.deepcopy(self.scheduler)
        scheduler.set_timesteps(num_inference_steps, device=self.unet.device)
        return scheduler

    @staticmethod
    def prepare_extra_step_kwargs(scheduler, generator) -> dict:
        """``generator`` for schedulers whose ``step`` draws noise (EulerAncestral, DDPM), as diffusers does."""
        return {"generator": generator} if "generator" in inspect.signature(scheduler.step).parameters else {}

    def denoise_step(self, latents, t, c_image, c_pose, scheduler, s_image: float, s_pose: float,
                     frames_per_batch: int = 8, **step_kwargs) -> torch.Tensor:
        """One step z_t -> z_{t-1} of all frames, with dual guidance (paper 4.4):

            eps = eps(z,∅,∅) + s_I (eps(z,c_I,∅) - eps(z,∅,∅)) + s_p (eps(z,c_I,c_p) - eps(z,c_I,∅))

        latents (T, C, h, w), c_image (1, N, D), c_pose (T, 2 * n_poses, h, w); the UNet sees
        ``frames_per_batch`` frames per call (all branches of each), the scheduler all T at once.
        """
        z = scheduler.scale_model_input(latents, t)
        eps = [guided_eps(self.unet, zb, t, c_image.expand(len(zb), -1, -1), pb, s_image, s_pose)
               for zb, pb in zip(z.split(frames_per_batch), c_pose.split(frames_per_batch))]
        return scheduler.step(torch.cat(eps), t, latents, **step_kwargs).prev_sample

    def denoise(self, latents, c_image, c_pose, scheduler, s_image: float, s_pose: float, frames_per_batch: int = 8,
                generator=None, callback_on_step_end=None,
                callback_on_step_end_tensor_inputs=("latents",)) -> torch.Tensor:
        """The denoising loop: ``denoise_step`` over ``scheduler.timesteps`` (already set), z_T -> z_0.

        ``callback_on_step_end(pipe, step_index, timestep, callback_kwargs)`` runs after each step
        with the tensors named in ``callback_on_step_end_tensor_inputs``; a dict it returns
        replaces them.
        """
        extra = self.prepare_extra_step_kwargs(scheduler, generator)
        tensors = {"latents": latents, "c_image": c_image, "c_pose": c_pose}
        with self.progress_bar(total=len(scheduler.timesteps)) as bar:
            for i, t in enumerate(scheduler.timesteps):
                tensors["latents"] = self.denoise_step(tensors["latents"], t, tensors["c_image"], tensors["c_pose"],
                                                       scheduler, s_image, s_pose, frames_per_batch, **extra)
                if callback_on_step_end is not None:
                    out = callback_on_step_end(self, i, t, {k: tensors[k] for k in callback_on_step_end_tensor_inputs})
                    tensors.update({k: v for k, v in (out or {}).items() if k in callback_on_step_end_tensor_inputs})
                bar.update()
        return tensors["latents"]

    @torch.no_grad()
    def decode(self, latents: torch.Tensor, frames_per_batch: int = 8, output_type: str = "pil"):
        """x' = D(z') in chunks of ``frames_per_batch``, values in [0, 1]: PIL images, "np" or "pt" (T, 3, H, W)."""
        out = []
        for z in latents.split(frames_per_batch):
            x = self.vae.decode(z.to(self.vae.dtype) / self.vae.config.scaling_factor).sample
            out.append(x.float().clamp(-1, 1).cpu())
        frames = (torch.cat(out) + 1) / 2
        if output_type == "pt":
            return frames
        arr = frames.permute(0, 2, 3, 1).numpy()
        return arr if output_type == "np" else self.numpy_to_pil(arr)

    @torch.no_grad()
    def __call__(self, image, poses, num_inference_steps: int = 100, image_guidance_scale: float = 8.0,
                 pose_guidance_scale: float = 3.0, generator: torch.Generator | list[torch.Generator] | None = None,
                 frames_per_batch: int = 8, output_type: str = "pil", latents: torch.Tensor | None = None,
                 height: int | None = None, width: int | None = None, frames: list[int] | None = None,
                 return_dict: bool = True, callback_on_step_end=None,
                 callback_on_step_end_tensor_inputs: list[str] = ("latents",)):
        """Animate ``image`` with ``poses``: one frame per pose (paper 4.1), dual guidance (4.4).

        image: a path, PIL image, uint8 (H, W, 3) array or [-1, 1] (3, H, W) tensor, or a list of
            them (several views of the subject, paper 6.3: their c_I tokens are concatenated along
            the token axis, so cross-attention reads all views at once).
        poses: UV maps (T, 2, H, W) in [-1, 1] or DensePose IUV uint8 (T, H, W, 3), any resolution
            (resized to the latent size); frame i is conditioned on the window of n_poses poses.
        frames: indices of the poses to render (default all); each keeps its window of
            neighbouring poses from the full sequence. T is then ``len(frames)``.
        generator: one torch.Generator (noise drawn for every pose, rows of ``frames`` kept) or a
            list of T, one per rendered frame; also passed to stochastic schedulers' ``step`` (whose
            noise is per frame only with a list).
        height, width: output size, multiples of the VAE's downsampling (default: ``image_size``).
        latents: initial noise (T, C, height/f, width/f); default drawn from ``generator``.
        callback_on_step_end, callback_on_step_end_tensor_inputs: see ``denoise``.
        Returns ``DreamPoseOutput.frames`` (a 1-tuple if not ``return_dict``): T PIL images, a
        (T, H, W, 3) array in [0, 1] ("np"), a (T, 3, H, W) tensor in [0, 1] ("pt"), or the final
        latents z'_0 (T, C, h, w) undecoded ("latent"; ``decode`` turns them into frames).
        """
        s_image, s_pose, h, w = self.check_inputs(num_inference_steps, image_guidance_scale, pose_guidance_scale,
                                                  frames_per_batch, output_type, generator, height, width,
                                                  callback_on_step_end, callback_on_step_end_tensor_inputs)
        images = as_image_batch(image, (h, w))
        windows, frames = self.prepare_poses(poses, h, w, frames)
        latents = self.prepare_latents(frames, len(windows), h, w, generator, latents)
        c_pose = windows[frames].to(latents.device, latents.dtype)
        c_image = self.encode_image(images)  # once per call
        scheduler = self.prepare_scheduler(num_inference_steps)
        latents = self.denoise(latents * scheduler.init_noise_sigma, c_image, c_pose, scheduler, s_image, s_pose,
                               frames_per_batch, generator, callback_on_step_end, callback_on_step_end_tensor_inputs)
        out = latents if output_type == "latent" else self.decode(latents, frames_per_batch, output_type)
        return DreamPoseOutput(frames=out) if return_dict else (out,)
