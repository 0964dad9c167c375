"""Failure cases (paper section 7) found by code in the generated frames of a run.

The paper lists limbs that vanish into the garment, invented details, the wrong orientation
when the target pose faces away from the camera, and slight flicker on large complex
patterns. ``survey`` scores every generated frame of a method on the protocol's targets:

* ``L1``, ``SSIM``     the whole frame against the ground truth (as in the tables);
* ``arm L1``           L1 restricted to the target's arm and hand pixels (DensePose parts
                       3, 4, 15-22): high when a limb vanishes or lands in the wrong place;
* ``view``             front / side / back of the target: from the world's yaw when the
                       video has one (synthetic), else from DensePose alone (``facing``);
* ``limb visibility``  visible arm + hand area of the target over its video's maximum: low
                       when the arms are hidden behind the body (self-occlusion);
* ``pattern``          texture of the garment's front (synthetic meta), else "unknown".

``Survey.failures`` then picks the worst frame overall, the worst back-facing frame and the
worst frame with occluded or misplaced arms, each labelled with why it was picked.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..data.video import Video
from .metrics import l1, metric_info, ssim
from .protocol import comparison_size, resize_frames

TORSO_BACK, TORSO_FRONT = 1, 2
ARM_PARTS = (3, 4) + tuple(range(15, 23))  # hands, upper and lower arms (front and back halves)
PATTERNS = ("solid", "striped", "checked", "dotted", "printed")


def facing(iuv: np.ndarray, back_share: float = 0.75) -> list[str]:
    """'front' / 'side' / 'back' per IUV frame (T, H, W, 3) from DensePose alone: the share of
    visible torso pixels on the torso's back half (DensePose part 1) decides."""
    iuv = np.asarray(iuv)
    back = (iuv[..., 0] == TORSO_BACK).sum(axis=(-2, -1)).astype(float)
    front = (iuv[..., 0] == TORSO_FRONT).sum(axis=(-2, -1)).astype(float)
    share = np.divide(back, back + front, out=np.full_like(back, 0.5), where=(back + front) > 0)
    return ["back" if s >= back_share else "front" if s <= 1 - back_share else "side" for s in np.atleast_1d(share)]


def views(video: Video, frames: list[int]) -> list[str]:
    """The view of each frame: the world's yaw when known (synthetic videos), else ``facing``."""
    yaw = video.meta.get("yaw")
    if yaw is not None and len(yaw) == len(video):
        from ..data.world import view_of

        return [view_of(yaw[i]) for i in frames]
    return facing(video.iuv[frames])


def limb_visibility(iuv: np.ndarray) -> np.ndarray:
    """Visible arm + hand area per frame over its maximum in the sequence, (T,) in [0, 1]."""
    area = np.isin(np.asarray(iuv)[..., 0], ARM_PARTS).sum(axis=(-2, -1)).astype(float)
    return area / area.max() if area.max() > 0 else np.ones_like(area)


