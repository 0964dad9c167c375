"""The pretrained base: Stable Diffusion + a CLIP image tower, or the tiny one trained here.

One loader serves both. ``load_base_from(folder_or_hub_id, image_encoder, revision)`` reads
an SD-layout checkpoint with ``from_pretrained(..., subfolder=...)``: SD 1.4 from the hub for
the paper profile (``CompVis/stable-diffusion-v1-4``, as the authors' code loads it), or the
tiny base that ``dreampose.train.base`` writes in the same layout with ``save_base``. This
module only builds, loads and saves; ``dreampose.stages.base`` decides whether to train (and
caches the result).

Sizes (tiny vs SD 1.x):  image 64x64 vs 512x512 (512x640 in the paper); VAE downsampling
4 vs 8, latent 16x16x4 vs 64x64x4; CLIP image tower width 64, 8x8 patches + CLS = 65
tokens vs ViT-B/32 width 768, 7x7 + CLS = 50 tokens; UNet cross-attention 64 vs 768 (the
CLIP image width in both, so c_CLIP fits the cross-attention as it is).
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..config import BaseConfig

_WEIGHTS = {  # accepted weight files, the first is the one we write
    "diffusers": ("diffusion_pytorch_model.safetensors", "diffusion_pytorch_model.bin",
                  "diffusion_pytorch_model.fp16.safetensors"),
    "transformers": ("model.safetensors", "pytorch_model.bin", "model.fp16.safetensors"),
}
# subfolder -> required files, each a tuple of alternatives (SD 1.x's layout + the image tower)
PARTS: dict[str, tuple[tuple[str, ...], ...]] = {
    "vae": (("config.json",), _WEIGHTS["diffusers"]),
    "unet": (("config.json",), _WEIGHTS["diffusers"]),
    "text_encoder": (("config.json",), _WEIGHTS["transformers"]),
    "tokenizer": (("vocab.json",), ("merges.txt",)),
    "scheduler": (("scheduler_config.json",),),
    "image_encoder": (("config.json",), _WEIGHTS["transformers"]),
    "feature_extractor": (("preprocessor_config.json",),),
}
IMAGE_PARTS = ("image_encoder", "feature_extractor")


class BaseModelError(RuntimeError):
    """The base model cannot be loaded; the message lists what is missing and how to fix it."""


@dataclass
class Base:
    vae: Any
    unet: Any
    text_encoder: Any
    tokenizer: Any
    scheduler: Any
    image_encoder: Any
    feature_extractor: Any
    path: Path | str  # the folder, or the hub id for a hub model


def _missing(folder: Path, parts: dict[str, tuple[tuple[str, ...], ...]]) -> list[str]:
    missing = []
    for part, requirements in parts.items():
        sub = folder / part if part else folder
        if not sub.is_dir():
            missing.append(f"{part}/")
            continue
        missing += [f"{part}/{alts[0]}" if part else alts[0]
                    for alts in requirements if not any((sub / f).is_file() for f in alts)]
    return missing


def check_base_folder(path: str | Path, need_image_encoder: bool = True) -> None:
    """Raise BaseModelError listing every missing part of an SD-layout folder.

    ``need_image_encoder=False`` when the CLIP image tower comes from elsewhere (SD 1.4 and 1.5 have none).
    """
    path = Path(path)
    if not path.is_dir():
        raise BaseModelError(f"base model folder {path} does not exist; train the tiny base with `dreampose base` or "
                             "`dreampose reproduce`, or set base.pretrained to an SD-layout folder or hub id")
    parts = {k: v for k, v in PARTS.items() if need_image_encoder or k not in IMAGE_PARTS}
    missing = ([] if (path / "model_index.json").is_file() else ["model_index.json"]) + _missing(path, parts)
    if missing:
        raise BaseModelError(f"base model folder {path} is incomplete, missing: {', '.join(missing)}; "
                             "delete the folder to retrain it, or point base.pretrained at a complete checkpoint")
    for weights in sorted(path.glob("*/*.safetensors")):
        check_safetensors(weights)


def check_safetensors(path: str | Path) -> None:
    """Raise BaseModelError if a .safetensors file is truncated or not safetensors at all.

    Reads only the header (8-byte length + JSON) and compares the largest tensor end offset
    with the file size, so a half-copied or half-downloaded checkpoint is named before
    torch or safetensors fail deep inside ``from_pretrained``.
    """
    path = Path(path)
    fix = ("delete the base model folder to rebuild it (`dreampose base`), or download/copy the checkpoint again")
    size = path.stat().st_size
    try:
        with open(path, "rb") as fh:
            head = fh.read(8)
            n = int.from_bytes(head, "little") if len(head) == 8 else -1
            if n < 2 or 8 + n > size:
                raise ValueError("no complete header")
            header = json.loads(fh.read(n))
        end = max((int(v["data_offsets"][1]) for k, v in header.items() if k != "__metadata__"), default=0)
    except (ValueError, KeyError, TypeError, IndexError, UnicodeDecodeError) as err:
        raise BaseModelError(f"weight file {path} is not a readable safetensors file ({err}); {fix}") from None
    if 8 + n + end > size:
        raise BaseModelError(f"weight file {path} is truncated: {size} bytes, but its header needs {8 + n + end}; "
                             f"{fix}")


def _check_image_encoder_folder(path: Path) -> None:
    req = {"": (("config.json",), _WEIGHTS["transformers"], ("preprocessor_config.json",))}
    missing = _missing(path, req) if path.is_dir() else ["the folder itself"]
    if missing:
        raise BaseModelError(f"CLIP image encoder folder {path} is incomplete, missing: {', '.join(missing)}; "
                             "point base.image_encoder at a CLIP model folder (or hub id), or leave it empty")


def _is_local(name: str | Path) -> bool:
    """A folder (existing or meant to be), as opposed to a hub id 'org/name'."""
    s = str(name)
    return Path(s).is_dir() or Path(s).is_absolute() or s.startswith((".", "~")) or s.count("/") > 1


def load_base_from(pretrained: str | Path, image_encoder: str | Path = "", revision: str = "") -> Base:
    """Load every part with from_pretrained, from a local folder or a hub id (the one code path).

    ``image_encoder``: folder or hub id of the CLIP image tower with its processor at the top
    level (e.g. openai/clip-vit-base-patch32); "" = ``<pretrained>/image_encoder`` and
    ``<pretrained>/feature_extractor``. ``revision``: branch, tag or commit of ``pretrained`` on
    the hub ("" = its default branch), passed to every part read from ``pretrained`` (a local
    folder has no revisions: diffusers and transformers ignore it there).
    """
    from diffusers import AutoencoderKL, PNDMScheduler, UNet2DConditionModel
    from transformers import CLIPImageProcessor, CLIPTextModel, CLIPTokenizer, CLIPVisionModelWithProjection

    local = _is_local(pretrained)
    if local:
        pretrained = Path(pretrained).expanduser()
        check_base_folder(pretrained, need_image_encoder=not image_encoder)
    if image_encoder and _is_local(image_encoder):
        image_encoder = Path(image_encoder).expanduser()
        _check_image_encoder_folder(image_encoder)
    rev = {"revision": revision or None}
    enc, enc_sub = (image_encoder, {}) if image_encoder else (pretrained, {"subfolder": "image_encoder", **rev})
    proc_sub = {} if image_encoder else {"subfolder": "feature_extractor", **rev}
    try:
        return Base(
            vae=AutoencoderKL.from_pretrained(pretrained, subfolder="vae", **rev),
            unet=UNet2DConditionModel.from_pretrained(pretrained, subfolder="unet", **rev),
            text_encoder=CLIPTextModel.from_pretrained(pretrained, subfolder="text_encoder", **rev),
            tokenizer=CLIPTokenizer.from_pretrained(pretrained, subfolder="tokenizer", **rev),
            scheduler=PNDMScheduler.from_pretrained(pretrained, subfolder="scheduler", **rev),
            image_encoder=CLIPVisionModelWithProjection.from_pretrained(enc, **enc_sub),
            feature_extractor=CLIPImageProcessor.from_pretrained(enc, **proc_sub),
            path=pretrained,
        )
    except (OSError, ValueError) as err:
        if local and (not image_encoder or _is_local(image_encoder)):
            raise BaseModelError(f"base model {pretrained} (image encoder {str(image_encoder) or 'inside'}) is damaged "
                                 f"({err.__class__.__name__}: {str(err)[:300]}); delete the folder to rebuild it") from None
        raise BaseModelError(
            f"could not load {str(pretrained)!r}" + (f" at revision {revision!r}" if revision else "")
            + (f" / image encoder {str(image_encoder)!r}" if image_encoder else "") + " from the hub "
            f"({err.__class__.__name__}: {str(err)[:200]}); offline (HF_HUB_OFFLINE=1 or no network) only models "
            "already in the hub cache load. Download them once (`huggingface-cli download <id>`) or set "
            "base.pretrained / base.image_encoder to local folders."
        ) from None


def save_base(base: Base, folder: str | Path) -> None:
    """Write ``base`` in SD's folder layout (safetensors), loadable by StableDiffusionPipeline."""
    from diffusers import StableDiffusionPipeline

    from .tokenizer import write_vocab_files

    folder = Path(folder)
    pipe = StableDiffusionPipeline(vae=base.vae, text_encoder=base.text_encoder, tokenizer=base.tokenizer,
                                   unet=base.unet, scheduler=base.scheduler, safety_checker=None,
                                   feature_extractor=base.feature_extractor, image_encoder=base.image_encoder,
                                   requires_safety_checker=False)
    pipe.save_pretrained(folder, safe_serialization=True)
    write_vocab_files(base.tokenizer, folder / "tokenizer")
    index = json.loads((folder / "model_index.json").read_text())
    index["feature_extractor"] = ["transformers", "CLIPImageProcessor"]  # SD's name, not the no-torchvision fallback
    (folder / "model_index.json").write_text(json.dumps(index, indent=2, sort_keys=True) + "\n")


