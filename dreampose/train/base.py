"""Pretraining the tiny base (a small Stable Diffusion) on the synthetic world.

Data: the world's training videos plus a pretraining corpus of other subjects (base_data.py).

Three parts in SD's order, each with the shared loop (`train.loop`, resumable):
  1. VAE (AutoencoderKL): L1 + L2 reconstruction + KL with SD's tiny weight (1e-6); then the
     latent scaling factor 1 / std(z) over the pretraining frames, as SD's 0.18215 was chosen.
  2. CLIP (CLIPModel): text and vision towers trained contrastively on (frame, caption) pairs,
     the caption naming the garment and the view ("..., back view").
  3. UNet (UNet2DConditionModel): noise prediction on cached VAE latents conditioned on the CLIP
     text tower's hidden states, 10% of captions dropped to "" so classifier-free guidance works.
Each part: base.lr, then the last base.lr_decay_share of its steps at base.lr * base.lr_decay.
The result is SD's folder layout (models.base.save_base) with the CLIP image tower (image_encoder/)
and its processor (feature_extractor/), plus clip_text/ (the text tower with CLIP's projection,
for the zero-shot quality figures) and the loss curves loss_{vae,clip,unet}.csv.
"""
from __future__ import annotations

import csv
import inspect
import shutil
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from ..config import ConfigError, Profile
from ..data.garments import GARMENTS, PALETTE, TEXTURES
from ..data.images import to_minus1_1
from .base_data import CLIP_MEAN, CLIP_STD, clip_pixels, person_crops, render_corpus, rows_of, training_frames
from .loop import LoopConfig, train

CHECKPOINT_EVERY = 1000  # steps; an interrupted pretraining resumes from the last one
CLIP_TEXT_DIR = "clip_text"  # CLIPTextModelWithProjection (extra to SD's layout)


class VAEObjective(nn.Module):
    def __init__(self, vae, kl_weight: float = 1e-6):
        super().__init__()
        self.vae, self.kl_weight = vae, kl_weight

    def forward(self, batch, generator):
        x = batch["x"]
        post = self.vae.encode(x).latent_dist
        recon = self.vae.decode(post.sample(generator=generator)).sample
        return F.l1_loss(recon, x) + F.mse_loss(recon, x) + self.kl_weight * post.kl().mean()


class CLIPObjective(nn.Module):
    """CLIP's symmetric contrastive loss over the image-caption pairs of a batch."""

    def __init__(self, clip):
        super().__init__()
        self.clip = clip

    def forward(self, batch, generator):
        return self.clip(input_ids=batch["ids"], pixel_values=batch["pixels"], return_loss=True).loss


class TextToImageObjective(nn.Module):
    """eps-prediction loss of latent diffusion: || eps - eps_theta(z_t, t, c_text) ||^2."""

    def __init__(self, unet, scheduler):
        super().__init__()
        self.unet, self.scheduler = unet, scheduler

    def forward(self, batch, generator):
        z, cond = batch["z"], batch["cond"]
        noise = torch.randn(z.shape, generator=generator)
        t = torch.randint(0, self.scheduler.config.num_train_timesteps, (z.shape[0],), generator=generator)
        z_t = self.scheduler.add_noise(z, noise, t)
        return F.mse_loss(self.unet(z_t, t, encoder_hidden_states=cond).sample, noise)


