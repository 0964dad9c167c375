"""The tiny base: pretraining, SD folder layout, the one loader, broken folders, quality figures.

One smoke-size base is trained per session (module fixture, private cache); every test reads it.
"""
import csv
import json
import shutil

import numpy as np
import pytest
import torch

from dreampose.cache import Cache
from dreampose.config import ConfigError, load_profile
from dreampose.models import base as base_mod
from dreampose.models.base import Base, BaseModelError, check_base_folder, load_base_from, save_base
from dreampose.stages import Run
from dreampose.stages import base as base_stage

STEPS = {"base.vae_steps": 16, "base.clip_steps": 16, "base.unet_steps": 16}


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    cache = Cache(tmp_path_factory.mktemp("base-cache"))
    profile = load_profile("smoke", STEPS)
    base = base_stage(Run(profile, cache, progress=False))
    return profile, cache, base


def _log(path):
    with open(path) as fh:
        return list(csv.DictReader(fh))


def test_pretraining_lowers_every_loss_with_a_step_decay_of_the_lr(trained):
    profile, _, base = trained
    b = profile.base
    for part in ("vae", "clip", "unet"):
        rows = _log(base.path / f"loss_{part}.csv")
        loss = [float(r["loss"]) for r in rows]
        assert [int(r["step"]) for r in rows] == list(range(1, 17))
        assert np.mean(loss[-4:]) < 0.9 * np.mean(loss[:4]), (part, loss)
        decayed = round(16 * b.lr_decay_share)
        assert [float(r["lr"]) for r in rows] == pytest.approx([b.lr] * (16 - decayed) + [b.lr * b.lr_decay] * decayed)


def test_corpus_subjects_are_new_and_deterministic(trained):
    from dreampose.data.world import load_world
    from dreampose.train.base_data import HELDOUT_STREAM, corpus_subject, render_corpus

    profile, cache, _ = trained
    world = load_world(profile, cache, progress=False)
    corpus = render_corpus(profile, progress=False)
    assert len(corpus) == profile.base.corpus_subjects and len(corpus[0]) == profile.base.corpus_frames
    again = corpus_subject(profile.seed, 0, profile.base.corpus_frames, profile.data.width, profile.data.height)
    assert np.array_equal(again.frames, corpus[0].frames) and again.caption == corpus[0].caption
    heldout = corpus_subject(profile.seed, 0, 2, profile.data.width, profile.data.height, HELDOUT_STREAM)
    seen = {json.dumps(v.meta["top_front"]) for v in world.train + world.test + corpus}
    assert json.dumps(heldout.meta["top_front"]) not in seen  # a subject nobody trained or tests on
    assert len(seen) == len(world.train) + len(world.test) + len(corpus)


