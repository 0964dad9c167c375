"""Seeds of the per-subject stages and of sampling (``subject.seed``, ``sample.seed``) and
``dreampose evaluate --seeds``: hash-neutral at null, each seed reaching only its stages, and
the robustness column of effects.md."""
import contextlib
import hashlib
import io
import json
import re

import numpy as np
import pytest

from dreampose import stages
from dreampose.cache import Cache
from dreampose.config import HASH_NEUTRAL, STAGE_IGNORES, STAGE_SECTIONS, ConfigError, SampleConfig, load_profile
from dreampose.evaluate import effects as fx
from dreampose.evaluate.compare import compare_runs, read_effects, read_verdicts

NEW = ("subject.seed", "sample.seed")
TRAINING = ("data", "base", "stage1", "subject", "decoder")


def hash_without_new_settings(profile, stage, **extra):
    """``stage_hash`` as the code before the seed settings computed it: the profile's dict without
    them, less the older neutral settings at their neutral value."""
    full = profile.to_dict()
    for key in NEW:
        section, name = key.split(".")
        del full[section][name]
    for key, neutral in HASH_NEUTRAL.items():
        section, name = key.split(".")
        if key not in NEW and full[section][name] == neutral:
            del full[section][name]
    for key in STAGE_IGNORES.get(stage, ()):
        section, name = key.split(".")
        full[section].pop(name, None)
    payload = {"stage": stage, **{k: full[k] for k in STAGE_SECTIONS[stage]}, **extra}
    text = json.dumps(payload, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()[:12]


@pytest.mark.parametrize("name", ["smoke", "tiny"])
def test_seed_settings_at_null_leave_every_stage_key_as_it_was(name):
    profile = load_profile(name)
    assert profile.subject.seed is None and profile.sample.seed is None
    for stage in STAGE_SECTIONS:
        settings = profile.stage_settings(stage)
        assert "seed" not in settings.get("subject", {}) and "seed" not in settings.get("sample", {})
        assert profile.stage_hash(stage) == hash_without_new_settings(profile, stage)
    extra = {"person": "0123456789abcdef", "stage1_model": "stage1-key"}
    assert profile.stage_hash("subject", **extra) == hash_without_new_settings(profile, "subject", **extra)
    explicit = load_profile(name, ["subject.seed=null", "sample.seed=null"])
    assert all(explicit.stage_hash(s) == profile.stage_hash(s) for s in STAGE_SECTIONS)


def test_seed_settings_are_typed():
    p = load_profile("smoke", ["subject.seed=2", "sample.seed=3"])
    assert (p.subject.seed, p.sample.seed) == (2, 3)
    for bad, words in [("subject.seed=1.5", "int or null"), ("sample.seed=true", "int or null"),
                       ("sample.seed=x", "int or null"), ("subject.seed=-1", ">= 0 or null")]:
        with pytest.raises(ConfigError, match=re.escape(words)):
            load_profile("smoke", [bad])


def test_a_subject_seed_changes_the_subject_and_decoder_keys_only():
    a, b = load_profile("smoke"), load_profile("smoke", ["subject.seed=1"])
    assert all(a.stage_hash(s) == b.stage_hash(s) for s in ("data", "base", "stage1"))
    assert all(a.stage_hash(s) != b.stage_hash(s) for s in ("subject", "decoder", "evaluate"))
    same = load_profile("smoke", [f"subject.seed={a.seed}"])  # set to the profile's seed: the same training,
    assert same.stage_hash("subject") != a.stage_hash("subject")  # but named in the key (only null is neutral)


def test_a_sample_seed_changes_no_training_key():
    a, b = load_profile("smoke"), load_profile("smoke", ["sample.seed=1"])
    assert all(a.stage_hash(s) == b.stage_hash(s) for s in TRAINING)
    assert a.stage_hash("evaluate") != b.stage_hash("evaluate")


def test_a_subject_seed_retrains_the_subject_stages_on_the_same_stage1():
    run = stages.Run(load_profile("smoke"), Cache(), progress=False)  # the session cache: later tests reuse it
    other = run.variant("subject.seed=1")
    video = stages.data(run).test[0]
    person = stages.Subject.from_video(video, [0], run.profile.model.n_poses)
    s1, s1_other = stages.stage1(run), stages.stage1(other)
    assert s1.key == s1_other.key
    sub, sub_other = stages.subject(run, s1, person), stages.subject(other, s1_other, person)
    dec, dec_other = stages.decoder(run, person), stages.decoder(other, person)
    assert sub.key != sub_other.key and dec.key != dec_other.key
    for x, y in ((sub, sub_other), (dec, dec_other)):  # the seed reached the training: other crops, other losses
        assert (x.path / "loss.csv").read_text() != (y.path / "loss.csv").read_text()


def dummy_setup(tmp_path, *overrides):
    from dummies import dummy_pipeline

    run = stages.Run(load_profile("smoke", ["sample.steps=2", *overrides]), Cache(tmp_path), progress=False)
    pipe = dummy_pipeline()
    model = stages.Model("dummy", lambda: pipe)
    iuv = np.zeros((3, 32, 32, 3), np.uint8)
    iuv[:, 8:24, 12:20] = (2, 128, 64)
    image = np.random.default_rng(0).integers(0, 256, (1, 32, 32, 3), dtype=np.uint8)
    return run, model, stages.Subject("a", image, iuv[None, [0] * 5]), iuv


def test_sample_settings_gain_no_seed_and_the_frame_key_stays_at_null(tmp_path):
    from dreampose.pipeline import NOISE_DRAW

    run, model, person, iuv = dummy_setup(tmp_path)
    sample = stages.sample_settings(run)
    fields = set(SampleConfig.__dataclass_fields__) - {"seed"}  # the sample section before the setting
    assert set(sample) == fields and "seed" not in stages.sample_settings(run.variant("sample.seed=4"))
    frames = stages.frames(run, model, person, iuv, [1, 2], sample)
    key = hashlib.sha256(repr((model.key, sorted(sample.items()), person.key, [1, 2], run.profile.seed,
                               NOISE_DRAW)).encode()).hexdigest()[:16]  # the key as stages.frames made it before
    assert [p.name for p in (tmp_path / "frames").iterdir()] == [f"a-{key}.npy"]
    assert np.array_equal(np.load(tmp_path / "frames" / f"a-{key}.npy"), frames)


def test_a_sample_seed_changes_the_sampled_frames_and_their_key(tmp_path):
    from dreampose.explorer import Clips

    run, model, person, iuv = dummy_setup(tmp_path)
    other = run.variant("sample.seed=1")
    a = stages.frames(run, model, person, iuv, [1, 2], stages.sample_settings(run))
    b = stages.frames(other, model, person, iuv, [1, 2], stages.sample_settings(other))
    assert not np.array_equal(a, b) and len(list((tmp_path / "frames").iterdir())) == 2
    assert stages.sample_seed(run.profile) == run.profile.seed and stages.sample_seed(other.profile) == 1
    clips, clips_other = (Clips(r, model, person, iuv, [1, 2]) for r in (run, other))  # the explorer's noise too
    assert clips.seed == stages.sampling_seed(run.profile.seed, "a")
    assert clips_other.seed == stages.sampling_seed(1, "a") != clips.seed
    same = run.variant(f"sample.seed={run.profile.seed}")  # the profile's seed, named: the same noise and frames
    assert np.array_equal(stages.frames(same, model, person, iuv, [1, 2], stages.sample_settings(same)), a)


def test_seed_robustness_counts_the_seeds_beyond_noise_and_compare_still_reads_the_table(tmp_path):
    def effects(beyond, holds=True):
        return [fx.Effect("1. zero-init surgery", "c", "max abs diff", {}, holds, "max |difference| 0"),
                fx.Effect("3. decoder finetuning", "c", "PSNR", {}, holds, "d", beyond)]

    per_seed = {0: effects(True), 1: effects(False), 2: effects(True, holds=False)}
    cells = fx.seed_robustness(per_seed)
    assert cells["3. decoder finetuning"] == "holds beyond noise 1/3 (0: shown; 1: within noise; 2: contradicted)"
    assert cells["1. zero-init surgery"] == "holds 2/3, no noise test (0: holds; 1: holds; 2: does not hold)"
    for name, columns in (("plain", None), ("seeds", {fx.seeds_header(per_seed): cells})):
        (tmp_path / name).mkdir()
        (tmp_path / name / "effects.md").write_text("caption\n\n" + fx.report_effects(per_seed[0], columns))
    assert read_verdicts(tmp_path / "seeds") == read_verdicts(tmp_path / "plain") == {
        "1. zero-init surgery": "holds", "3. decoder finetuning": "shown"}
    row = read_effects(tmp_path / "seeds")["1. zero-init surgery"]
    assert row["seeds 0,1,2"] == cells["1. zero-init surgery"] and row["detail"] == "max |difference| 0"


def test_evaluate_seeds_writes_one_verdict_per_seed(tmp_path):
    from dreampose.cli import main

    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        assert main(["evaluate", "--profile", "smoke", "--seeds", "0,1", "--figures", str(tmp_path)]) == 0
    log = out.getvalue()
    assert "[evaluate] seed 0 (1 of 2)" in log and "[evaluate] seed 1 (2 of 2): subject.seed=1, sample.seed=1" in log
    own, other = read_verdicts(tmp_path), read_verdicts(tmp_path / "seeds" / "1")  # each seed's own table
    rows = read_effects(tmp_path)
    assert len(rows) == 7 + 6 and "Made by `dreampose evaluate --seeds 0,1`" in (tmp_path / "effects.md").read_text()
    for name, row in rows.items():
        cell = row["seeds 0,1"]
        found = re.fullmatch(r"(holds beyond noise|holds) (\d)/2(, no noise test)? "
                             r"\(0: ([a-z ]+); 1: ([a-z ]+)\)", cell)
        assert found, cell
        assert (found[4], found[5]) == (own[name], other[name])
        wanted = "shown" if found[1] == "holds beyond noise" else "holds"
        assert int(found[2]) == [own[name], other[name]].count(wanted)
    seed0 = (tmp_path / "table2_ablations.csv").read_text()
    assert "Made by `dreampose evaluate --seeds 0,1`" in (tmp_path / "table2_ablations.md").read_text()
    assert (tmp_path / "seeds" / "1" / "table2_ablations.csv").read_text() != seed0  # other models, other noise
    report, changed = compare_runs(tmp_path, tmp_path)  # effects.md with the column stays comparable
    assert not changed and "0 verdict(s) changed" in report


@pytest.mark.parametrize("seeds, words", [
    ("0,x", "is not a comma-separated list of integers"),
    ("0;1", "is not a comma-separated list of integers"),
    ("", "is not a comma-separated list of integers"),
    ("0,0,1", "names a seed twice"),
    ("0,-1", "negative seed"),
    ("1,2", "must include the profile's seed 0"),
])
def test_bad_seeds_are_one_line_errors_with_an_example(seeds, words):
    from dreampose.cli import main

    err = io.StringIO()
    with contextlib.redirect_stderr(err):
        code = main(["evaluate", "--profile", "smoke", "--seeds", seeds])
    lines = err.getvalue().strip().splitlines()
    assert code == 1 and len(lines) == 2 and "Traceback" not in err.getvalue()
    assert lines[0].startswith("dreampose evaluate: error: --seeds") and words in lines[0]
    assert lines[0].endswith("e.g. --seeds 0,1,2")


def test_a_run_of_one_seed_keeps_the_seeds_column_only_while_it_repeats_what_the_seeds_run_measured(tmp_path):
    from dreampose.reproduce import write_effects

    def effects(beyond):
        return [fx.Effect("3. decoder finetuning", "c", "PSNR", {}, True, "d", beyond)]

    smoke = load_profile("smoke")
    write_effects(smoke, effects(True), tmp_path, "dreampose evaluate --seeds 0,1", {0: effects(True), 1: effects(False)})
    column = read_effects(tmp_path)["3. decoder finetuning"]["seeds 0,1"]
    assert column == "holds beyond noise 1/2 (0: shown; 1: within noise)"
    write_effects(smoke, effects(True), tmp_path, "dreampose reproduce")  # the same settings and verdicts
    text = (tmp_path / "effects.md").read_text()
    assert read_effects(tmp_path)["3. decoder finetuning"]["seeds 0,1"] == column
    assert "(made by `dreampose evaluate --seeds 0,1`; this run repeats its seed-0 verdicts)" in text
    for profile, found in ((smoke, effects(False)), (load_profile("smoke", ["subject.steps=2"]), effects(True))):
        write_effects(profile, found, tmp_path, "dreampose reproduce")  # another verdict, or other settings
        assert "seeds 0,1" not in read_effects(tmp_path)["3. decoder finetuning"]
        assert "The seeds column of `dreampose evaluate --seeds 0,1` is left out" in (tmp_path / "effects.md").read_text()


def test_the_evaluate_log_counts_the_verdicts_of_effects_md():
    from dreampose.reproduce import shown

    found = [fx.Effect("1. zero-init surgery", "c", "max abs diff", {}, True, "d"),
             fx.Effect("2. CLIP+VAE vs CLIP", "c", "L1", {}, True, "d", False),  # right direction, within noise
             fx.Effect("3. decoder finetuning", "c", "PSNR", {}, True, "d", True),
             fx.Effect("vs copy: L1", "c", "L1", {}, False, "d", True)]  # contradicted beyond noise
    assert shown(found) == "1 of 3 shown beyond noise, 1 of 1 hold without a noise test"
    assert shown(found[1:]) == "1 of 3 shown beyond noise"
