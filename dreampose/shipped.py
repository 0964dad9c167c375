"""Pretrained weights shipped in the repository, as SD and the authors' stage-1 checkpoint are
downloaded rather than retrained (``weights/<profile>/<stage>/<settings hash>/``).

The tiny profile ships its base (standing in for Stable Diffusion's pretraining), its three
stage-1 models (Full, CLIP-only, 1-pose) and the two short stage-1 models of notebook 03's
dropout study (``reproduce.starting_models``). Each folder is a finished cache artifact: the
safetensors weights, the loss curve(s), a sample sheet and ``manifest.json`` (the settings and
their hash, package version, git commit, steps, wall time, machine, and the command that
rebuilds it). ``Cache`` finds a shipped artifact by the same key it would build under, so a
shipped model is used only while the code's settings hash to the key it was trained with; when
they no longer do, ``mismatch`` names the settings that differ and the stage is trained instead.
"""
from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import textwrap
from pathlib import Path
from typing import Any

import numpy as np

from .cache import MANIFEST, Artifact, project_root
from .files import write_json_atomic

ROOT = project_root() / "weights"
STAGES = ("base", "stage1")  # what a profile may ship; every later stage is per subject
SKIP = ("checkpoint-", ".tmp-", "phase")  # training state inside an artifact is not shipped
REBUILD = "dreampose ship --profile {profile}"


def folder(root: Path, profile: str, stage: str) -> Path:
    return Path(root) / profile / stage


def manifests(root: Path, profile: str, stage: str) -> list[dict[str, Any]]:
    """The manifests of every artifact ``profile`` ships for ``stage`` (none: [])."""
    found = []
    for path in sorted(folder(root, profile, stage).glob(f"*/{MANIFEST}")):
        found.append(json.loads(path.read_text()))
    return found


def find(root: Path, profile: str, stage: str, key: str) -> Artifact | None:
    """The shipped artifact (stage, key) of ``profile``, or None. Used read-only, in place."""
    path = folder(root, profile, stage) / key
    if not (path / MANIFEST).is_file():
        return None
    return Artifact(stage, key, path, json.loads((path / MANIFEST).read_text()), loaded=True)


def mismatch(root: Path, profile: str, stage: str, settings: dict[str, Any]) -> str | None:
    """None if nothing is shipped for ``stage``; else a sentence naming the settings in which the
    closest shipped artifact differs from ``settings`` (the ones a stage would be keyed by)."""
    shipped = manifests(root, profile, stage)
    if not shipped:
        return None
    wanted = _flat(json.loads(json.dumps(settings, sort_keys=True, default=str)))

    def differing(manifest: dict) -> list[str]:
        have = _flat(manifest.get("settings", {}))
        return sorted(k for k in set(have) | set(wanted) if have.get(k) != wanted.get(k))

    best = min(shipped, key=lambda m: len(differing(m)))
    diff = differing(best)
    shown = ", ".join(f"{k} (shipped {_flat(best['settings']).get(k)!r}, now {wanted.get(k)!r})" for k in diff[:4])
    more = f" and {len(diff) - 4} more" if len(diff) > 4 else ""
    return (f"the shipped {stage} weights of profile {profile!r} were trained with other settings "
            f"(closest: {relative(folder(root, profile, stage) / best['key'])}, differs in {shown}{more}); training "
            f"{stage} here instead. `{REBUILD.format(profile=profile)}` ships new weights")


def relative(path: Path) -> Path:
    """``path`` relative to the project when it lies inside it (as the report prints folders)."""
    return path.relative_to(project_root()) if path.is_relative_to(project_root()) else path