def component_configs(b: BaseConfig, image_size: int, vocab_size: int) -> dict[str, dict]:
    """Configs of the tiny base's parts, built from the profile (SD's structure, smaller)."""
    n_down = {2: 1, 4: 2, 8: 3}.get(b.latent_downsample)
    if n_down is None or len(b.vae_channels) < n_down + 1:
        raise ValueError(f"base.latent_downsample={b.latent_downsample} needs a power of two in 2..8 and "
                         f"base.vae_channels with log2(downsample) + 1 entries; got {b.vae_channels}")
    if b.clip_image_size % b.clip_patch:
        raise ValueError(f"base.clip_patch={b.clip_patch} must divide base.clip_image_size={b.clip_image_size}")
    vae_channels = list(b.vae_channels[: n_down + 1])
    heads = max(1, b.clip_width // 32)
    return {
        "vae": dict(in_channels=3, out_channels=3, latent_channels=b.latent_channels,
                    down_block_types=["DownEncoderBlock2D"] * len(vae_channels),
                    up_block_types=["UpDecoderBlock2D"] * len(vae_channels),
                    block_out_channels=vae_channels, layers_per_block=1, norm_num_groups=8,
                    sample_size=image_size),
        # cross-attention off the highest resolution (DownBlock2D first): ~2x faster at 16x16 latents
        "unet": dict(sample_size=image_size // b.latent_downsample, in_channels=b.latent_channels,
                     out_channels=b.latent_channels, layers_per_block=1, block_out_channels=list(b.unet_channels),
                     down_block_types=["DownBlock2D"] + ["CrossAttnDownBlock2D"] * (len(b.unet_channels) - 1),
                     up_block_types=["CrossAttnUpBlock2D"] * (len(b.unet_channels) - 1) + ["UpBlock2D"],
                     cross_attention_dim=b.cross_attention_dim, attention_head_dim=8, norm_num_groups=8),
        "text": dict(vocab_size=vocab_size, hidden_size=b.clip_width, intermediate_size=4 * b.clip_width,
                     num_hidden_layers=b.clip_layers, num_attention_heads=heads,
                     max_position_embeddings=b.text_max_length, projection_dim=b.clip_width),
        "vision": dict(hidden_size=b.clip_width, intermediate_size=4 * b.clip_width, num_hidden_layers=b.clip_layers,
                       num_attention_heads=heads, image_size=b.clip_image_size, patch_size=b.clip_patch,
                       projection_dim=b.clip_width),
        # SD 1.x's scheduler_config.json (load with PNDMScheduler.from_config)
        "scheduler": dict(num_train_timesteps=1000, beta_start=0.00085, beta_end=0.012, beta_schedule="scaled_linear",
                          skip_prk_steps=True, steps_offset=1, set_alpha_to_one=False, clip_sample=False),
    }
