"""Frame sizes at the paper profile's shapes: every multiple of 8 (so every multiple of 64: 512x512,
512x640, 768x768) goes through the adapter, the pipeline, and the finetuning datasets and objectives.

The models are the paper's (benchmarks/configs/sd14: SD 1.4's VAE and UNet, CLIP ViT-B/32) at
reduced widths: VAE downsampling 8, SD's four UNet levels, CLIP's 224-px input in 32-px patches
(50 tokens). A size that is not a multiple of 8 is an error naming the nearest valid ones
(tests/test_bad_inputs.py).
"""
import numpy as np
import pytest
import torch

from benchmarks.paper_models import SIZE as PAPER
from benchmarks.paper_models import paper_pipeline
from dreampose.config import load_profile
from dreampose.data.pairs import PairDataset, SubjectDataset
from dreampose.data.video import Video
from dreampose.models.adapter import DreamPoseAdapter
from dreampose.train.finetune import collate, latent_size
from dreampose.train.objectives import DecoderObjective, DreamPoseObjective

@pytest.fixture(scope="module")
def pipe():
    return paper_pipeline(tiny=True)


def iuv(n: int, height: int, width: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return np.concatenate([rng.integers(0, 25, (n, height, width, 1)), rng.integers(0, 256, (n, height, width, 2))],
                          -1).astype(np.uint8)


def test_the_models_have_the_papers_shapes(pipe):
    assert pipe.latent_factor == 8 and pipe.n_poses == 5 and pipe.unet.conv_in.in_channels == 4 + 10
    assert len(pipe.unet.config.block_out_channels) == 4 and pipe.adapter.config.grid == 7  # 224 px / 32 px
    c_image = pipe.encode_image_condition(torch.zeros(1, 3, *PAPER))
    assert c_image.shape == (1, 50, pipe.unet.config.cross_attention_dim)


@pytest.mark.parametrize("latent", [(64, 64), (80, 64), (96, 96), (64, 128), (128, 64), (65, 64), (8, 8)])
def test_the_adapter_reads_any_latent_grid_into_the_50_clip_tokens(latent):
    """c_VAE is pooled onto CLIP's 7 x 7 patch grid whatever its size, so c_I keeps 50 tokens."""
    adapter = DreamPoseAdapter(clip_dim=16, cross_attention_dim=16, grid=7)
    clip_tokens = torch.randn(2, 50, 16)
    c_vae = torch.randn(2, 4, *latent)
    assert torch.equal(adapter(clip_tokens, c_vae), adapter.proj(clip_tokens))  # zero init: CLIP only
    torch.nn.init.normal_(adapter.vae_patch.weight)
    out = adapter(clip_tokens, c_vae)
    assert out.shape == (2, 50, 16) and not torch.equal(out, adapter.proj(clip_tokens))


@pytest.mark.parametrize("size", [None, (512, 512), (768, 768), (520, 512)],
                         ids=["default-640x512", "512x512", "768x768", "520x512"])
def test_sampling_at_any_multiple_of_8(pipe, size):
    """One step, one guidance branch (s_I = s_p = 1): the size logic is the same for all three.
    No size given: the paper's 640 x 512, which stage 1 keeps in the pipeline (not SD's 512 x 512)."""
    height, width = size or PAPER
    size = {"height": height, "width": width} if size else {}
    image = np.random.default_rng(1).integers(0, 256, (height, width, 3), dtype=np.uint8)
    out = pipe(image, iuv(3, height // 2, width // 2), frames=[1], num_inference_steps=1, image_guidance_scale=1.0,
               pose_guidance_scale=1.0, output_type="np", generator=torch.Generator().manual_seed(0), **size)
    assert out.frames.shape == (1, height, width, 3) and np.isfinite(out.frames).all()


@pytest.mark.parametrize("height, width", [(512, 512), (448, 576)])
def test_finetuning_at_another_size_than_the_papers(pipe, height, width):
    """Stage-1 pairs, subject crops and the decoder at a profile size other than 640 x 512
    (square, and wider than high)."""
    profile = load_profile("paper", [f"data.width={width}", f"data.height={height}"])
    h, w = latent_size(profile)
    assert (h, w) == (height // pipe.latent_factor, width // pipe.latent_factor)
    frames = np.random.default_rng(2).integers(0, 256, (3, height, width, 3), dtype=np.uint8)
    video = Video("v", frames, iuv(3, height, width), 30)
    g = torch.Generator().manual_seed(0)

    pairs = collate(PairDataset([video], 5, (h, w), length=1, seed=0))([0])
    assert pairs["pose"].shape == (1, 10, h, w) and pairs["target"].shape == (1, 3, height, width)
    stage1 = DreamPoseObjective(pipe, profile.stage1.image_dropout, profile.stage1.pose_dropout,
                                profile.stage1.both_dropout)
    loss = stage1(pairs, g)
    loss.backward()
    assert torch.isfinite(loss) and pipe.unet.conv_in.weight.grad[:, 4:].abs().sum() > 0  # the pose channels learn
    pipe.unet.zero_grad(set_to_none=True)

    subject = collate(SubjectDataset([pairs["image"][0]], [pairs["pose"][0]], length=1, seed=0,
                                     crop_scale=profile.subject.crop_scale))([0])
    assert subject["pose"].shape == (1, 10, h, w) and subject["target"].shape == (1, 3, height, width)
    assert torch.isfinite(DreamPoseObjective(pipe)(subject, g))
    decoder = DecoderObjective(pipe.vae)(subject, g)
    assert torch.isfinite(decoder)
