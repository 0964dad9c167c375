"""Table 2 (ablations) and Table 1 (comparisons) on a profile, written into figures/.

Every DreamPose row is trained and sampled under the same budgets and seeds (the profile's),
differing only in the switch that defines it (``experiments.ABLATIONS``). Table 1 puts our
Ours_Full row beside the baselines that run here (copying the input frame, DensePose texture
transfer), any other method's frames imported from a folder (``importer``), and the paper's
published rows, labelled as quoted.
"""
from __future__ import annotations

from pathlib import Path

from ..cache import Cache
from ..config import Profile
from .baselines import copy_input, texture_transfer
from .experiments import ABLATIONS, FULL, STAGE1_ONLY, DreamPoseMethod, evaluate, metric_suite, variant
from .importer import import_method
from .metrics import MetricSuite
from .protocol import Result
from .tables import PAPER_TABLE1, PAPER_TABLE2, caption, rows_from_results, write_table

COPY, TEXTURE = "Copy input frame", "DensePose texture transfer"


def run_ablations(profile: Profile, videos, cache: Cache | None = None, suite: MetricSuite | None = None,
                  progress: bool = True) -> dict[str, Result]:
    """Ours_Full, Ours_CLIP, Ours_No-VAE-FT, Ours_1-pose and Stage 1 only, each scored by the protocol."""
    cache = cache or Cache()
    suite = suite or metric_suite(profile, cache)
    results = {}
    for label, overrides in ABLATIONS.items():
        p = variant(profile, *overrides)
        results[label] = evaluate(DreamPoseMethod(p, cache, progress=progress), label, p, videos, cache, suite,
                                  progress=progress)
    results[STAGE1_ONLY] = evaluate(DreamPoseMethod(profile, cache, finetune=False, progress=progress),
                                    STAGE1_ONLY, profile, videos, cache, suite, progress=progress)
    return results


def run_comparisons(profile: Profile, videos, cache: Cache | None = None, imported: dict[str, str] | None = None,
                    full: Result | None = None, suite: MetricSuite | None = None,
                    progress: bool = True) -> dict[str, Result]:
    """Ours_Full, the two baselines and imported methods (``{label: folder}``), scored alike."""
    cache = cache or Cache()
    suite = suite or metric_suite(profile, cache)
    results = {FULL: full or evaluate(DreamPoseMethod(profile, cache, progress=progress), FULL, profile, videos,
                                      cache, suite, progress=progress)}
    for label, method in ((COPY, copy_input), (TEXTURE, texture_transfer)):
        results[label] = evaluate(method, label, profile, videos, cache, suite, progress=progress)
    for label, folder in (imported or {}).items():  # never cached: the folder may change
        results[label] = evaluate(import_method(folder), label, profile, videos, cache, suite, cached=False,
                                  progress=progress)
    return results


def _table(results: dict[str, Result], profile: Profile, stem: Path, title: str, command: str, quoted, note: str):
    rows = rows_from_results(results)
    text = caption(title, profile.name, [profile.seed], command, note)
    return write_table(rows, stem, text, quoted=quoted)


def write_table2(results: dict[str, Result], profile: Profile, figures_dir: str | Path = "figures",
                 command: str = "dreampose reproduce") -> tuple[Path, Path]:
    n = len(next(iter(results.values())).per_video)
    note = (f"{n} test videos; DreamPose rows share budgets and seeds and differ by one switch each. "
            "VGG and LPIPS need pretrained ImageNet weights that are not available offline.")
    return _table(results, profile, Path(figures_dir) / "table2_ablations", "Table 2: ablations", command,
                  PAPER_TABLE2, note)


def write_table1(results: dict[str, Result], profile: Profile, figures_dir: str | Path = "figures",
                 command: str = "dreampose reproduce") -> tuple[Path, Path]:
    n = len(next(iter(results.values())).per_video)
    note = (f"{n} test videos. MRAA and TPSMM cannot be installed here: run them elsewhere and import their "
            "frames (dreampose.evaluate.importer) to fill their rows with this metric code.")
    return _table(results, profile, Path(figures_dir) / "table1_comparisons", "Table 1: comparisons", command,
                  PAPER_TABLE1, note)
