"""Is the tiny base rich enough to show the paper's effects? Its quality on held-out subjects.

* VAE reconstruction PSNR over whole frames, and L1 on garment pixels only (IUV torso and
  upper-leg parts), where a weak VAE first loses colour and pattern.
* CLIP zero-shot accuracy on the front garment's colour and on its texture (front-view frames of
  the test subjects and, for a synthetic world, ``extra_subjects`` more held-out subjects from a
  seed stream nothing trains on: 8 test subjects alone give too coarse a figure):
  each class is scored by a prompt ensemble, the subject's true caption with the attribute
  replaced by the class, over the views ("", ", front view", ", side view", ", back view");
  chance = 1 / number of classes.
* Text-to-image prompt fidelity: CLIP score (100 x cosine of image and caption embeddings) of
  StableDiffusionPipeline samples for the test captions ("..., front view"), beside the score
  of real front-view frames with the same captions and of the samples with other subjects'
  captions (what the score is without prompt following); plus the zero-shot colour accuracy
  of the samples.
"""
from __future__ import annotations

import numpy as np
import torch

from ..data.garments import PALETTE, TEXTURES
from ..models.base import BaseModelError
from ..train.base import CLIP_TEXT_DIR
from ..train.base_data import HELDOUT_STREAM, caption_with, clip_pixels, corpus_subject

GARMENT_PARTS = (1, 2, 7, 8, 9, 10)  # DensePose torso (1, 2) and upper legs (7-10)
VIEWS = ("", ", front view", ", side view", ", back view")


def _text_model(base):
    from transformers import CLIPTextModelWithProjection

    model = getattr(base, "_text_proj", None)
    if model is None:
        try:
            model = CLIPTextModelWithProjection.from_pretrained(base.path, subfolder=CLIP_TEXT_DIR)
        except OSError:
            raise BaseModelError(f"quality figures need {base.path}/{CLIP_TEXT_DIR} (the CLIP text tower with its "
                                 "projection, saved by the tiny base's pretraining); a hub base has none") from None
        base._text_proj = model
    return model


@torch.no_grad()
def text_embeds(base, prompts: list[str]) -> torch.Tensor:
    """Unit CLIP text embeddings (N, D) of prompts."""
    tok = base.tokenizer(prompts, padding="max_length", max_length=base.tokenizer.model_max_length,
                         truncation=True, return_tensors="pt")
    return torch.nn.functional.normalize(_text_model(base)(tok.input_ids).text_embeds, dim=-1)


@torch.no_grad()
def image_embeds(base, frames_u8: np.ndarray) -> torch.Tensor:
    """Unit CLIP image embeddings (N, D) of (N, H, W, 3) uint8 frames."""
    x = torch.from_numpy(np.ascontiguousarray(frames_u8)).permute(0, 3, 1, 2)
    size = base.feature_extractor.crop_size["height"]
    return torch.nn.functional.normalize(base.image_encoder(pixel_values=clip_pixels(x, size)).image_embeds, dim=-1)


def zero_shot(base, frames: np.ndarray, metas: list[dict], attribute: str) -> float:
    """Accuracy of classifying the front top's colour ("colour") or texture ("texture")."""
    classes, field = (list(PALETTE), "colour") if attribute == "colour" else (list(TEXTURES), "kind")
    images = image_embeds(base, frames)
    correct = []
    for e, meta in zip(images, metas):
        prompts = [caption_with(meta, **{field: c}) + v for c in classes for v in VIEWS]
        text = torch.nn.functional.normalize(text_embeds(base, prompts).view(len(classes), len(VIEWS), -1).mean(1),
                                             dim=-1)
        correct.append(classes[int((text @ e).argmax())] == meta["top_front"][field])
    return float(np.mean(correct))


def _front_frame(video) -> int:
    """The frame that faces the camera most squarely."""
    return int(np.argmax(np.cos(np.asarray(video.meta["yaw"]))))


@torch.no_grad()
def vae_reconstruction(vae, frames: np.ndarray, iuv: np.ndarray) -> dict:
    """The VAE's ceiling: D(E(x)) against x for uint8 frames (N, H, W, 3), overall and on the
    garment (IUV parts of ``GARMENT_PARTS``): PSNR in dB and mean L1 on [0, 1]."""
    x = torch.from_numpy(frames).permute(0, 3, 1, 2).float() / 127.5 - 1
    recon = torch.cat([vae.decode(vae.encode(c).latent_dist.mean).sample for c in x.split(32)]).clamp(-1, 1)
    err = ((recon - x) / 2).permute(0, 2, 3, 1).numpy()
    mse = (err ** 2).mean(axis=(1, 2, 3))
    garment = np.isin(iuv[..., 0], GARMENT_PARTS)
    return {
        "vae_psnr_db": float(np.mean(10 * np.log10(1.0 / np.maximum(mse, 1e-10)))),
        "vae_l1": float(np.abs(err).mean()),
        "vae_garment_l1": float(np.abs(err)[garment].mean()),
    }


