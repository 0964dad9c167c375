"""The paper's evaluation protocol (section 6), run on any method.

Frame selection, per test video (``select_frames``):

* input frame x0 = frame 0 (UBC Fashion videos open front-facing, which is what a user
  would upload);
* targets = ``eval.n_runs`` runs of consecutive frames, ``n_frames`` in all, every one at least
  ``min_distance`` frames from the input (paper: one run of 50 frames >= 50 away; tiny: 4 runs
  of 4 frames >= 16 away). Consecutive frames let the temporal metrics see flicker (within a
  run, ``runs``). One run's first frame is drawn uniformly from [min_distance, T - n_frames] by
  a generator seeded with (seed, video name), so the choice is deterministic and independent of
  the order or number of videos. Several runs are spread evenly over the frames far enough from
  the input, the first starting at min_distance and the last ending at the video's end, so the
  targets cover the video's pose changes (a turn to the side and back) rather than half a second
  of it;
* a video too short for the rule keeps the rule on distance and gives up frames: it uses
  the T - min_distance frames that are far enough (recorded per video); fewer than 2 such
  frames (no temporal metric possible) is a ``DataError`` naming the video.

Comparison size (``comparison_size``): ``eval.resolution`` = r > 0 scales the ground truth's
short side to r px, keeping its aspect ratio (UBC 512x640 -> 256x320); r = 0 compares at the
generated frames' size (the model resolution). Both generated and ground-truth frames are
resized there (bilinear, anti-aliased, on [0, 1] floats, no re-quantisation); frames whose
aspect ratio differs from the ground truth's by more than 1 % are refused, not stretched.

Aggregation: a video's value is the mean over its target frames (temporal metrics: over its
consecutive pairs); a table cell is the mean ± sample std (ddof 1) over videos. With equal
frame counts the mean equals the paper's mean over all frames. A PSNR of inf (identical
frames) makes the mean inf and the std undefined; cells then read "inf". FID and FVD are
set-level: one value per method over the target frames (16-frame clips) of all videos,
against the same ground-truth frames, at the comparison size (``Result.set_level``).
"""
from __future__ import annotations

import dataclasses
import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Sequence

import numpy as np
import torch
import torch.nn.functional as F
from tqdm.auto import tqdm

from ..config import EvalConfig, Profile
from ..data.video import DataError, Video
from ..files import write_json_atomic
from ..progress import shown
from ..stages import Subject
from .metrics import MetricSuite, to_0_1

Method = Callable[[Video, int, list[int]], np.ndarray]
INPUT_INDEX = 0


def select_frames(video: Video, n_frames: int, min_distance: int, seed: int,
                  n_runs: int = 1) -> tuple[int, list[int]]:
    """(input index, target indices in ``n_runs`` runs of consecutive frames) for one video,
    following the module doc."""
    if n_frames < 2 or min_distance < 1 or n_runs < 1 or n_frames // n_runs < 2:
        raise ValueError(f"eval.n_frames must be >= 2, eval.min_distance >= 1 and eval.n_runs >= 1 with at least 2 "
                         f"frames per run, got {n_frames}, {min_distance}, {n_runs}")
    far = len(video) - (INPUT_INDEX + min_distance)
    if far < 2:
        raise DataError(f"video {video.name!r} has {len(video)} frames: fewer than 2 are >= {min_distance} frames "
                        f"from the input frame {INPUT_INDEX}; lower eval.min_distance or drop the video")
    first = INPUT_INDEX + min_distance
    if n_runs > 1 and far >= n_frames:
        length = n_frames // n_runs
        starts = [first + round(k * (far - length) / (n_runs - 1)) for k in range(n_runs)]
        return INPUT_INDEX, [s + t for s in starts for t in range(length)]
    n = min(n_frames, far)  # one run (too short a video for several: one run of what is far enough)
    digest = hashlib.sha256(f"{seed}/{video.name}".encode()).digest()
    start = first + int(np.random.default_rng(int.from_bytes(digest[:8], "little")).integers(0, far - n + 1))
    return INPUT_INDEX, list(range(start, start + n))


