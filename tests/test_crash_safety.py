"""Crash safety: a process SIGKILLed while a stage writes its artifact leaves the previous artifact or
none, never a corrupt one, and the next run resumes (from the .partial checkpoints) or rebuilds.

Subprocesses build the smoke data, base and stage-1 artifacts into a private cache and are killed
at several points: while the data stage writes, at a random moment of the base pretraining, and
in the middle of stage-1 training (after a checkpoint). After every kill each finished artifact
must load; then a clean run finishes, stage 1 resuming from its last checkpoint, and a second
batch run loads every stage instead of rebuilding it.
"""
import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from dreampose.cache import MANIFEST, Cache
from dreampose.config import load_profile

OVERRIDES = ["stage1.steps=12", "stage1.checkpoint_every=2"]
SCRIPT = f"""
import torch
torch.set_num_threads(1)
from dreampose.config import load_profile
from dreampose.data.world import load_world
from dreampose.models.base import load_base
from dreampose.train.finetune import stage1
p = load_profile("smoke", {OVERRIDES!r})
load_world(p, progress=False)
load_base(p, progress=False)
stage1(p, progress=False)
"""


def spawn(root: Path) -> subprocess.Popen:
    env = {**os.environ, "DREAMPOSE_CACHE": str(root), "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1",
           "OMP_NUM_THREADS": "1", "TQDM_DISABLE": "1"}
    return subprocess.Popen([sys.executable, "-c", SCRIPT], env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, cwd=Path(__file__).resolve().parent.parent)


def kill_when(proc: subprocess.Popen, ready, delay: float = 0.0, timeout: float = 60.0) -> bool:
    """SIGKILL ``proc`` once ``ready()`` holds (plus ``delay`` s); False if it finished first."""
    end = time.monotonic() + timeout
    while not ready():
        if proc.poll() is not None:
            return False
        if time.monotonic() > end:
            proc.kill()
            pytest.fail("the stage never reached the kill point")
        time.sleep(0.005)
    time.sleep(delay)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    return True


def partial(root: Path, stage: str) -> list[Path]:
    return sorted((root / stage).glob("*.partial")) if (root / stage).is_dir() else []


def checkpoints(root: Path) -> list[int]:
    return sorted(int(p.name.split("-")[1]) for work in partial(root, "stage1")
                  for p in (work / "train").glob("checkpoint-*") if p.name.split("-")[1].isdigit())


def assert_no_corrupt_artifact(root: Path) -> None:
    """Cache.find gives None or an artifact that loads; no folder without .partial lacks its manifest."""
    from dreampose.data.world import _load_world
    from dreampose.models.base import load_base_from
    from dreampose.train.finetune import load_pipeline

    profile = load_profile("smoke", OVERRIDES)
    cache = Cache(root)
    for stage in ("data", "base", "stage1"):
        for folder in (root / stage).iterdir() if (root / stage).is_dir() else []:
            if not folder.name.endswith(".partial"):
                assert (folder / MANIFEST).is_file(), f"{folder} is final but has no manifest"
    extra = {"world_version": __import__("dreampose.data.world", fromlist=["x"]).WORLD_VERSION}
    found = cache.find("data", profile.stage_hash("data", **extra))
    if found is not None:
        assert len(_load_world(found.path).train) == profile.data.n_train_videos
    found = cache.find("base", profile.stage_hash("base"))
    if found is not None:
        assert load_base_from(found.path).unet is not None
    found = cache.find("stage1", profile.stage_hash("stage1"))
    if found is not None:
        assert load_pipeline(found).unet is not None


def test_sigkill_at_several_points_then_resume(tmp_path):
    root = tmp_path / "cache"
    start = time.perf_counter()
    # 1. while the data stage writes its artifact
    killed = kill_when(spawn(root), lambda: bool(partial(root, "data")))
    assert_no_corrupt_artifact(root)
    # 2. at a random moment of the base pretraining (seeded, so a failure can be replayed)
    delay = random.Random(int(os.environ.get("CRASH_SEED", "0"))).uniform(0.0, 1.0)
    killed &= kill_when(spawn(root), lambda: bool(partial(root, "base")), delay=delay)
    assert_no_corrupt_artifact(root)
    # 3. in the middle of stage-1 training, after the checkpoint of step 4
    killed &= kill_when(spawn(root), lambda: any(s >= 4 for s in checkpoints(root)))
    assert_no_corrupt_artifact(root)
    profile = load_profile("smoke", OVERRIDES)
    assert Cache(root).find("stage1", profile.stage_hash("stage1")) is None, "stage 1 was killed, not finished"
    last = max(checkpoints(root))
    assert last >= 4
    # 4. a clean run finishes every stage; stage 1 resumes from its last complete checkpoint
    proc = spawn(root)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 0, err.decode()[-2000:]
    assert_no_corrupt_artifact(root)
    art = Cache(root).find("stage1", profile.stage_hash("stage1"))
    assert art is not None and art.manifest["resumed_from"] == last and art.manifest["steps"] == 12
    assert not partial(root, "stage1") and not partial(root, "base") and not partial(root, "data")
    assert killed, "a stage finished before it could be killed"
    print(f"crash test: {time.perf_counter() - start:.1f} s")


def test_rerun_of_a_finished_batch_loads_every_stage(tmp_path, monkeypatch):
    """Resumable batch: once a stage is complete, the same call loads it (Artifact.loaded), no rebuild."""
    from dreampose import reproduce
    from dreampose.data import world as world_mod
    from dreampose.train import finetune

    profile = load_profile("smoke", ["stage1.steps=1"])
    cache = Cache(tmp_path / "cache")
    reproduce.data_stage(profile, figures_dir=tmp_path / "fig", cache=cache)
    first = finetune.stage1(profile, cache=cache, progress=False)
    assert not first.loaded
    monkeypatch.setattr(world_mod, "make_world", lambda *a, **k: pytest.fail("the data stage was rebuilt"))
    monkeypatch.setattr(finetune, "train", lambda *a, **k: pytest.fail("stage 1 was retrained"))
    reproduce.data_stage(profile, figures_dir=tmp_path / "fig", cache=cache)
    again = finetune.stage1(profile, cache=cache, progress=False)
    assert again.loaded and again.path == first.path
    assert json.loads((again.path / MANIFEST).read_text())["key"] == again.key
