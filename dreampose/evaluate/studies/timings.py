"""Timings (notebook 08): wall times from the artifacts' manifests and one timed sampling call."""
from __future__ import annotations

import time

import numpy as np

from ... import stages
from ...guidance import branch_weights
from ...provenance import machine_line
from ..experiments import targets_of

PAPER_TIMES = {"subject": "~10 min", "decoder": "~20 min", "sampling": "~18 s / frame"}  # paper section 7


def time_sampling(method, video, n_frames: int = 4) -> dict[str, float]:
    """Seconds per frame of one fresh (uncached) sampling call of the trained ``method`` on
    ``video``, after a one-step warm-up call; model loading excluded."""
    profile, s = method.run.profile, method.sample
    pipe = method.models[video.name].load()
    person = method.subjects[video.name]
    _, targets = targets_of(profile, video)
    seed = stages.sampling_seed(stages.sample_seed(profile), video.name)
    stages.sample_frames(pipe, person.images, video.iuv, targets[:1], {**s, "steps": 1}, seed, video.size)  # warm-up
    frames = targets[:n_frames]
    start = time.perf_counter()
    stages.sample_frames(pipe, person.images, video.iuv, frames, s, seed, video.size)
    seconds = time.perf_counter() - start
    return {"seconds": seconds, "frames": len(frames), "per_frame": seconds / len(frames)}


def _seconds(manifest: dict) -> float:
    secs = manifest.get("train_seconds", 0.0)
    return float(sum(secs.values()) if isinstance(secs, dict) else secs)


def _machines(manifests) -> str:
    """Where the artifacts were trained, as their manifests say (a shipped model: where it was made)."""
    return "; ".join(sorted({m.get("machine", "machine not recorded") for m in manifests}))


def timings(method, videos, n_frames: int = 4) -> list[dict]:
    """Rows {"step", "ours (s)", "paper", "note"}: base pretraining, stage 1, subject and decoder
    finetuning (mean per test subject), from the manifests of ``method``'s artifacts, each note naming
    the machine they were trained on; and sampling, timed now on this one."""
    run = method.run
    profile, rows = run.profile, []
    base = run.cache.lookup(profile, "base")
    if base is not None:
        rows.append({"step": "base model pretraining", "ours (s)": _seconds(base.manifest),
                     "paper": "(pretrained SD 1.5)",
                     "note": f"once; replaces Stable Diffusion; {_machines([base.manifest])}"})
    arts = [method.artifacts[v.name] for v in videos]
    s1 = arts[0]["stage1"].manifest
    rows.append({"step": "stage 1 finetuning", "ours (s)": _seconds(s1), "paper": "not reported",
                 "note": f"once; {s1['steps']} steps; {_machines([s1])}"})
    for stage, what in (("subject", "subject finetuning (UNet + adapter)"), ("decoder", "VAE decoder finetuning")):
        manifests = [a[stage].manifest for a in arts if stage in a]
        if manifests:
            rows.append({"step": what, "ours (s)": float(np.mean([_seconds(m) for m in manifests])),
                         "paper": PAPER_TIMES[stage],
                         "note": f"per subject, mean of {len(manifests)}; {getattr(profile, stage).steps} steps; "
                                 f"{_machines(manifests)}"})
    timed = time_sampling(method, videos[0], n_frames)
    s = profile.sample
    branches = len(branch_weights(s.image_guidance_scale, s.pose_guidance_scale))
    rows.append({"step": "sampling, per frame", "ours (s)": timed["per_frame"], "paper": PAPER_TIMES["sampling"],
                 "note": f"{s.scheduler} {s.steps} steps x {branches} guidance branches, "
                         f"{profile.data.height}x{profile.data.width} px, "
                         f"timed now, {machine_line()}"})
    return rows


def timings_markdown(rows: list[dict]) -> str:
    """The ``timings`` rows as a Markdown table (seconds and minutes)."""
    lines = ["| step | ours | paper (2x A100, 512 px) | note |", "|---|---|---|---|"]
    for r in rows:
        t = r["ours (s)"]
        ours = f"{t:.3f} s" if t < 1 else f"{t:.1f} s" + (f" ({t / 60:.1f} min)" if t >= 60 else "")
        lines.append(f"| {r['step']} | {ours} | {r['paper']} | {r['note']} |")
    return "\n".join(lines) + "\n"