def runs(targets: Sequence[int]) -> list[int]:
    """Lengths of the runs of consecutive indices ``targets`` is made of: [4, 4, 4, 4]."""
    lengths = [1]
    for prev, cur in zip(targets, targets[1:]):
        if cur == prev + 1:
            lengths[-1] += 1
        else:
            lengths.append(1)
    return lengths if targets else []


def targets_of(profile: Profile, video: Video) -> tuple[int, list[int]]:
    """``select_frames`` with the profile's evaluation settings and seed."""
    e = profile.eval
    return select_frames(video, e.n_frames, e.min_distance, profile.seed, e.n_runs)


def subject_frames(video: Video, input_index: int, n_images: int, exclude=()) -> list[int]:
    """Frame indices of the subject's input images (paper 6.3): the input frame, then
    ``n_images - 1`` frames spread evenly over the rest of the video (other views of the
    turning subject), none of them in ``exclude`` (the evaluation targets and their windows)."""
    if n_images == 1:
        return [input_index]
    banned = set(exclude) | {input_index}
    pool = [i for i in range(len(video)) if i not in banned]
    if len(pool) < n_images - 1:
        raise DataError(f"video {video.name!r} has too few frames outside the evaluation window for "
                        f"subject.n_images={n_images}; lower it")
    return [input_index] + [pool[int((k + 0.5) * len(pool) / (n_images - 1))] for k in range(n_images - 1)]


def protocol_subject(profile: Profile, video: Video, n_images: int | None = None) -> Subject:
    """The subject of one test video: the input frame (and ``subject.n_images - 1`` more frames
    outside the target runs and their pose windows), each with its pose window."""
    n_poses = profile.model.n_poses
    i, targets = targets_of(profile, video)
    window = n_poses // 2
    exclude = {j for t in targets for j in range(t - window, t + window + 1)}
    frames = subject_frames(video, i, profile.subject.n_images if n_images is None else n_images, exclude)
    return Subject.from_video(video, frames, n_poses)


def comparison_size(gt_hw: tuple[int, int], gen_hw: tuple[int, int], resolution: int) -> tuple[int, int]:
    """(h, w) at which generated and ground-truth frames are compared (module doc)."""
    (h, w), (gh, gw) = gt_hw, gen_hw
    if abs((gw / gh) / (w / h) - 1) > 0.01:
        raise DataError(f"generated frames are {gh}x{gw} (h x w) but the ground truth is {h}x{w}: aspect ratios "
                        "differ; generate at the ground truth's aspect ratio (or crop the test videos to it)")
    if resolution == 0:
        return gh, gw
    scale = resolution / min(h, w)
    return round(h * scale), round(w * scale)


def resize_frames(frames, size: tuple[int, int]) -> torch.Tensor:
    """(N, H, W, 3) uint8 / [0, 1] float -> (N, size[0], size[1], 3) float in [0, 1]."""
    x = to_0_1(frames)
    if tuple(x.shape[-2:]) != tuple(size):
        x = F.interpolate(x, size=size, mode="bilinear", antialias=True, align_corners=False).clamp(0, 1)
    return x.permute(0, 2, 3, 1)


@dataclass
class Result:
    """Per-video metric values of one method, their mean ± std, and how they were made."""

    label: str
    metrics: list[str]
    per_video: dict[str, dict[str, float | str]]
    frames: dict[str, dict[str, object]]  # video -> {"input": i, "targets": [...]}
    settings: dict[str, object] = field(default_factory=dict)
    unavailable: dict[str, str] = field(default_factory=dict)  # metric -> why it is n/a
    set_level: dict[str, float | str] = field(default_factory=dict)  # FID, FVD: one value over all videos

    def values(self, metric: str) -> np.ndarray | str:
        vals = [v[metric] for v in self.per_video.values()]
        return vals[0] if isinstance(vals[0], str) else np.asarray(vals, dtype=float)

    def summary(self, metric: str) -> tuple[float, float] | str:
        """(mean, sample std) over videos, or the n/a string of an unavailable metric; a set-level
        metric's one value has no std (nan)."""
        if metric in self.set_level:
            value = self.set_level[metric]
            return value if isinstance(value, str) else (float(value), float("nan"))
        vals = self.values(metric)
        if isinstance(vals, str):
            return vals
        mean = float(np.mean(vals))
        if not np.isfinite(vals).all() or len(vals) < 2:
            return mean, float("nan")
        return mean, float(np.std(vals, ddof=1))

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> "Result":
        """From ``to_dict``; results cached before set-level metrics existed load with none."""
        return cls(**{f.name: data[f.name] for f in dataclasses.fields(cls) if f.name in data})


