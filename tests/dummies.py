"""Tiny, seeded dummy components (as diffusers' tests build them): a Base in milliseconds.

Sizes: 32x32 images, VAE downsampling 4 -> 8x8x4 latents, CLIP image tower of width 16 with
8x8-pixel patches (4x4 grid + CLS = 17 tokens), UNet cross-attention 16. Random weights, so
outputs are meaningless but deterministic: good for exact-slice and equivalence tests.
"""
import torch
from diffusers import AutoencoderKL, PNDMScheduler, UNet2DConditionModel
from transformers import CLIPImageProcessor, CLIPVisionConfig, CLIPVisionModelWithProjection

from dreampose.models.base import Base

SD_SCHEDULER = dict(num_train_timesteps=1000, beta_start=0.00085, beta_end=0.012, beta_schedule="scaled_linear",
                    skip_prk_steps=True, steps_offset=1, set_alpha_to_one=False)


def own_init(model: torch.nn.Module, seed: int) -> None:
    """Weights from our own seeded draw (N(0, 0.02) matrices and embeddings, norms 1, biases 0), not
    from the library's init code, which differs between versions (transformers 5 initialises CLIP
    otherwise than 4.x): the recorded outputs then hold at the lowest supported versions too."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if p.ndim == 1 and name.endswith(("weight", "bias")):
                p.fill_(1.0 if name.endswith("weight") else 0.0)
            else:
                p.copy_(torch.randn(p.shape, generator=g) * 0.02)


def dummy_base(size: int = 32, width: int = 16, seed: int = 0) -> Base:
    """Random-init VAE (4x down), UNet (in 4 channels), CLIP image tower + processor, PNDM; no text parts."""
    torch.manual_seed(seed)
    vae = AutoencoderKL(block_out_channels=[8, 16, 16], down_block_types=["DownEncoderBlock2D"] * 3,
                        up_block_types=["UpDecoderBlock2D"] * 3, latent_channels=4, norm_num_groups=8,
                        layers_per_block=1, sample_size=size)
    unet = UNet2DConditionModel(sample_size=size // 4, in_channels=4, out_channels=4, layers_per_block=1,
                                block_out_channels=[16, 32], down_block_types=["DownBlock2D", "CrossAttnDownBlock2D"],
                                up_block_types=["CrossAttnUpBlock2D", "UpBlock2D"], cross_attention_dim=width,
                                attention_head_dim=8, norm_num_groups=8)
    image_encoder = CLIPVisionModelWithProjection(CLIPVisionConfig(
        hidden_size=width, intermediate_size=2 * width, num_hidden_layers=1, num_attention_heads=2,
        image_size=size, patch_size=size // 4, projection_dim=width))
    own_init(image_encoder, seed)
    processor = CLIPImageProcessor(size={"shortest_edge": size}, crop_size={"height": size, "width": size})
    for m in (vae, unet, image_encoder):
        m.eval()
    return Base(vae=vae, unet=unet, text_encoder=None, tokenizer=None, scheduler=PNDMScheduler(**SD_SCHEDULER),
                image_encoder=image_encoder, feature_extractor=processor, path="dummy")


def dummy_pipeline(n_poses: int = 5, image_encoder_mode: str = "clip+vae", seed: int = 0):
    """DreamPosePipeline.from_base on the dummy base, progress bar off."""
    from dreampose.pipeline import DreamPosePipeline

    pipe = DreamPosePipeline.from_base(dummy_base(seed=seed), n_poses=n_poses, image_encoder_mode=image_encoder_mode)
    pipe.set_progress_bar_config(disable=True)
    return pipe
