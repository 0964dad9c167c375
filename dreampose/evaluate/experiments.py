"""The paper's experiments (section 6) on a profile: Table 2 (ablations) and Table 1 (comparisons).

Ablations are profile switches on top of the profile being run::

    Ours_Full        as configured (CLIP + VAE adapter, 5 poses, decoder finetuning)
    Ours_CLIP        model.image_encoder=clip
    Ours_No-VAE-FT   decoder.enabled=false
    Ours_1-pose      model.n_poses=1
    Stage 1 only     no subject or decoder finetuning

Every DreamPose row is trained (``dreampose.reproduce.trained``) and sampled under the same
budgets and seeds, differing only in the switch that defines it. Table 1 puts Ours_Full beside
the baselines that run here (copying the input frame, DensePose texture transfer), any other
method's frames imported from a folder (``importer``), and the paper's published rows,
labelled as quoted. This module only scores: its methods arrive trained.
"""
from __future__ import annotations

from pathlib import Path

from ..config import Profile
from ..data.video import Video
from ..pipeline import NOISE_DRAW
from ..provenance import machine_line
from ..stages import Run
from .baselines import copy_input, texture_transfer
from .importer import import_method
from .metrics import FeatureDistance, MetricSuite
from .protocol import Result, evaluate_method, targets_of
from .tables import PAPER_TABLE1, PAPER_TABLE2, caption, rows_from_results, write_table

FULL, CLIP, NO_VAE_FT, ONE_POSE, STAGE1_ONLY = "Ours_Full", "Ours_CLIP", "Ours_No-VAE-FT", "Ours_1-pose", "Stage 1 only"
ABLATIONS = {
    FULL: (),
    CLIP: ("model.image_encoder=clip",),
    NO_VAE_FT: ("decoder.enabled=false",),
    ONE_POSE: ("model.n_poses=1",),
}
COPY, TEXTURE = "Copy input frame", "DensePose texture transfer"


def metric_suite(profile: Profile, base=None) -> MetricSuite:
    """The paper's metrics, plus a feature distance on our own CLIP image tower when the base
    model is the tiny one trained here (named as such; it is not the paper's VGG or LPIPS)."""
    features = []
    if profile.base.source == "train" and base is not None:
        from .base_quality import image_embeds

        features.append(FeatureDistance(lambda frames: image_embeds(base, frames)))
    return MetricSuite(features=features)


def evaluate(method, label: str, run: Run, videos: list[Video], suite: MetricSuite, *, cached: bool = True,
             progress: bool = True) -> Result:
    """Score ``method`` on ``videos`` with the protocol of ``run``'s profile; cached under ``evaluate/``
    unless ``cached`` is False (e.g. frames imported from a folder that may change)."""
    profile, cache = run.profile, run.cache
    slug = "".join(c if c.isalnum() else "_" for c in label)
    key = profile.stage_hash("evaluate", method=label, noise=NOISE_DRAW)
    path = cache.root / "evaluate" / f"{slug}-{key}.json" if cached else None
    return evaluate_method(method, videos, profile.eval, profile.seed, path, label=label, suite=suite,
                           progress=progress)


def evaluated_videos(profile: Profile, world) -> list[Video]:
    """The test videos the protocol scores: the first ``eval.n_videos`` (all if 0)."""
    return world.test[: profile.eval.n_videos or None]


def score_ablations(methods: dict, videos, suite: MetricSuite, *, progress: bool = True) -> dict[str, Result]:
    """Table 2: every trained variant ({label: DreamPoseMethod}) scored by the protocol."""
    return {label: evaluate(m, label, m.run, videos, suite, progress=progress) for label, m in methods.items()}


def score_comparisons(run: Run, full: Result, videos, suite: MetricSuite, imported: dict[str, str] | None = None,
                      *, progress: bool = True) -> dict[str, Result]:
    """Table 1: Ours_Full, the two baselines and imported methods (``{label: folder}``), scored alike."""
    results = {FULL: full}
    for label, method in ((COPY, copy_input), (TEXTURE, texture_transfer)):
        results[label] = evaluate(method, label, run, videos, suite, progress=progress)
    for label, folder in (imported or {}).items():  # never cached: the folder may change
        results[label] = evaluate(import_method(folder), label, run, videos, suite, cached=False, progress=progress)
    return results


def write_results_table(which: int, results: dict[str, Result], profile: Profile, figures_dir: str | Path,
                        command: str) -> tuple[Path, Path]:
    """``table2_ablations`` (which=2) or ``table1_comparisons`` (which=1), CSV + Markdown."""
    n = len(next(iter(results.values())).per_video)
    if which == 2:
        name, title, quoted = "table2_ablations", "Table 2: ablations", PAPER_TABLE2
        note = f"{n} test videos; DreamPose rows share budgets and seeds and differ by one switch each."
    else:
        name, title, quoted = "table1_comparisons", "Table 1: comparisons", PAPER_TABLE1
        note = (f"{n} test videos. MRAA and TPSMM cannot be installed here: run them elsewhere and import their "
                "frames (dreampose.evaluate.importer) to fill their rows with this metric code.")
    note += (" FID and FVD are one value over all target frames (16-frame clips) of all videos, no std; "
             "VGG, LPIPS, FID and FVD are n/a where their pretrained weights are not on this machine.")
    text = caption(title, profile.name, [profile.seed], command, f"{note} Made on {machine_line()}.")
    return write_table(rows_from_results(results), Path(figures_dir) / name, text, quoted=quoted)