def _check_output(out, video: Video, targets: list[int], label: str) -> np.ndarray:
    if isinstance(out, torch.Tensor):
        out = out.detach().cpu().numpy()
    if not isinstance(out, np.ndarray) or out.dtype != np.uint8 or out.ndim != 4 or out.shape[-1] != 3 \
            or out.shape[0] != len(targets):
        got = f"{type(out).__name__} {getattr(out, 'shape', '')} {getattr(out, 'dtype', '')}"
        raise DataError(f"method {label!r} on video {video.name!r} must return ({len(targets)}, H, W, 3) uint8 "
                        f"frames (one per target index), got {got}")
    return out


def evaluate_method(method: Method, videos: Sequence[Video], eval_cfg: EvalConfig, seed: int,
                    cache_path: str | Path | None = None, *, label: str = "", suite: MetricSuite | None = None,
                    progress: bool = True) -> Result:
    """Run ``method(video, input_index, target_indices) -> (len(targets), H, W, 3) uint8`` on the
    test ``videos`` (the first ``eval.n_videos``, all if 0) and score it.

    ``cache_path``: a JSON file specific to this method (put its stage hash in the name); it is
    reused when its settings (eval config, seed, videos, metrics, label) match, else rewritten.
    The set-level metrics enter the settings only when one of them can run, so a suite whose
    FID and FVD are n/a keeps the key (and the cached scores) it had before they existed.
    """
    videos = list(videos)[: eval_cfg.n_videos or None]
    if not videos:
        raise DataError("no test videos to evaluate; check data.n_test_videos and eval.n_videos")
    suite = suite or MetricSuite()
    settings = {"eval": dataclasses.asdict(eval_cfg), "seed": seed, "label": label, "metrics": suite.names,
                "unavailable": sorted(k for k in suite.unavailable if k in suite.names),
                "videos": [[v.name, len(v)] for v in videos]}
    runnable = [name for name, m in suite.set_metrics.items() if not isinstance(m, str)]
    if runnable:
        settings["set_metrics"] = runnable
    key = hashlib.sha256(json.dumps(settings, sort_keys=True).encode()).hexdigest()[:16]
    unavailable = {k: v for k, v in suite.unavailable.items() if k in suite.names or k in suite.set_metrics}
    path = Path(cache_path) if cache_path is not None else None
    if path is not None and path.is_file():
        cached = json.loads(path.read_text())
        if cached.get("settings", {}).get("key") == key:
            result = Result.from_dict(cached)
            result.set_level = {k: result.set_level.get(k, suite.set_metrics[k]) for k in suite.set_names}
            result.unavailable = unavailable
            return result
    per_video, frames = {}, {}
    scores = suite.set_scores()
    for video in tqdm(videos, desc=f"evaluate {label}".strip(), disable=not shown(progress)):
        i, targets = select_frames(video, eval_cfg.n_frames, eval_cfg.min_distance, seed, eval_cfg.n_runs)
        gen = _check_output(method(video, i, targets), video, targets, label)
        size = comparison_size(video.size, gen.shape[1:3], eval_cfg.resolution)
        g, t = resize_frames(gen, size), resize_frames(video.frames[targets], size)
        per_video[video.name] = suite(g, t, runs(targets))
        start = 0
        for length in runs(targets):  # FVD's clips never span two runs
            scores.add(g[start:start + length].permute(0, 3, 1, 2), t[start:start + length].permute(0, 3, 1, 2))
            start += length
        frames[video.name] = {"input": i, "targets": targets, "size": list(size)}
    result = Result(label, suite.names, per_video, frames, {**settings, "key": key}, unavailable, scores.values())
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
        write_json_atomic(path, result.to_dict())
    return result