def region_l1(generated: np.ndarray, truth: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Per-frame mean |x' - x| over the pixels of ``mask`` (N, H, W); NaN where a mask is empty."""
    diff = np.abs(generated.astype(np.float32) - truth.astype(np.float32)).mean(-1) / 255.0
    count = mask.sum(axis=(1, 2))
    total = np.where(mask, diff, 0.0).sum(axis=(1, 2))
    return np.divide(total, count, out=np.full(len(count), np.nan), where=count > 0)


def pattern_of(video: Video) -> str:
    """Texture of the garment's front ('solid', 'striped', ...) from the world's meta, else 'unknown'.
    For two-piece outfits the patterned piece wins (it is what can flicker)."""
    kinds = [video.meta.get(k, {}).get("kind") for k in ("top_front", "bottom_front")]
    kinds = [k for k in kinds if k in PATTERNS]
    if not kinds:
        return "unknown"
    patterned = [k for k in kinds if k != "solid"]
    return patterned[0] if patterned else "solid"


@dataclass
class FrameCase:
    """One generated frame picked as a failure, with what a panel needs to show it."""

    video: str
    frame: int
    reason: str
    scores: dict
    input_image: np.ndarray
    iuv: np.ndarray
    truth: np.ndarray
    generated: np.ndarray


@dataclass
class Survey:
    """Per-frame scores of one method (``rows``) and the frames they were computed on."""

    label: str
    rows: list[dict]
    generated: dict[str, np.ndarray] = field(repr=False)
    videos: dict[str, Video] = field(repr=False)

    def values(self, metric: str, **where) -> np.ndarray:
        return np.array([r[metric] for r in self.rows if all(r[k] == v for k, v in where.items())], float)

    def groups(self, key: str, metric: str) -> dict[str, np.ndarray]:
        """{value of ``key``: the ``metric`` of its frames}, in order of first appearance."""
        names = list(dict.fromkeys(r[key] for r in self.rows))
        return {n: self.values(metric, **{key: n}) for n in names}

    def worst(self, metric: str = "L1", k: int = 4, **where) -> list[dict]:
        """The ``k`` worst rows by ``metric`` (by its direction), optionally filtered by equality."""
        rows = [r for r in self.rows if all(r[key] == v for key, v in where.items()) and np.isfinite(r[metric])]
        higher_is_worse = metric_info(metric).better == "lower"
        return sorted(rows, key=lambda r: r[metric], reverse=higher_is_worse)[:k]

    def case(self, row: dict, reason: str) -> FrameCase:
        video = self.videos[row["video"]]
        gen = self.generated[row["video"]][row["position"]]
        scores = {k: row[k] for k in ("L1", "SSIM", "arm L1", "limb visibility")}
        return FrameCase(row["video"], row["frame"], reason, scores, video.frames[row["input"]],
                         video.iuv[row["frame"]], video.frames[row["frame"]], gen)

    def failures(self, k: int = 1) -> list[FrameCase]:
        """Worst frames overall, worst back-facing frames, worst frames with occluded or misplaced arms
        (lowest limb visibility among the frames with above-median arm L1); ``k`` of each, no frame
        twice, and frames of videos not yet shown first."""
        picked, seen = [], set()

        def add(rows, reason):  # k rows not picked yet, from videos not shown yet when possible
            shown = {c.video for c in picked}
            fresh = [r for r in rows if (r["video"], r["frame"]) not in seen]
            for row in sorted(fresh, key=lambda r: r["video"] in shown)[:k]:  # stable: keeps the ranking
                seen.add((row["video"], row["frame"]))
                picked.append(self.case(row, reason.format(**row)))

        add(self.worst("L1", len(self.rows)), "worst L1: {L1:.3f}")
        add(self.worst("L1", len(self.rows), view="back"), "back-facing: L1 {L1:.3f}")
        arms = self.values("arm L1")
        if np.isfinite(arms).any():
            cut = np.nanmedian(arms)
            rows = [r for r in self.rows if np.isfinite(r["arm L1"]) and r["arm L1"] >= cut]
            rows.sort(key=lambda r: r["limb visibility"])
            add(rows, "arms: visible {limb visibility:.0%}, arm L1 {arm L1:.3f}")
        return picked


def survey(method, videos, profile, label: str = "") -> Survey:
    """Run ``method(video, input, targets)`` (cached methods are instant) on the protocol's targets
    of ``videos`` and score every generated frame (module doc)."""
    from .experiments import targets_of

    rows, generated, by_name = [], {}, {}
    for video in videos:
        i, targets = targets_of(profile, video)
        gen = np.asarray(method(video, i, targets))
        size = comparison_size(video.size, gen.shape[1:3], profile.eval.resolution)
        a, b = resize_frames(gen, size), resize_frames(video.frames[targets], size)
        frame_l1, frame_ssim = l1(a, b), ssim(a, b)
        truth = video.frames[targets]
        if gen.shape[1:3] != truth.shape[1:3]:  # arm L1 at the generated size
            truth = (resize_frames(truth, gen.shape[1:3]).numpy() * 255).round().astype(np.uint8)
        iuv = video.iuv[targets]
        if iuv.shape[1:3] != gen.shape[1:3]:
            ys = np.linspace(0, iuv.shape[1] - 1, gen.shape[1]).round().astype(int)
            xs = np.linspace(0, iuv.shape[2] - 1, gen.shape[2]).round().astype(int)
            iuv = iuv[:, ys][:, :, xs]
        arm = region_l1(gen, truth, np.isin(iuv[..., 0], ARM_PARTS))
        visible = limb_visibility(video.iuv)[targets]
        pattern = pattern_of(video)
        for k, (f, view) in enumerate(zip(targets, views(video, targets))):
            rows.append({"video": video.name, "frame": int(f), "position": k, "input": int(i),
                         "L1": float(frame_l1[k]), "SSIM": float(frame_ssim[k]), "arm L1": float(arm[k]),
                         "view": view, "limb visibility": float(visible[k]), "pattern": pattern})
        generated[video.name], by_name[video.name] = gen, video
    return Survey(label, rows, generated, by_name)


def pattern_groups(result, videos, metric: str = "flicker") -> dict[str, np.ndarray]:
    """{'solid' | 'patterned' | 'unknown': per-video ``metric`` of a protocol ``Result``}."""
    groups: dict[str, list[float]] = {}
    for video in videos:
        if video.name in result.per_video:
            p = pattern_of(video)
            key = p if p in ("solid", "unknown") else "patterned"
            groups.setdefault(key, []).append(float(result.per_video[video.name][metric]))
    order = [k for k in ("solid", "patterned", "unknown") if k in groups]
    return {k: np.asarray(groups[k]) for k in order}


def summarise(s: Survey) -> dict[str, object]:
    """Headline numbers of a survey: mean L1 per view and for occluded vs visible arms."""
    out: dict[str, object] = {"frames": len(s.rows)}
    for view, values in s.groups("view", "L1").items():
        out[f"L1 {view} (n={len(values)})"] = float(values.mean())
    vis = s.values("limb visibility")
    arm = s.values("arm L1")
    ok = np.isfinite(arm)
    if ok.sum() >= 2:
        low = vis[ok] < np.median(vis[ok])
        if low.any() and (~low).any():
            out["arm L1, arms partly hidden"] = float(arm[ok][low].mean())
            out["arm L1, arms visible"] = float(arm[ok][~low].mean())
    return out
