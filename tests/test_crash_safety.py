"""Crash safety: a process SIGKILLed while a stage writes its artifact leaves the earlier artifacts
and none of its own, never a corrupt one; the next run resumes (from the .partial checkpoints) or
rebuilds cleanly. Resumable batch: a rerun loads finished stages instead of rebuilding them.

Three kinds of kill, in subprocesses with a private cache:

1. the cache itself, at deterministic points (the subprocess SIGKILLs itself): inside the
   builder, while the manifest is written, and after the manifest but before the final rename
   (the next run then only finishes the rename);
2. the real data stage (the smoke synthetic world) at seeded random moments while it writes
   (``CRASH_SEED`` replays another draw);
3. real stage-1 training, in child processes forked from the test (so torch and diffusers are
   imported once): one killed with a checkpoint torn (saved under its temporary name, never
   renamed), one killed while the finished pipeline is being saved into the artifact. The next
   run resumes from the last complete checkpoint.

Every stage (data, base, stage1, subject, decoder, evaluation results) goes through
``Cache.get_or_build``, so (1) covers the commit protocol of all of them.
"""
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from dreampose.cache import MANIFEST, Cache
from dreampose.config import load_profile

ROOT = Path(__file__).resolve().parent.parent
ENV = {"HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "OMP_NUM_THREADS": "1", "TQDM_DISABLE": "1"}


def run_script(script: str, *args: str, timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", script, *args], env={**os.environ, **ENV}, cwd=ROOT,
                          capture_output=True, text=True, timeout=timeout)


def killed(proc) -> bool:
    return proc.returncode == -signal.SIGKILL


# -- 1. the cache's commit protocol, killed at deterministic points ------------------------------
CACHE_SCRIPT = """
import os, signal, sys
from dreampose.cache import Cache
root, point = sys.argv[1], sys.argv[2]
die = lambda *a: os.kill(os.getpid(), signal.SIGKILL)
if point == "manifest":  # the manifest's temporary file is written, not yet os.replace'd
    os.fsync = die
if point == "rename":  # the manifest is complete, the folder not yet renamed to its final name
    os.rename = die
def build(work):
    for i in range(3):
        (work / f"part{i}.bin").write_bytes(bytes([i]) * 4096)
        if point == f"build{i}":
            die()
    return {"parts": 3}
Cache(root).get_or_build("demo", "k", build, settings={"a": 1})
"""


def test_cache_killed_at_every_commit_point_leaves_no_corrupt_artifact(tmp_path):
    cache = Cache(tmp_path)
    previous = cache.get_or_build("demo", "old", lambda w: (w / "x").write_text("old") and None)
    for point in ("build0", "build2", "manifest", "rename"):
        proc = run_script(CACHE_SCRIPT, str(tmp_path), point)
        assert killed(proc), (point, proc.returncode, proc.stderr[-2000:])
        assert cache.find("demo", "k") is None, f"killed at {point}, yet an artifact appeared"
        assert not (tmp_path / "demo" / "k").exists()
        assert (previous.path / "x").read_text() == "old" and cache.find("demo", "old") is not None
    leftovers = {p.name for p in (tmp_path / "demo" / "k.partial").iterdir()}
    assert MANIFEST in leftovers  # the last kill came after the manifest: complete, but not yet an artifact
    # the next run finishes the commit (the rename) instead of building again
    art = cache.get_or_build("demo", "k", lambda w: pytest.fail("a complete build was redone"), settings={"a": 1})
    assert art.manifest["parts"] == 3 and art.manifest["settings"] == {"a": 1} and art == cache.find("demo", "k")
    assert [(art.path / f"part{i}.bin").read_bytes() for i in range(3)] == [bytes([i]) * 4096 for i in range(3)]
    assert not (tmp_path / "demo" / "k.partial").exists()
    again = cache.get_or_build("demo", "k", lambda w: pytest.fail("a finished artifact was rebuilt"),
                               settings={"a": 1})
    assert again.loaded


# -- 2. the real data stage, killed at random moments --------------------------------------------
DATA_SCRIPT = """
import os, sys
os.cpu_count = lambda: 1  # render in this process: no worker processes outlive the kill
from dreampose.cache import Cache
from dreampose.config import load_profile
from dreampose.data.world import load_world
load_world(load_profile("smoke"), Cache(sys.argv[1]), progress=False)
"""


def data_partial(root: Path) -> bool:
    return (root / "data").is_dir() and any(p.name.endswith(".partial") for p in (root / "data").iterdir())


def test_data_stage_killed_at_random_moments_then_rebuilt(tmp_path):
    from dreampose.data.world import WORLD_VERSION, _load_world, load_world

    profile = load_profile("smoke")
    key = profile.stage_hash("data", world_version=WORLD_VERSION)
    cache = Cache(tmp_path)
    rng = random.Random(int(os.environ.get("CRASH_SEED", "0")))
    kills = 0
    for delay in sorted(rng.uniform(0.0, 0.25) for _ in range(3)):
        proc = subprocess.Popen([sys.executable, "-c", DATA_SCRIPT, str(tmp_path)], env={**os.environ, **ENV},
                                cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        end = time.monotonic() + 60
        while not data_partial(tmp_path) and proc.poll() is None and time.monotonic() < end:
            time.sleep(0.002)
        time.sleep(delay)
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        kills += killed(proc)
        found = cache.find("data", key)
        if found is not None:  # finished before the kill: then it must be complete
            world = _load_world(found.path)
            assert (len(world.train), len(world.test)) == (profile.data.n_train_videos, profile.data.n_test_videos)
            break
    assert kills >= 1, "the data stage always finished before the kill; lower the delays"
    world = load_world(profile, cache, progress=False)  # the next run: rebuilds in the same .partial
    reference = load_world(profile, progress=False)  # the session cache's world, built uninterrupted
    assert [v.name for v in world.train + world.test] == [v.name for v in reference.train + reference.test]
    assert all((a.frames == b.frames).all() and (a.iuv == b.iuv).all()
               for a, b in zip(world.train + world.test, reference.train + reference.test))
    assert not data_partial(tmp_path)


# -- 3. stage-1 training: a torn checkpoint, and a kill while the pipeline is saved ---------------
OVERRIDES = ["stage1.steps=8", "stage1.checkpoint_every=2"]
KILL_POINTS = {"checkpoint": 4, "save": 8}  # kill point -> the checkpoint the next run resumes from


def train_and_die(root: Path, point: str) -> None:
    """Stage 1 of OVERRIDES into ``root``, SIGKILLing this process at ``point``."""
    from dreampose.pipeline import DreamPosePipeline
    from dreampose.stages import Run, stage1

    def die(*a, **k):
        os.kill(os.getpid(), signal.SIGKILL)

    rename = os.rename
    if point == "checkpoint":  # checkpoint 6 saved under its temporary name, never renamed
        os.rename = lambda a, b: die() if str(b).endswith("checkpoint-0000006") else rename(a, b)
    if point == "save":  # every step trained; killed while the finished pipeline is written
        def half_save(self, folder, **kw):
            os.makedirs(folder, exist_ok=True)
            Path(folder, "model_index.json").write_text("{")
            die()
        DreamPosePipeline.save_pretrained = half_save
    stage1(Run(load_profile("smoke", OVERRIDES), Cache(root), progress=False))


def in_child_process(fn, *args, timeout: float = 120) -> int:
    """Run ``fn(*args)`` in a forked child (no second interpreter to import torch and diffusers
    into); return its exit code, -9 if it was SIGKILLed. The child never returns to pytest."""
    pid = os.fork()
    if pid == 0:
        code = 0
        try:
            fn(*args)
        except BaseException:
            import traceback

            traceback.print_exc()
            code = 3
        os._exit(code)
    end = time.monotonic() + timeout
    while True:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            return os.waitstatus_to_exitcode(status)
        if time.monotonic() > end:
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
            pytest.fail(f"{fn.__name__}{args} did not finish in {timeout} s")
        time.sleep(0.01)


def seed_cache(root: Path, profile) -> None:
    """Copy the smoke world and base model of the session cache (built once for all tests)."""
    from dreampose.stages import Run, base, data

    data(Run(profile, progress=False))
    base(Run(profile, progress=False))
    for stage in ("data", "base"):
        for art in (Cache().root / stage).iterdir():
            if (art / MANIFEST).is_file():
                shutil.copytree(art, root / stage / art.name)


def test_stage1_killed_while_writing_resumes_from_its_last_checkpoint(tmp_path):
    from dreampose.stages import Run, load_pipeline, stage1

    profile = load_profile("smoke", OVERRIDES)
    key = profile.stage_hash("stage1")
    for point in KILL_POINTS:
        seed_cache(tmp_path / point, profile)
    for point, resumed_from in KILL_POINTS.items():
        root = tmp_path / point
        assert in_child_process(train_and_die, root, point) == -signal.SIGKILL, point
        cache = Cache(root)
        assert cache.find("stage1", key) is None, f"killed at {point}, yet stage 1 looks finished"
        work = root / "stage1" / f"{key}.partial" / "train"
        complete = sorted(p.name for p in work.glob("checkpoint-*"))
        assert complete[-1] == f"checkpoint-{resumed_from:07d}", (point, complete)
        if point == "checkpoint":
            assert (work / ".tmp-checkpoint-0000006").is_dir()  # torn: ignored by the resume
        art = stage1(Run(profile, cache, progress=False))  # the next run
        assert not art.loaded and art.manifest["resumed_from"] == resumed_from and art.manifest["steps"] == 8
        assert load_pipeline(art).unet is not None
        log = (art.path / "loss.csv").read_text().splitlines()
        assert [int(r.split(",")[0]) for r in log[1:]] == list(range(1, 9))  # one loss row per step, no gaps
        assert not list((root / "stage1").glob("*.partial"))


# -- resumable batch -----------------------------------------------------------------------------
def test_rerun_of_a_finished_batch_loads_every_stage(tmp_path, monkeypatch):
    """Once a stage is complete, the same call loads it (Artifact.loaded): no rebuild, no retraining."""
    from dreampose import reproduce, stages
    from dreampose.data import world as world_mod
    from dreampose.train import finetune

    # the session cache: the world and base model are shared with the other tests
    run = stages.Run(load_profile("smoke", ["stage1.steps=1"]), Cache(), progress=False)
    reproduce.data_stage(run, tmp_path / "fig")
    first = stages.stage1(run)
    monkeypatch.setattr(world_mod, "make_world", lambda *a, **k: pytest.fail("the data stage was rebuilt"))
    monkeypatch.setattr(finetune, "train", lambda *a, **k: pytest.fail("stage 1 was retrained"))
    reproduce.data_stage(run, tmp_path / "fig")
    again = stages.stage1(run)
    assert again.loaded and again.path == first.path
    assert json.loads((again.path / MANIFEST).read_text())["key"] == again.key
