"""Shipped weights (weights/<profile>/): made by `dreampose ship`, used when their settings hash
matches, reported and retrained when it does not, ignored by --from-scratch; at smoke scale."""
import json
import re

import pytest
import torch

from dreampose import shipped, stages
from dreampose.cache import Cache
from dreampose.config import load_profile
from dreampose.evaluate.studies import training
from dreampose.reproduce import starting_models


@pytest.fixture(scope="module")
def weights(tmp_path_factory):
    root = tmp_path_factory.mktemp("weights")
    paths = shipped.ship(load_profile("smoke"), root, tmp_path_factory.mktemp("ship-cache"), progress=False)
    return root, paths


def _unet(path):
    from safetensors.torch import load_file

    return load_file(path / "pipeline" / "unet" / "diffusion_pytorch_model.safetensors")


def test_ship_writes_the_base_and_five_stage1_models_with_manifests(weights):
    root, paths = weights
    assert [p.parent.name for p in paths] == ["base"] + ["stage1"] * 5
    for path in paths:
        manifest = json.loads((path / "manifest.json").read_text())
        assert manifest["key"] == path.name and manifest["rebuild"] == "dreampose ship --profile smoke"
        assert {"settings", "git_commit", "steps", "wall_time_s", "machine", "package_version"} <= set(manifest)
        assert (path / "loss.png").is_file() and (path / "samples.png").is_file()
        assert not [p for p in path.rglob("*") if p.name.startswith(("checkpoint-", "phase"))]
    base = json.loads((paths[0] / "manifest.json").read_text())
    assert 0 < base["quality"]["vae_psnr_db"] < 60
    assert shipped.size_mb(root, "smoke") < sum(f.stat().st_size for f in root.rglob("*") if f.is_file()) / 2**20


def test_matching_weights_are_used_in_place(weights, tmp_path):
    root, paths = weights
    run = stages.Run(load_profile("smoke"), Cache(tmp_path, shipped=root), progress=False)
    assert stages.base(run).path == paths[0]
    assert stages.stage1(run).path == paths[1]
    assert not (tmp_path / "base").exists() and not (tmp_path / "stage1").exists()
    lines = shipped.report(run.cache, starting_models(run.profile))
    assert len(lines) == 6 and all("shipped weights" in line for line in lines)


def test_weights_of_other_settings_are_reported_and_trained_here(weights, tmp_path):
    root, _ = weights
    run = stages.Run(load_profile("smoke"), Cache(tmp_path, shipped=root), progress=False).variant("stage1.lr=3e-4")
    lr = load_profile("smoke").stage1.lr
    line = shipped.report(run.cache, {"stage 1": (run.profile, "stage1")})[0]
    assert re.search(re.escape(f"differs in stage1.lr (shipped {lr!r}, now 0.0003)"), line)
    artifact = stages.stage1(run)
    assert artifact.path.is_relative_to(tmp_path) and not artifact.loaded


def test_from_scratch_retrains_the_same_weights(weights, tmp_path, monkeypatch):
    root, paths = weights
    monkeypatch.setenv("DREAMPOSE_FROM_SCRATCH", "1")
    cache = Cache(tmp_path)
    assert cache.shipped is None
    artifact = stages.stage1(stages.Run(load_profile("smoke"), cache, progress=False))
    assert artifact.path.is_relative_to(tmp_path)
    fresh, kept = _unet(artifact.path), _unet(paths[1])
    assert all(torch.equal(fresh[k], kept[k]) for k in kept)  # same code, same machine: the same weights
    assert "--from-scratch" in shipped.report(cache, {"base": (load_profile("smoke"), "base")})[0]


def test_tiny_starts_from_one_base_three_stage1_models_and_the_dropout_study():
    models = starting_models(load_profile("tiny"))
    assert list(models) == ["base", "stage 1 Ours_Full", "stage 1 Ours_CLIP", "stage 1 Ours_1-pose",
                            "stage 1 Ours_Full, 600 steps, with dropout (notebook 03)",
                            "stage 1 Ours_Full, 600 steps, no dropout (notebook 03)"]
    assert len({p.stage_hash(stage) for p, stage in models.values()}) == 6
    study = training.dropout_runs(stages.Run(load_profile("tiny")), 3000)
    assert [r.profile.stage_hash("stage1") for r in study.values()] == [p.stage_hash("stage1")
                                                                       for p, _ in list(models.values())[4:]]


def test_a_profile_counted_in_epochs_ships_no_dropout_study():
    """Its early stage 1 depends on the data set's size, which only a run counts."""
    models = starting_models(load_profile("tiny", ["stage1.epochs=2"]))
    assert not [label for label in models if "notebook 03" in label]


def test_the_test_split_size_does_not_change_the_shipped_keys():
    tiny, more = load_profile("tiny"), load_profile("tiny", ["data.n_test_videos=40"])
    assert tiny.stage_hash("base") == more.stage_hash("base")
    assert tiny.stage_hash("stage1") == more.stage_hash("stage1")
    assert tiny.stage_hash("evaluate") != more.stage_hash("evaluate")
    exact = load_profile("tiny", ["data.pose_estimate=exact"])
    assert tiny.stage_hash("base") != exact.stage_hash("base")  # its VAE crops follow the IUV's foreground
    assert tiny.stage_hash("stage1") != exact.stage_hash("stage1")


def test_cached_only_ships_what_the_cache_holds_and_trains_nothing(tmp_path, capsys):
    assert shipped.ship(load_profile("smoke"), tmp_path / "weights", tmp_path / "empty", progress=False,
                        train=False) == []
    assert "not in the cache" in capsys.readouterr().out and not (tmp_path / "empty" / "base").exists()


def test_cached_only_keeps_the_shipped_models_it_did_not_find(weights, tmp_path):
    """Shipping the one stage-1 model the cache holds leaves the other shipped models in place."""
    import shutil

    root, paths = weights
    kept = tmp_path / "weights"
    shutil.copytree(root, kept)
    one = paths[1]  # the first stage-1 model, as if only it had been trained in this cache
    shutil.copytree(one, tmp_path / "cache" / "stage1" / one.name)
    out = shipped.ship(load_profile("smoke"), kept, tmp_path / "cache", progress=False, train=False)
    assert [p.name for p in out] == [one.name]
    assert sorted(p.relative_to(kept) for p in kept.glob("smoke/*/*")) == sorted(p.relative_to(root) for p in paths)