def _flat(settings: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    out = {}
    for key, value in settings.items():
        if isinstance(value, dict):
            out.update(_flat(value, f"{prefix}{key}."))
        else:
            out[f"{prefix}{key}"] = value
    return out


def export(artifact: Artifact, root: Path, profile: str, extra: dict[str, Any] | None = None) -> Path:
    """Copy a finished artifact into ``root/profile/stage/key`` without its training state, with
    the git commit and the rebuild command added to its manifest; replaces an older copy."""
    final = folder(root, profile, artifact.stage) / artifact.key
    tmp = final.with_name(f".{final.name}.{os.getpid()}.tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    shutil.copytree(artifact.path, tmp, ignore=lambda _dir, names: [n for n in names if n.startswith(SKIP)])
    manifest = {**artifact.manifest, **(extra or {}), "git_commit": git_commit(),
                "rebuild": REBUILD.format(profile=profile)}
    write_json_atomic(tmp / MANIFEST, manifest)
    if final.exists():
        shutil.rmtree(final)
    os.rename(tmp, final)
    return final


def git_commit() -> str:
    """The commit of the working tree (with ``-dirty`` if it has uncommitted changes), or ''."""
    try:
        out = subprocess.run(["git", "describe", "--always", "--dirty", "--abbrev=12"], cwd=project_root(),
                             capture_output=True, text=True, check=True, timeout=10)
    except (OSError, subprocess.SubprocessError):
        return ""
    return out.stdout.strip()


def size_mb(root: Path, profile: str) -> float:
    """Megabytes ``profile`` ships, identical files counted once (as git stores them)."""
    sizes = {hashlib.sha256(p.read_bytes()).hexdigest(): p.stat().st_size
             for p in (Path(root) / profile).rglob("*") if p.is_file()}
    return sum(sizes.values()) / 2**20


def training_minutes(manifest: dict[str, Any]) -> float:
    """Minutes a model took to train, every resumed attempt included (the manifest's own wall time
    counts only the attempt that finished it)."""
    seconds = manifest.get("train_seconds")
    if isinstance(seconds, dict):  # the base: one entry per model it pretrains
        seconds = sum(seconds.values())
    return (seconds if seconds is not None else manifest.get("wall_time_s", 0)) / 60


def report(cache, models: dict[str, Any]) -> list[str]:
    """One line per model a run starts from ({label: (profile, stage)}): shipped and used, or
    trained here and why (--from-scratch, nothing shipped, or the settings that differ)."""
    lines = []
    for label, (profile, stage) in models.items():
        key = profile.stage_hash(stage)
        if cache.shipped is None:
            lines.append(f"{label}: trained here into the cache (--from-scratch: shipped weights not used)")
            continue
        found = cache.shipped_artifact(profile, stage, key)
        if found is not None:
            m, steps = found.manifest, found.manifest.get("steps", "")
            if isinstance(steps, dict):
                steps = " + ".join(f"{part} {n}" for part, n in steps.items())
            lines.append(f"{label}: shipped weights {relative(found.path)} (trained {m.get('created', '?')[:10]} on "
                         f"{m.get('machine', '?')} in {training_minutes(m):.0f} min"
                         f"{f', {steps} steps' if steps else ''})")
            continue
        note = mismatch(cache.shipped, profile.name, stage, profile.stage_settings(stage))
        lines.append(f"{label}: {note}" if note else f"{label}: nothing shipped for profile {profile.name!r}; "
                     "trained here into the cache")
    return lines


def ship(profile, root: Path = ROOT, cache_root: Path | None = None, progress: bool = True,
         train: bool = True) -> list[Path]:
    """Train (or take from the cache, never from ``root``) the models ``profile`` starts from,
    write a loss figure and a sample sheet beside each, and put them in ``root/<profile>/``,
    replacing what it shipped before. ``dreampose ship --profile tiny`` runs this; with
    ``train=False`` (``--cached-only``) the models not in the cache are left as they are."""
    from . import stages
    from .cache import Cache
    from .reproduce import starting_models

    cache = Cache(cache_root, shipped=False)
    out, keep = [], {}
    for label, (variant, stage) in starting_models(profile).items():
        run, key = stages.Run(variant, cache, progress), variant.stage_hash(stage)
        keep.setdefault(stage, set()).add(key)  # shipped now, or left as it is
        if not train and cache.find(stage, key) is None:
            print(f"[ship] {label}: not in the cache {cache.root}; not shipped (what {root} holds of it stays)")
            continue
        if stage == "base":
            stages.base(run)
        else:
            stages.stage1(run)
        artifact = cache.find(stage, key)
        out.append(export(artifact, root, profile.name, {"label": label, **_extras(run, stage, artifact)}))
    for stage in {p.parent.name for p in out}:  # weights of older settings leave the tree (git keeps them)
        for old in folder(root, profile.name, stage).iterdir():
            if old.name not in keep[stage]:
                shutil.rmtree(old)
    return out


def _extras(run, stage: str, artifact: Artifact) -> dict[str, Any]:
    """``loss.png`` and ``samples.png`` in the artifact folder; the manifest's steps (and the
    base's quality on held-out subjects)."""
    from . import stages
    from .data.world import validation_videos
    from .figures import image_grid, save
    from .panels.training import loss_curves, read_loss

    b = run.profile.base
    extra: dict[str, Any] = {"steps": {"vae": b.vae_steps, "clip": b.clip_steps, "unet": b.unet_steps}
                             if stage == "base" else run.profile.stage1.steps}
    csvs = sorted(artifact.path.glob("loss*.csv"))
    save(loss_curves({p.stem.replace("loss_", "") or stage: read_loss(p) for p in csvs}, window=25,
                     title=f"{stage.replace('stage1', 'stage 1')} training loss"), artifact.path / "loss.png")
    if stage == "base":
        from .evaluate.base_quality import base_quality

        quality = base_quality(stages.base(run), stages.data(run))
        save(image_grid({"text-to-image": list(quality.pop("samples"))},
                        titles=[textwrap.fill(p.replace("a person in ", ""), 18) for p in quality.pop("prompts")]),
             artifact.path / "samples.png")
        extra["quality"] = {k: v for k, v in quality.items() if isinstance(v, (int, float))}
        return extra
    pipe = stages.load_pipeline(artifact)
    rows = {}
    for video in validation_videos(run.profile, 3):
        targets = [int(i) for i in np.linspace(len(video) // 4, len(video) - 1, 4)]
        person = stages.Subject.from_video(video, [0], run.profile.model.n_poses)
        frames = stages.sample_frames(pipe, person.images, video.iuv, targets, stages.sample_settings(run),
                                      run.profile.seed, video.size)
        rows[f"{video.name} truth"] = [video.frames[0]] + [video.frames[i] for i in targets]
        rows[f"{video.name} stage 1"] = [video.frames[0]] + list(frames)
    save(image_grid(rows, titles=["input"] + [f"pose {k + 1}" for k in range(4)]), artifact.path / "samples.png")
    return extra