def train_part(objective: nn.Module, make_batch, profile: Profile, steps: int, batch_size: int, desc: str,
               work: Path, progress: bool = True) -> dict:
    """The shared loop with a step decay of the learning rate: base.lr, then the last
    base.lr_decay_share of the steps at base.lr * base.lr_decay (two resumable runs of the loop).
    Writes one loss curve, ``work/loss.csv``; returns the last loss and the training seconds."""
    b = profile.base
    if not (b.lr_decay > 0 and 0 <= b.lr_decay_share < 1):
        raise ConfigError(f"base.lr_decay must be > 0 and base.lr_decay_share in [0, 1); got {b.lr_decay}, "
                          f"{b.lr_decay_share} (e.g. base.lr_decay=0.2 base.lr_decay_share=0.33)")
    second = int(round(steps * b.lr_decay_share)) if b.lr_decay != 1.0 else 0
    phases = [(n, lr) for n, lr in ((steps - second, b.lr), (second, b.lr * b.lr_decay)) if n > 0]
    rows, seconds, offset = [], 0.0, 0
    for k, (n, lr) in enumerate(phases):
        cfg = LoopConfig(steps=n, lr=lr, batch_size=batch_size, seed=profile.seed + 7919 * k,
                         checkpoint_every=CHECKPOINT_EVERY, desc=desc if k == 0 else f"{desc}, lr x {b.lr_decay:g}")
        result = train(objective, lambda idx, o=offset: make_batch([i + o for i in idx]), cfg, work / f"phase{k}",
                       progress)
        seconds += result["train_seconds"]
        with open(work / f"phase{k}" / "loss.csv") as fh:
            rows += [{**r, "step": int(r["step"]) + offset // batch_size} for r in csv.DictReader(fh)]
        offset += n * batch_size
    with open(work / "loss.csv", "w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    return {"final_loss": float(rows[-1]["loss"]), "train_seconds": round(seconds, 3)}


def pretrain_base(profile: Profile, world, out: Path, progress: bool = True) -> dict:
    """Train VAE, CLIP and UNet on ``world``'s training videos + a corpus; save an SD-layout folder at ``out``."""
    from ..models.base import component_configs
    from ..models.tokenizer import make_tokenizer

    b = profile.base
    frames, foreground, captions = training_frames(world.train + render_corpus(profile, progress))
    # every word of the world's caption grammar is a token, seen in the captions or not
    grammar = " ".join([*PALETTE, *TEXTURES, *GARMENTS, "a an person in top and front side back view"])
    tokenizer = make_tokenizer(captions + [grammar], out / "tokenizer", b.text_max_length)
    cfg = component_configs(b, profile.data.height, len(tokenizer))
    cfg["text"].update(bos_token_id=tokenizer.bos_token_id, eos_token_id=tokenizer.eos_token_id,
                       pad_token_id=tokenizer.pad_token_id)  # CLIP pools the text at the EOS token
    vae, latents, out_vae = _pretrain_vae(profile, cfg, frames, foreground, out, progress)
    clip, out_clip = _pretrain_clip(profile, cfg, frames, captions, tokenizer, out, progress)
    unet, text_encoder, out_unet = _pretrain_unet(profile, cfg, clip, latents, captions, tokenizer, out, progress)
    _save(profile, cfg, vae, clip, unet, text_encoder, tokenizer, out)
    return {"vae_loss": out_vae["final_loss"], "scaling_factor": vae.config.scaling_factor,
            "clip_loss": out_clip["final_loss"], "unet_loss": out_unet["final_loss"],
            "train_seconds": {k: o["train_seconds"] for k, o in (("vae", out_vae), ("clip", out_clip),
                                                                  ("unet", out_unet))}}


def _pretrain_vae(profile: Profile, cfg: dict, frames, foreground, out: Path, progress: bool):
    """1. The VAE on person-centred crops of half the frame size (fully convolutional: 4x cheaper
    steps); then the latents of every frame and SD's scaling factor 1 / std(z)."""
    from diffusers import AutoencoderKL

    b, n = profile.base, len(frames)
    torch.manual_seed(profile.seed)  # each part's init seeded on its own: identical after a resume
    vae = AutoencoderKL(**cfg["vae"])
    crop = profile.data.height // 2

    def vae_batch(idx):
        rows = rows_of(idx, n, profile.seed)
        return {"x": to_minus1_1(person_crops(frames, foreground, rows, crop, b.latent_downsample, profile.seed))}

    result = train_part(VAEObjective(vae), vae_batch, profile, b.vae_steps, b.batch_size, "base VAE",
                        out / "train_vae", progress)
    vae.eval()
    with torch.no_grad():  # latents of the frozen VAE, cached for the UNet (small chunks: faster on CPU)
        latents = torch.cat([vae.encode(to_minus1_1(chunk)).latent_dist.mean for chunk in frames.split(32)])
    vae.register_to_config(scaling_factor=1.0 / latents.std().item())  # SD: 1 / std of training latents
    latents *= vae.config.scaling_factor
    return vae, latents, result


def _pretrain_clip(profile: Profile, cfg: dict, frames, captions: list[str], tokenizer, out: Path, progress: bool):
    """2. CLIP, contrastive; one frame per distinct caption in a batch keeps the targets
    unambiguous; random horizontal flips (captions never say left or right)."""
    from transformers import CLIPConfig, CLIPModel

    b, n = profile.base, len(frames)
    ids = tokenizer(captions, padding="max_length", max_length=b.text_max_length, truncation=True,
                    return_tensors="pt").input_ids
    torch.manual_seed(profile.seed + 1)
    clip = CLIPModel(CLIPConfig(text_config=cfg["text"], vision_config=cfg["vision"], projection_dim=b.clip_width))

    def clip_batch(idx):
        rows = rows_of(idx, n, profile.seed)
        rows = list({captions[r]: r for r in rows}.values())
        pixels = clip_pixels(frames[rows], b.clip_image_size)
        flip = torch.from_numpy(np.random.default_rng([profile.seed, idx[0]]).random(len(rows)) < 0.5)
        return {"ids": ids[rows], "pixels": torch.where(flip[:, None, None, None], pixels.flip(-1), pixels)}

    result = train_part(CLIPObjective(clip), clip_batch, profile, b.clip_steps, 4 * b.batch_size, "base CLIP",
                        out / "train_clip", progress)
    return clip.eval(), result


def _pretrain_unet(profile: Profile, cfg: dict, clip, latents, captions: list[str], tokenizer, out: Path,
                   progress: bool):
    """3. The UNet on cached latents and cached text states of CLIP's text tower; caption
    dropout -> the empty caption, so classifier-free guidance works."""
    from diffusers import DDPMScheduler, UNet2DConditionModel
    from transformers import CLIPTextModel

    b, n = profile.base, len(latents)
    text_encoder = CLIPTextModel(clip.config.text_config)
    # transformers 4 nests the text transformer as .text_model, transformers 5 flattens it into the model
    getattr(text_encoder, "text_model", text_encoder).load_state_dict(clip.text_model.state_dict())
    with torch.no_grad():
        unique = sorted(set(captions)) + [""]
        tok = tokenizer(unique, padding="max_length", max_length=b.text_max_length, truncation=True, return_tensors="pt")
        states = text_encoder(tok.input_ids).last_hidden_state
    caption_id = torch.tensor([unique.index(c) for c in captions])
    empty = len(unique) - 1
    torch.manual_seed(profile.seed + 2)
    unet = UNet2DConditionModel(**cfg["unet"])
    noise_scheduler = DDPMScheduler.from_config(cfg["scheduler"])

    def unet_batch(idx):
        rows = torch.tensor(rows_of(idx, n, profile.seed))
        keep = torch.from_numpy(np.random.default_rng([profile.seed, idx[0]]).random(len(idx)) >= b.caption_dropout)
        cond = torch.where(keep, caption_id[rows], torch.full_like(rows, empty))
        return {"z": latents[rows], "cond": states[cond]}

    result = train_part(TextToImageObjective(unet, noise_scheduler), unet_batch, profile, b.unet_steps,
                        b.batch_size, "base UNet", out / "train_unet", progress)
    return unet, text_encoder, result


def _save(profile: Profile, cfg: dict, vae, clip, unet, text_encoder, tokenizer, out: Path) -> None:
    """SD's folder layout with the CLIP image tower and its processor, plus ``clip_text/`` (the text
    tower with CLIP's projection, for the zero-shot quality figures) and the loss curves."""
    from diffusers import PNDMScheduler
    from transformers import CLIPImageProcessor, CLIPTextModelWithProjection, CLIPVisionModelWithProjection

    from ..models.base import Base, save_base

    b = profile.base
    image_encoder = CLIPVisionModelWithProjection(clip.config.vision_config)
    image_encoder.load_state_dict({k: v for k, v in clip.state_dict().items()
                                   if k.startswith(("vision_model.", "visual_projection."))})
    processor = CLIPImageProcessor(size={"shortest_edge": b.clip_image_size},
                                   crop_size={"height": b.clip_image_size, "width": b.clip_image_size},
                                   image_mean=CLIP_MEAN, image_std=CLIP_STD)
    save_base(Base(vae=vae, unet=unet, text_encoder=text_encoder, tokenizer=tokenizer,
                   scheduler=PNDMScheduler.from_config(cfg["scheduler"]), image_encoder=image_encoder,
                   feature_extractor=processor, path=out), out)
    text_proj = CLIPTextModelWithProjection(clip.config.text_config)
    text_proj.text_model.load_state_dict(clip.text_model.state_dict())
    text_proj.text_projection.load_state_dict(clip.text_projection.state_dict())
    # transformers 4 writes pytorch_model.bin unless asked for safetensors (< 4.35); 5 has no such switch
    safe = "safe_serialization" in inspect.signature(text_proj.save_pretrained).parameters
    text_proj.save_pretrained(out / CLIP_TEXT_DIR, **({"safe_serialization": True} if safe else {}))
    for part in ("vae", "clip", "unet"):
        if (out / f"train_{part}" / "loss.csv").is_file():
            (out / f"train_{part}" / "loss.csv").replace(out / f"loss_{part}.csv")
        shutil.rmtree(out / f"train_{part}", ignore_errors=True)
