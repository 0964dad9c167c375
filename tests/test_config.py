import pytest

from dreampose.config import PROFILES, ConfigError, load_profile


@pytest.mark.parametrize("name", PROFILES)
def test_profiles_load(name):
    p = load_profile(name)
    assert p.name == name
    assert p.model.n_poses in (1, 5)


def test_paper_profile_has_the_papers_settings():
    p = load_profile("paper")
    assert (p.data.width, p.data.height) == (512, 640)
    assert p.stage1.lr == 5e-6 and p.stage1.epochs == 5
    assert p.stage1.batch_size * p.stage1.grad_accum == 16 and p.stage1.grad_accum == 4
    assert (p.base.pretrained, p.base.revision) == ("CompVis/stable-diffusion-v1-4", "main")  # the authors' base
    assert p.base.image_encoder == "openai/clip-vit-base-patch32" and p.base.latent_downsample == 8
    assert (p.data.fit, p.subject.batch_size, p.subject.crop_scale) == ("pad", 1, 0.96)
    assert (p.subject.steps, p.subject.lr) == (500, 1e-5)
    assert (p.decoder.steps, p.decoder.lr) == (1500, 5e-5)
    assert (p.sample.scheduler, p.sample.steps) == ("pndm", 100)
    assert p.eval.resolution == 256 and p.eval.n_frames == 50 and p.eval.min_distance == 50


def test_sd15_is_one_override_from_the_paper_profile():
    p = load_profile("paper", ["base.pretrained=stable-diffusion-v1-5/stable-diffusion-v1-5"])
    assert (p.base.pretrained, p.base.revision) == ("stable-diffusion-v1-5/stable-diffusion-v1-5", "main")
    assert p.stage_hash("base") != load_profile("paper").stage_hash("base")


def test_overrides_are_typed():
    p = load_profile("tiny", ["stage1.lr=1e-5", "model.n_poses=1", "subject.random_crop=false", "seed=3"])
    assert p.stage1.lr == 1e-5 and isinstance(p.stage1.lr, float)
    assert p.model.n_poses == 1 and p.subject.random_crop is False and p.seed == 3
    p = load_profile("tiny", {"sample.steps": 10, "base.unet_channels": [8, 16]})
    assert p.sample.steps == 10 and p.base.unet_channels == [8, 16]


@pytest.mark.parametrize(
    "override, words",
    [
        ("stage1.lrr=1", ["stage1.lrr", "stage1.lr"]),
        ("nosuch=1", ["nosuch", "seed"]),
        ("model.n_poses=3", ["model.n_poses", "1, 5"]),
        ("model.image_encoder=vae", ["model.image_encoder", "'clip+vae'"]),
        ("stage1.steps=ten", ["stage1.steps", "int"]),
        ("stage1.steps=2.5", ["stage1.steps", "int"]),
        ("subject.random_crop=3", ["subject.random_crop", "bool"]),
        ("stage1.lr=0", ["stage1.lr", "> 0"]),
        ("subject.steps=-1", ["subject.steps", "> 0"]),
        ("sample.image_guidance_scale=.inf", ["image_guidance_scale", "finite"]),
        ("stage1.lr", ["key=value"]),
        ("stage1=3", ["section"]),
    ],
)
def test_bad_overrides_name_the_key_and_the_choices(override, words):
    with pytest.raises(ConfigError) as err:
        load_profile("tiny", [override])
    for word in words:
        assert word in str(err.value)


def test_unknown_profile():
    with pytest.raises(ConfigError, match="smoke, tiny, paper"):
        load_profile("huge")


def test_stage_hash_depends_only_on_the_stage_settings():
    a = load_profile("tiny")
    b = load_profile("tiny", ["sample.image_guidance_scale=5.0"])
    for stage in ("data", "base", "stage1", "subject", "decoder"):
        assert a.stage_hash(stage) == b.stage_hash(stage)
    assert a.stage_hash("evaluate") != b.stage_hash("evaluate")
    c = load_profile("tiny", ["stage1.lr=3e-4"])
    assert a.stage_hash("base") == c.stage_hash("base")
    assert a.stage_hash("stage1") != c.stage_hash("stage1")
    assert a.stage_hash("data") != load_profile("tiny", ["seed=1"]).stage_hash("data")
    assert a.stage_hash("subject", person="v0") != a.stage_hash("subject", person="v1")
    crops = load_profile("tiny", ["subject.random_crop=false"])  # the subject section counts for the same person
    assert a.stage_hash("subject", person="v0") != crops.stage_hash("subject", person="v0")
    assert a.stage_hash("decoder", images="v0") != crops.stage_hash("decoder", images="v0")
    for same in ("subject.steps=7", "subject.lr=1e-3", "model.n_poses=1", "model.image_encoder=clip", "stage1.lr=3e-4"):
        assert a.stage_hash("decoder") == load_profile("tiny", [same]).stage_hash("decoder"), same  # the UNet's
    with pytest.raises(ValueError, match=r"extras \['subject'\] are named like settings sections"):
        a.stage_hash("subject", subject="v0")  # would replace the subject section in the hash


def test_a_neutral_revision_leaves_the_stage_keys_as_they_were():
    """base.revision was added after tiny artifacts were cached: at "" it is in no key or manifest."""
    import hashlib
    import json

    from dreampose.config import STAGE_SECTIONS

    tiny = load_profile("tiny")
    for stage in STAGE_SECTIONS:
        settings = tiny.stage_settings(stage)
        assert "revision" not in settings.get("base", {})
        old = hashlib.sha256(json.dumps({"stage": stage, **settings}, sort_keys=True,
                                        separators=(",", ":")).encode()).hexdigest()[:12]
        assert tiny.stage_hash(stage) == old
    pinned = load_profile("tiny", ["base.revision=main"])
    assert pinned.stage_settings("base")["base"]["revision"] == "main"
    assert pinned.stage_hash("base") != tiny.stage_hash("base") and pinned.stage_hash("data") == tiny.stage_hash("data")


def test_stage_hash_is_stable_across_processes():
    import subprocess
    import sys

    code = "from dreampose.config import load_profile; print(load_profile('tiny').stage_hash('stage1'))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == load_profile("tiny").stage_hash("stage1")


def test_only_the_tiny_profile_writes_into_figures():
    from dreampose.cli import build_parser, default_figures

    assert default_figures("tiny") == "figures" and default_figures("smoke") == "figures/smoke"
    assert default_figures("my/own.yaml") == "figures/own"
    assert build_parser().parse_args(["data", "--profile", "smoke"]).figures is None  # resolved in main()
