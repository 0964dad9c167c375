"""The paper's models (SD 1.4 + the CLIP ViT-B/32 image tower) with random weights, no download.

``benchmarks/configs/sd14/`` holds the config files of SD 1.4's unet, vae and scheduler and of
the CLIP ViT-B/32 image tower and its processor, in SD's folder layout (its README.md says where
each value comes from). ``paper_base`` builds a ``dreampose.models.base.Base`` from them with
random weights; ``DreamPosePipeline.from_base`` then applies the conv_in surgery (4 + 2 x 5
channels) and the zero-initialised adapter exactly as it does for the real checkpoint. Speed and
memory do not depend on the weights' values, only on these shapes.

``tiny=True`` keeps the paper's structure (VAE downsampling 8, SD's four UNet levels and block
types, CLIP patches of 32 px at 224 px: 50 tokens) and shrinks every width, so the same code
runs on a CPU in seconds.
"""
from __future__ import annotations

import json
from pathlib import Path

import torch

CONFIGS = Path(__file__).parent / "configs" / "sd14"
FILES = {"unet": "unet/config.json", "vae": "vae/config.json", "scheduler": "scheduler/scheduler_config.json",
         "image_encoder": "image_encoder/config.json",
         "feature_extractor": "feature_extractor/preprocessor_config.json"}
TINY = {  # widths only: every downsampling factor, block type, patch and token count stays the paper's
    "unet": {"block_out_channels": [8, 16, 16, 32], "layers_per_block": 1, "cross_attention_dim": 16,
             "norm_num_groups": 4, "attention_head_dim": 2},
    "vae": {"block_out_channels": [4, 8, 8, 8], "layers_per_block": 1, "norm_num_groups": 4},
    "image_encoder": {"hidden_size": 16, "intermediate_size": 32, "num_hidden_layers": 1,
                      "num_attention_heads": 2, "projection_dim": 16},
}


def configs(tiny: bool = False) -> dict[str, dict]:
    """The committed configs by part (vae, unet, scheduler, image_encoder, feature_extractor)."""
    out = {part: json.loads((CONFIGS / name).read_text()) for part, name in FILES.items()}
    if tiny:
        for part, smaller in TINY.items():
            out[part].update(smaller)
    return out


def paper_base(tiny: bool = False, seed: int = 0, device: str | torch.device = "cpu"):
    """A Base of SD 1.4's VAE, UNet and scheduler and CLIP ViT-B/32's image tower, random weights
    drawn on ``device`` (no text encoder or tokenizer: DreamPose replaces the text condition)."""
    from diffusers import AutoencoderKL, PNDMScheduler, UNet2DConditionModel
    from transformers import CLIPImageProcessor, CLIPVisionConfig, CLIPVisionModelWithProjection

    from dreampose.models.base import Base

    cfg = configs(tiny)
    torch.manual_seed(seed)
    with torch.device(device):
        vae = AutoencoderKL.from_config(cfg["vae"])
        unet = UNet2DConditionModel.from_config(cfg["unet"])
        tower = CLIPVisionModelWithProjection(CLIPVisionConfig.from_dict(cfg["image_encoder"]))
    for module in (vae, unet, tower):
        module.eval()
    return Base(vae=vae, unet=unet, text_encoder=None, tokenizer=None,
                scheduler=PNDMScheduler.from_config(cfg["scheduler"]), image_encoder=tower,
                feature_extractor=CLIPImageProcessor.from_dict(cfg["feature_extractor"]), path=str(CONFIGS))


SIZE = (640, 512)  # (height, width) of the paper profile's frames


def paper_pipeline(tiny: bool = False, seed: int = 0, device: str | torch.device = "cpu", n_poses: int = 5):
    """DreamPosePipeline.from_base(paper_base(...)) rendering 640 x 512 by default, as stage 1 of
    the paper profile leaves it: DreamPose at initialisation, progress bars off."""
    from dreampose.pipeline import DreamPosePipeline

    pipe = DreamPosePipeline.from_base(paper_base(tiny, seed, device), n_poses=n_poses, size=SIZE)
    pipe.set_progress_bar_config(disable=True)
    return pipe
