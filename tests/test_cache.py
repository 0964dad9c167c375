import json

import pytest

from dreampose import __version__
from dreampose.cache import Cache, CacheError
from dreampose.config import load_profile


def test_build_once_then_load(tmp_path):
    cache = Cache(tmp_path)
    calls = []

    def build(work):
        calls.append(work)
        (work / "weights.txt").write_text("w")
        return {"loss": 0.5}

    p = load_profile("smoke")
    first = cache.artifact(p, "data", build)
    second = cache.artifact(p, "data", build)
    assert len(calls) == 1 and not first.loaded and second.loaded
    assert first.path == second.path == tmp_path / "data" / p.stage_hash("data")
    manifest = json.loads((first.path / "manifest.json").read_text())
    assert manifest["package_version"] == __version__
    assert manifest["settings"]["data"]["width"] == p.data.width
    assert manifest["loss"] == 0.5 and manifest["wall_time_s"] >= 0 and manifest["created"]
    assert (first.path / "weights.txt").read_text() == "w"
    assert not list((tmp_path / "data").glob("*.partial"))


def test_interrupted_build_leaves_no_artifact_and_resumes(tmp_path):
    cache = Cache(tmp_path)

    def crash(work):
        (work / "checkpoint-1").mkdir()
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        cache.get_or_build("stage1", "abc", crash)
    assert cache.find("stage1", "abc") is None
    seen = []

    def resume(work):
        seen.append(sorted(p.name for p in work.iterdir()))

    art = cache.get_or_build("stage1", "abc", resume)
    assert seen == [["checkpoint-1"]]  # the earlier checkpoint is handed to the resumed build
    assert not art.loaded and cache.find("stage1", "abc") is not None


def test_unwritable_cache_is_a_clear_error(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    with pytest.raises(CacheError, match="DREAMPOSE_CACHE"):
        Cache(blocker / "cache").get_or_build("data", "k", lambda w: None)


def test_damaged_manifest_is_a_clear_error(tmp_path):
    (tmp_path / "data" / "k").mkdir(parents=True)
    (tmp_path / "data" / "k" / "manifest.json").write_text("{truncated")
    with pytest.raises(CacheError, match="delete"):
        Cache(tmp_path).find("data", "k")


def test_env_var_sets_the_root(tmp_path, monkeypatch):
    monkeypatch.setenv("DREAMPOSE_CACHE", str(tmp_path / "c"))
    assert Cache().root == tmp_path / "c"


def test_non_collective_stage_is_not_built_under_accelerate_launch(tmp_path, monkeypatch):
    """A rank must not pretrain a base model alone while the others wait: clear error instead."""
    monkeypatch.setenv("WORLD_SIZE", "2")
    with pytest.raises(CacheError, match=r"`dreampose base` with the same --profile"):
        Cache(tmp_path).get_or_build("base", "k", lambda work: None)
    assert not (tmp_path / "base").exists()