@torch.no_grad()
def base_quality(base, world, n_frames: int = 48, n_samples: int = 8, steps: int = 25, guidance: float = 3.0,
                 seed: int = 0, extra_subjects: int = 64) -> dict:
    """Quality figures of a base on the held-out test subjects of ``world`` (see the module doc)."""
    from diffusers import DDIMScheduler, StableDiffusionPipeline

    from ..data.world import view_of

    rng = np.random.default_rng(seed)
    per_video = max(1, n_frames // len(world.test))
    picks = [(v, int(i)) for v in world.test for i in rng.choice(len(v), size=min(per_video, len(v)), replace=False)]
    frames = np.stack([v.frames[i] for v, i in picks])
    iuv = np.stack([v.iuv[i] for v, i in picks])
    out = vae_reconstruction(base.vae, frames, iuv)
    front = [(v, i) for v, i in picks if view_of(v.meta["yaw"][i]) == "front"]
    front = front or [(v, _front_frame(v)) for v in world.test]
    if extra_subjects and world.test[0].meta.get("synthetic"):
        h, w = world.test[0].size
        front += [(v, _front_frame(v)) for v in (corpus_subject(world.test[0].meta["seed"], k, 8, w, h, HELDOUT_STREAM)
                                                 for k in range(extra_subjects))]
    out["clip_subjects"] = len({id(v) for v, _ in front})
    ff, metas = np.stack([v.frames[i] for v, i in front]), [v.meta for v, _ in front]
    out["clip_colour_acc"] = zero_shot(base, ff, metas, "colour")
    out["clip_colour_chance"] = 1 / len(PALETTE)
    out["clip_texture_acc"] = zero_shot(base, ff, metas, "texture")
    out["clip_texture_chance"] = 1 / len(TEXTURES)

    videos = [world.test[k % len(world.test)] for k in range(n_samples)]
    prompts = [f"{v.caption}, front view" for v in videos]
    pipe = StableDiffusionPipeline(vae=base.vae, text_encoder=base.text_encoder, tokenizer=base.tokenizer,
                                   unet=base.unet, scheduler=DDIMScheduler.from_config(base.scheduler.config),
                                   safety_checker=None, feature_extractor=base.feature_extractor,
                                   requires_safety_checker=False)
    pipe.set_progress_bar_config(disable=True)
    h, w = world.test[0].size
    samples = pipe(prompts, height=h, width=w, num_inference_steps=steps, guidance_scale=guidance, output_type="np",
                   generator=torch.Generator().manual_seed(seed)).images
    samples = (samples * 255).round().astype(np.uint8)
    text, images = text_embeds(base, prompts), image_embeds(base, samples)
    real = np.stack([v.frames[_front_frame(v)] for v in videos])
    out["t2i_clip_score_samples"] = float(100 * (images * text).sum(-1).mean())
    out["t2i_clip_score_real"] = float(100 * (image_embeds(base, real) * text).sum(-1).mean())
    out["t2i_clip_score_mismatched"] = float(100 * (images * text.roll(1, 0)).sum(-1).mean())
    out["t2i_colour_acc"] = zero_shot(base, samples, [v.meta for v in videos], "colour")
    out["samples"], out["real"], out["prompts"] = samples, real, prompts
    return out


def format_quality(q: dict) -> str:
    return "\n".join([
        f"  VAE reconstruction PSNR {q['vae_psnr_db']:.1f} dB, L1 {q['vae_l1']:.4f}, garment L1 {q['vae_garment_l1']:.4f}",
        f"  CLIP zero-shot colour {q['clip_colour_acc']:.0%} (chance {q['clip_colour_chance']:.0%}), "
        f"texture {q['clip_texture_acc']:.0%} (chance {q['clip_texture_chance']:.0%}), {q['clip_subjects']} subjects",
        f"  text-to-image CLIP score {q['t2i_clip_score_samples']:.1f} (real frames {q['t2i_clip_score_real']:.1f}, "
        f"samples vs other captions {q['t2i_clip_score_mismatched']:.1f}), "
        f"colour of samples {q['t2i_colour_acc']:.0%} correct",
    ])