def test_folder_is_stable_diffusion_layout(trained):
    profile, _, base = trained
    index = json.loads((base.path / "model_index.json").read_text())
    assert index["_class_name"] == "StableDiffusionPipeline"
    assert index["safety_checker"] == [None, None]
    assert index["unet"] == ["diffusers", "UNet2DConditionModel"] and index["vae"] == ["diffusers", "AutoencoderKL"]
    assert index["text_encoder"] == ["transformers", "CLIPTextModel"]
    assert index["image_encoder"] == ["transformers", "CLIPVisionModelWithProjection"]
    assert index["feature_extractor"] == ["transformers", "CLIPImageProcessor"]
    assert not list(base.path.rglob("*.bin")) and len(list(base.path.rglob("*.safetensors"))) == 5
    b = profile.base
    assert base.vae.config.scaling_factor == pytest.approx(json.loads((base.path / "manifest.json").read_text())
                                                           ["scaling_factor"])
    assert base.vae.config.scaling_factor != 0.18215  # computed from the data, as SD's was
    assert base.unet.config.cross_attention_dim == b.cross_attention_dim == b.clip_width
    assert base.unet.config.down_block_types[0] == "DownBlock2D"
    s = base.scheduler.config
    assert (type(base.scheduler).__name__, s.beta_schedule, s.beta_start, s.beta_end, s.skip_prk_steps) == \
        ("PNDMScheduler", "scaled_linear", 0.00085, 0.012, True)
    assert base.feature_extractor.crop_size == {"height": b.clip_image_size, "width": b.clip_image_size}
    size = profile.data.height
    with torch.no_grad():
        z = base.vae.encode(torch.zeros(1, 3, size, size)).latent_dist.mean
        tokens = base.image_encoder(pixel_values=torch.zeros(1, 3, b.clip_image_size, b.clip_image_size))
    assert z.shape == (1, 4, size // 4, size // 4)
    assert tokens.last_hidden_state.shape == (1, 1 + (b.clip_image_size // b.clip_patch) ** 2, b.clip_width)


def test_second_call_loads_from_cache(trained, monkeypatch):
    profile, cache, base = trained

    def no_training(*args, **kwargs):
        raise AssertionError("trained again")

    monkeypatch.setattr("dreampose.train.base.pretrain_base", no_training)
    again = base_stage(Run(profile, cache, progress=False))
    assert again.path == base.path
    assert torch.equal(again.unet.conv_in.weight, base.unet.conv_in.weight)


def _outputs(base: Base, seed: int = 0) -> list[torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    size = base.vae.config.sample_size
    x = torch.rand(2, 3, size, size, generator=g) * 2 - 1
    ids = base.tokenizer(["a person in a red striped dress, back view", ""], padding="max_length",
                         max_length=base.tokenizer.model_max_length, return_tensors="pt").input_ids
    with torch.no_grad():
        z = base.vae.encode(x).latent_dist.mean
        text = base.text_encoder(ids).last_hidden_state
        eps = base.unet(z, torch.tensor([10, 900]), encoder_hidden_states=text).sample
        pixels = torch.rand(2, 3, base.feature_extractor.crop_size["height"], base.feature_extractor.crop_size["width"],
                            generator=g)
        image = base.image_encoder(pixel_values=pixels)
    return [z, base.vae.decode(z).sample, text, eps, image.last_hidden_state, image.image_embeds, ids]


def test_save_load_round_trip_is_exact(trained, tmp_path):
    _, _, base = trained
    save_base(base, tmp_path / "copy")
    copy = load_base_from(tmp_path / "copy")
    for a, b in zip(_outputs(base), _outputs(copy)):
        assert torch.equal(a, b)
    assert copy.scheduler.config == base.scheduler.config


def test_tokenizer_loads_with_auto_and_clip_classes(trained):
    from transformers import AutoTokenizer, CLIPTokenizer

    _, _, base = trained
    folder = base.path / "tokenizer"
    caption = "a person in a teal checked top and an orange dotted skirt, side view"  # in no smoke caption
    auto = AutoTokenizer.from_pretrained(folder)
    clip = CLIPTokenizer.from_pretrained(folder)
    assert auto(caption).input_ids == clip(caption).input_ids == base.tokenizer(caption).input_ids
    ids = clip(caption).input_ids
    assert ids[0] == clip.bos_token_id and ids[-1] == clip.eos_token_id
    assert len(ids) == 2 + len(caption.replace(",", " ,").split())  # every word of the grammar is one token
    zebra = clip("a zebra").input_ids[1:-1]
    assert len(zebra) > 2 and clip.unk_token_id not in zebra  # an unknown word falls apart into pieces


def test_stable_diffusion_pipeline_loads_the_folder_and_samples(trained):
    from diffusers import StableDiffusionPipeline

    profile, _, base = trained
    pipe = StableDiffusionPipeline.from_pretrained(base.path)
    pipe.set_progress_bar_config(disable=True)
    assert pipe.image_encoder is not None and pipe.safety_checker is None
    out = pipe("a person in a red dress, front view", num_inference_steps=2, guidance_scale=3.0,
               height=profile.data.height, width=profile.data.width, output_type="np",
               generator=torch.Generator().manual_seed(0)).images
    assert out.shape == (1, profile.data.height, profile.data.width, 3) and np.isfinite(out).all()


def _broken_copy(base, tmp_path, *remove):
    folder = tmp_path / "broken"
    shutil.copytree(base.path, folder)
    for rel in remove:
        target = folder / rel
        shutil.rmtree(target) if target.is_dir() else target.unlink()
    return folder


@pytest.mark.parametrize("remove, listed", [
    (["unet"], ["unet/"]),
    (["vae/diffusion_pytorch_model.safetensors"], ["vae/diffusion_pytorch_model.safetensors"]),
    (["model_index.json"], ["model_index.json"]),
    (["model_index.json", "tokenizer/merges.txt", "image_encoder", "feature_extractor"],
     ["model_index.json", "tokenizer/merges.txt", "image_encoder/", "feature_extractor/"]),
])
def test_broken_folders_are_rejected_with_the_missing_parts(trained, tmp_path, remove, listed):
    folder = _broken_copy(trained[2], tmp_path, *remove)
    with pytest.raises(BaseModelError) as err:
        load_base_from(folder)
    message = str(err.value)
    assert "missing: " + ", ".join(listed) in message and "delete the folder" in message
    with pytest.raises(BaseModelError):
        check_base_folder(folder)


def test_missing_folder_and_offline_hub_id_give_clear_errors(tmp_path):
    with pytest.raises(BaseModelError, match="does not exist"):
        load_base_from(tmp_path / "nowhere")
    with pytest.raises(BaseModelError, match="offline"):
        load_base_from("dreampose-no-such-org/no-such-model")


def test_hub_source_goes_through_the_same_loader(trained, monkeypatch):
    profile, cache, base = trained
    calls = []
    real = base_mod.load_base_from

    def spy(pretrained, image_encoder="", revision=""):
        calls.append((pretrained, image_encoder, revision))
        return real(pretrained, image_encoder, revision)

    monkeypatch.setattr(base_mod, "load_base_from", spy)
    hub = load_profile("smoke", {**STEPS, "base.source": "hub", "base.pretrained": str(base.path),
                                 "base.revision": "main"})
    from_hub = base_stage(Run(hub, cache, progress=False))  # a local folder has no revisions: ignored
    trained_again = base_stage(Run(profile, cache, progress=False))
    assert calls == [(str(base.path), "", "main"), (base.path, "", "")]
    for a, b in zip(_outputs(from_hub), _outputs(trained_again)):
        assert torch.equal(a, b)
    with pytest.raises(ConfigError, match="base.pretrained"):
        load_profile("smoke", {"base.source": "hub"})


@pytest.mark.parametrize("image_encoder", ["", "openai/clip-vit-base-patch32"])
@pytest.mark.parametrize("revision, passed", [("ebb811dd71cdc38a204ecbdd6ac5d580f529fd8c",
                                               "ebb811dd71cdc38a204ecbdd6ac5d580f529fd8c"), ("", None)])
def test_revision_reaches_every_part_read_from_pretrained(monkeypatch, image_encoder, revision, passed):
    """base.revision pins the hub checkpoint: each part read from ``pretrained`` gets it ("" = the
    default branch, None); a separate image encoder is another repository and gets none."""
    from diffusers import AutoencoderKL, PNDMScheduler, UNet2DConditionModel
    from transformers import CLIPImageProcessor, CLIPTextModel, CLIPTokenizer, CLIPVisionModelWithProjection

    calls = {}
    for cls in (AutoencoderKL, UNet2DConditionModel, PNDMScheduler, CLIPTextModel, CLIPTokenizer,
                CLIPVisionModelWithProjection, CLIPImageProcessor):
        def fake(name, _cls=cls.__name__, **kw):
            calls[_cls] = (str(name), kw.get("subfolder"), kw.get("revision", "absent"))
            return _cls
        monkeypatch.setattr(cls, "from_pretrained", staticmethod(fake))
    base = load_base_from("CompVis/stable-diffusion-v1-4", image_encoder, revision)
    sd = ("CompVis/stable-diffusion-v1-4",)
    assert calls["AutoencoderKL"] == sd + ("vae", passed) and calls["UNet2DConditionModel"] == sd + ("unet", passed)
    assert calls["CLIPTextModel"] == sd + ("text_encoder", passed)
    assert calls["CLIPTokenizer"] == sd + ("tokenizer", passed)
    assert calls["PNDMScheduler"] == sd + ("scheduler", passed)
    tower = (calls["CLIPVisionModelWithProjection"], calls[CLIPImageProcessor.__name__])
    if image_encoder:
        assert tower == ((image_encoder, None, "absent"), (image_encoder, None, "absent"))
    else:
        assert tower == (sd + ("image_encoder", passed), sd + ("feature_extractor", passed))
    assert base.unet == "UNet2DConditionModel" and base.path == "CompVis/stable-diffusion-v1-4"


def test_separate_image_encoder_folder(trained, tmp_path):
    """As the paper profile's CLIP ViT-B/32: a model folder with its processor at the top level."""
    _, _, base = trained
    tower = tmp_path / "clip"
    base.image_encoder.save_pretrained(tower)
    with pytest.raises(BaseModelError, match="preprocessor_config.json"):
        load_base_from(base.path, tower)
    base.feature_extractor.save_pretrained(tower)
    other = load_base_from(base.path, tower)
    assert torch.equal(_outputs(other)[4], _outputs(base)[4])


def test_base_quality_figures(trained):
    from dreampose.data.world import load_world
    from dreampose.evaluate.base_quality import base_quality, format_quality

    profile, cache, base = trained
    world = load_world(profile, cache, progress=False)
    q = base_quality(base, world, n_frames=4, n_samples=2, steps=2, extra_subjects=3)
    assert 3 < q["clip_subjects"] <= len(world.test) + 3
    assert q["clip_colour_chance"] == pytest.approx(1 / 10) and q["clip_texture_chance"] == pytest.approx(1 / 5)
    for key in ("clip_colour_acc", "clip_texture_acc", "t2i_colour_acc"):
        assert 0.0 <= q[key] <= 1.0
    assert q["vae_psnr_db"] > 5 and 0 < q["vae_garment_l1"] < 1
    assert q["samples"].shape == (2, profile.data.height, profile.data.width, 3)
    assert "PSNR" in format_quality(q)


def test_caption_with_rebuilds_and_edits_the_world_caption():
    from dreampose.data.synthetic import random_subject
    from dreampose.train.base_data import caption_with

    for k in range(30):
        subject = random_subject(np.random.default_rng([5, k]))
        assert caption_with(subject.meta()) == subject.outfit.caption()
    texture = dict(scale=0.06, phase=0.0)
    meta = {"garment": "skirt", "sleeves": 0.6, "top_front": dict(kind="striped", colour="red", accent="blue", **texture),
            "bottom_front": dict(kind="dotted", colour="green", accent="white", **texture)}
    assert caption_with(meta) == "a person in a red striped top and a green dotted skirt"
    assert caption_with(meta, kind="solid") == "a person in a red top and a green dotted skirt"
    assert caption_with(meta, colour="orange") == "a person in an orange striped top and a green dotted skirt"
    assert caption_with({**meta, "garment": "dress"}, colour="orange") == "a person in an orange striped dress"


def test_pretraining_is_deterministic(trained, tmp_path):
    from safetensors.torch import load_file

    profile, _, base = trained
    again = base_stage(Run(profile, Cache(tmp_path), progress=False))
    for part in ("vae/diffusion_pytorch_model", "unet/diffusion_pytorch_model", "text_encoder/model",
                 "image_encoder/model"):
        first, second = load_file(base.path / f"{part}.safetensors"), load_file(again.path / f"{part}.safetensors")
        assert first.keys() == second.keys() and all(torch.equal(first[k], second[k]) for k in first)


def test_bad_pretraining_settings_are_config_errors(tmp_path):
    from dreampose.train.base import train_part
    from dreampose.train.base_data import render_corpus

    with pytest.raises(ConfigError, match="base.corpus_subjects"):
        render_corpus(load_profile("smoke", {"base.corpus_subjects": -1}), progress=False)
    with pytest.raises(ConfigError, match="base.lr_decay"):
        train_part(None, None, load_profile("smoke", {"base.lr_decay": 0.0}), 4, 2, "x", tmp_path, progress=False)
