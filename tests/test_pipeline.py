import math

import numpy as np
import pytest
import torch

from diffusers import EulerAncestralDiscreteScheduler
from PIL import Image
from transformers import CLIPImageProcessor

from dreampose.data.images import clip_preprocess
from dreampose.data.video import DataError
from dreampose.pipeline import DreamPosePipeline, make_scheduler

from dummies import dummy_base, dummy_pipeline


@pytest.fixture(scope="module")
def pipe():
    return dummy_pipeline(n_poses=5)


def inputs(n=3, seed=0):
    g = torch.Generator().manual_seed(seed)
    image = torch.rand(3, 32, 32, generator=g) * 2 - 1
    poses = torch.rand(n, 2, 32, 32, generator=g) * 2 - 1
    return image, poses


def run(pipe, n=3, **kw):
    image, poses = inputs(n)
    args = dict(image=image, poses=poses, num_inference_steps=2, image_guidance_scale=3.0, pose_guidance_scale=2.0,
                generator=torch.Generator().manual_seed(0), output_type="np")
    args.update(kw)
    out = pipe(**args)
    return out.frames if args.get("return_dict", True) else out


def test_output_shape_and_exact_slice(pipe):
    frames = run(pipe)
    assert frames.shape == (3, 32, 32, 3) and frames.dtype == np.float32
    assert 0 <= frames.min() and frames.max() <= 1
    expected = np.array([0.4202, 0.5885, 0.5697, 0.3777, 0.6287, 0.5410, 0.4765, 0.5300, 0.4649])  # recorded
    assert np.abs(frames[0, -3:, -1].flatten() - expected).max() < 1e-3, frames[0, -3:, -1].flatten().round(4)


def test_frames_do_not_depend_on_frames_per_batch(pipe):
    assert np.abs(run(pipe, 5, frames_per_batch=1) - run(pipe, 5, frames_per_batch=4)).max() < 1e-4


def test_at_initialisation_dreampose_is_the_base_unet_with_clip_image_conditioning(pipe):
    """Effect 1: zero-initialised adapter branch and pose channels change nothing."""
    base = dummy_base()
    image, poses = inputs(2)
    with torch.no_grad():
        c_image = pipe.encode_image_condition(image[None])
        c_clip, _ = pipe.encode_image_features(image[None])
        z = torch.randn(1, 4, 8, 8)
        ours = pipe.unet(torch.cat([z, torch.randn(1, 10, 8, 8)], 1), 50, encoder_hidden_states=c_image).sample
        ref = base.unet(z, 50, encoder_hidden_states=c_clip).sample
    assert torch.allclose(ours, ref, atol=1e-6)


def test_save_and_load_give_identical_frames(pipe, tmp_path):
    pipe.save_pretrained(tmp_path)
    back = DreamPosePipeline.from_pretrained(tmp_path)
    back.set_progress_bar_config(disable=True)
    assert back.n_poses == 5 and type(back.adapter).__name__ == "DreamPoseAdapter"
    assert np.array_equal(run(pipe), run(back))


@pytest.mark.parametrize("name", ["pndm", "ddim", "dpm++", "euler"])
def test_schedulers_are_swappable(pipe, name):
    original = pipe.scheduler
    pipe.scheduler = make_scheduler(name, original.config)
    try:
        frames = run(pipe, 1, num_inference_steps=3)
    finally:
        pipe.scheduler = original
    assert np.isfinite(frames).all()


def test_output_types_and_iuv_input(pipe):
    image, _ = inputs()
    iuv = np.zeros((2, 32, 32, 3), np.uint8)
    iuv[:, 8:24, 12:20] = (2, 128, 64)
    seed = lambda: torch.Generator().manual_seed(0)  # noqa: E731
    pil = pipe(image, iuv, num_inference_steps=1, output_type="pil", generator=seed()).frames
    pt = pipe(image, torch.from_numpy(iuv), num_inference_steps=1, output_type="pt", generator=seed()).frames
    assert len(pil) == 2 and pil[0].size == (32, 32) and pt.shape == (2, 3, 32, 32)
    assert np.abs(np.asarray(pil[1]) / 255.0 - pt[1].permute(1, 2, 0).numpy()).max() <= 0.5 / 255 + 1e-6


def test_several_input_images(pipe):
    image, poses = inputs(1)
    views = [image, image.flip(-1)]
    frames = run(pipe, 1, image=views, num_inference_steps=1)
    assert frames.shape == (1, 32, 32, 3)
    assert np.array_equal(run(pipe, 1, image=torch.stack(views), num_inference_steps=1), frames)
    assert not np.array_equal(run(pipe, 1, num_inference_steps=1), frames)  # the second view matters
    with torch.no_grad():
        c_image = pipe.encode_image_condition(torch.stack(views))
    assert c_image.shape == (2, 17, 16)  # concatenated to (1, 34, 16) for sampling


def test_image_condition_encoded_once_and_frames_batched(pipe, monkeypatch):
    """5 frames, 2 per batch, 3 branches: per step, calls of 6, 6 and 3 rows; PNDM takes 3 evaluations for 2 steps."""
    encode, forward, rows = pipe.encode_image_condition, pipe.unet.forward, []
    counted = []
    monkeypatch.setattr(pipe, "encode_image_condition", lambda x: counted.append(1) or encode(x))
    monkeypatch.setattr(pipe.unet, "forward", lambda x, *a, **k: rows.append(len(x)) or forward(x, *a, **k))
    run(pipe, 5, frames_per_batch=2)
    assert counted == [1] and rows == [6, 6, 3] * 3


def test_clip_only_pipeline_equals_clip_vae_at_initialisation_and_round_trips(pipe, tmp_path):
    """Ours_CLIP and Ours_Full start from the same model: the VAE branch is zero at init."""
    clip_only = dummy_pipeline(image_encoder_mode="clip")
    assert not hasattr(clip_only.adapter, "vae_patch")
    frames = run(clip_only, 1, num_inference_steps=1)
    assert np.array_equal(frames, run(pipe, 1, num_inference_steps=1))
    clip_only.save_pretrained(tmp_path)
    back = DreamPosePipeline.from_pretrained(tmp_path)
    assert back.adapter.config.mode == "clip" and np.array_equal(run(back, 1, num_inference_steps=1), frames)


def test_other_output_sizes(pipe):
    frames = run(pipe, 2, poses=torch.zeros(2, 2, 64, 48), num_inference_steps=1, height=32, width=24)
    assert frames.shape == (2, 32, 24, 3)
    with pytest.raises(ValueError, match="multiples of 4"):
        run(pipe, 1, height=30)


def test_poses_of_another_aspect_ratio_are_stretched_with_a_warning(pipe):
    with pytest.warns(UserWarning, match="stretched"):
        run(pipe, 1, poses=torch.zeros(1, 2, 32, 16), num_inference_steps=1)


@pytest.mark.parametrize("hw", [(64, 48), (300, 260)])
def test_clip_preprocessing_in_torch_matches_clip_image_processor(hw):
    processor = CLIPImageProcessor()  # openai/clip-vit-base-patch32 settings: shortest edge 224, crop 224
    arr = np.random.default_rng(0).integers(0, 256, (*hw, 3), dtype=np.uint8)
    ref = processor(images=Image.fromarray(arr), return_tensors="pt").pixel_values
    ours = clip_preprocess(torch.from_numpy(arr).permute(2, 0, 1)[None].float() / 127.5 - 1, processor)
    assert ours.shape == ref.shape == (1, 3, 224, 224)
    assert (ours - ref).abs().max() < 2e-2 and (ours - ref).abs().mean() < 6e-3


@pytest.mark.parametrize(
    "kw, error, word",
    [
        (dict(poses=torch.zeros(2, 3, 32, 32)), DataError, "(T, 2, H, W)"),
        (dict(poses=torch.zeros(0, 2, 32, 32)), DataError, "empty"),
        (dict(poses=torch.full((2, 2, 32, 32), 3.0)), DataError, "[-1, 1]"),
        (dict(poses=np.full((2, 32, 32, 3), 200, np.uint8)), DataError, "DensePose"),
        (dict(image_guidance_scale=math.nan), ValueError, "finite"),
        (dict(num_inference_steps=0), ValueError, "positive"),
        (dict(frames_per_batch=0), ValueError, "positive"),
        (dict(poses=np.zeros((2, 32, 32, 4), np.uint8)), DataError, "(T, H, W, 3)"),
        (dict(image=torch.zeros(4, 32, 32)), DataError, "(3, H, W)"),
        (dict(image=[]), DataError, "no input image"),
    ],
)
def test_bad_input_fails_before_any_unet_call(pipe, kw, error, word, monkeypatch):
    image, poses = inputs(2)
    args = dict(image=image, poses=poses, num_inference_steps=1)
    args.update(kw)
    monkeypatch.setattr(pipe.unet, "forward", lambda *a, **k: pytest.fail("UNet was called"))
    with pytest.raises(error) as err:
        pipe(**args)
    assert word in str(err.value)


def test_a_subset_of_frames_keeps_each_frames_pose_window(pipe):
    """frames=[...] renders those poses with their windows from the full sequence (same noise -> same frames)."""
    noise = torch.randn(5, 4, 8, 8, generator=torch.Generator().manual_seed(1))
    full = run(pipe, 5, latents=noise)
    part = run(pipe, 5, frames=[1, 3], latents=noise[[1, 3]])
    assert np.abs(full[[1, 3]] - part).max() < 1e-5
    with pytest.raises(ValueError, match="indices into the 5 poses"):
        run(pipe, 5, frames=[7])


def test_callback_on_step_end_runs_once_per_step_and_can_replace_latents(pipe):
    seen = []

    def record(p, i, t, tensors):
        seen.append((i, int(t), sorted(tensors), tuple(tensors["latents"].shape)))

    run(pipe, 3, frames_per_batch=2, callback_on_step_end=record, callback_on_step_end_tensor_inputs=["latents", "c_pose"])
    timesteps = pipe.prepare_scheduler(2).timesteps.tolist()  # PNDM: 3 evaluations for 2 steps
    assert seen == [(i, t, ["c_pose", "latents"], (3, 4, 8, 8)) for i, t in enumerate(timesteps)]
    last = len(timesteps) - 1
    zero = lambda p, i, t, kw: {"latents": torch.zeros_like(kw["latents"])} if i == last else None  # noqa: E731
    out = run(pipe, 3, callback_on_step_end=zero, output_type="pt")
    assert torch.equal(out, pipe.decode(torch.zeros(3, 4, 8, 8), output_type="pt"))
    assert not torch.equal(out, run(pipe, 3, output_type="pt"))
    with pytest.raises(ValueError, match=r"must be among \['latents', 'c_image', 'c_pose'\], got \['noise'\]"):
        run(pipe, 3, callback_on_step_end=record, callback_on_step_end_tensor_inputs=["noise"])


def test_latent_output_decodes_to_the_frames_and_return_dict_false_gives_a_tuple(pipe):
    latents = run(pipe, 3, output_type="latent")
    assert latents.shape == (3, 4, 8, 8)
    assert torch.equal(pipe.decode(latents, output_type="pt"), run(pipe, 3, output_type="pt"))
    out = run(pipe, 3, return_dict=False)
    assert isinstance(out, tuple) and len(out) == 1 and np.array_equal(out[0], run(pipe, 3))


def test_a_list_of_generators_gives_each_rendered_frame_its_own_noise(pipe):
    gens = lambda *seeds: [torch.Generator().manual_seed(s) for s in seeds]  # noqa: E731
    a = run(pipe, 3, generator=gens(0, 1, 2))
    noise = torch.cat([torch.randn(1, 4, 8, 8, generator=g) for g in gens(0, 1, 2)])
    assert np.array_equal(a, run(pipe, 3, latents=noise))
    b = run(pipe, 3, generator=gens(5, 1, 7))
    assert np.abs(a[1] - b[1]).max() < 1e-5 and np.abs(a[0] - b[0]).max() > 1e-2  # frame 1 keeps generator 1
    with pytest.raises(ValueError, match=r"list of 2 generators; pass one per rendered frame \(3\)"):
        run(pipe, 3, generator=gens(0, 1))
    with pytest.raises(ValueError, match="generator must be a torch.Generator, got int"):
        run(pipe, 2, generator=[torch.Generator(), 3])


def test_a_stochastic_scheduler_draws_its_step_noise_from_the_generator(pipe):
    original = pipe.scheduler
    pipe.scheduler = EulerAncestralDiscreteScheduler.from_config(original.config)
    noise = torch.randn(2, 4, 8, 8, generator=torch.Generator().manual_seed(3))
    try:
        a = run(pipe, 2, latents=noise, num_inference_steps=3)
        torch.manual_seed(123)  # the global RNG must not matter
        b = run(pipe, 2, latents=noise, num_inference_steps=3)
        c = run(pipe, 2, latents=noise, num_inference_steps=3, generator=torch.Generator().manual_seed(1))
    finally:
        pipe.scheduler = original
    assert np.array_equal(a, b)
    assert np.abs(a - c).max() > 1e-2  # same initial noise, other step noise


def test_a_frame_rendered_alone_equals_that_frame_of_the_whole_sequence(pipe):
    """Initial noise is drawn per pose index: frames=[3] with a seed gives frame 3 of all frames."""
    full = run(pipe, 5)
    alone, pair = run(pipe, 5, frames=[3]), run(pipe, 5, frames=[4, 1])
    assert np.abs(alone[0] - full[3]).max() < 1e-5
    assert np.abs(pair - full[[4, 1]]).max() < 1e-5
    assert np.abs(alone[0] - run(pipe, 5, frames=[3], generator=torch.Generator().manual_seed(1))[0]).max() > 1e-2
