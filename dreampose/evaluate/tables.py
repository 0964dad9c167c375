"""Tables: CSV + Markdown with a caption, our rows beside the paper's quoted ones.

A row is a dict: ``{"method": label, <metric>: value, ...}`` where a value is a float, a
(mean, std) pair or a string (e.g. ``metrics.NA``); ``rows_from_results`` makes rows from
``protocol.Result`` objects, the set-level FID and FVD (one value, no std) after the per-video
metrics. The paper's own numbers (arXiv v1, UBC Fashion at 256 px; FID and FVD from the ICCV
version, which adds them and compares with PIDM only there) are
kept here as data and are written as a separate table labelled ``PAPER_SOURCE`` beside ours,
never mixed into our rows: they come from another dataset, resolution and model scale.

Note on the published numbers: Ours_Full in Table 2 (L1 0.019, SSIM 0.900, VGG 0.207,
LPIPS 0.056) does not equal DreamPose in Table 1 (0.0256, 0.885, 0.235, 0.068); the paper
does not say why (perhaps another frame subset or checkpoint). We show both as published.
"""
from __future__ import annotations

import csv
import io
import math
import os
from pathlib import Path
from typing import Mapping, Sequence

from .metrics import metric_info

PAPER_SOURCE = "quoted from the paper (UBC Fashion, 256 px)"
# Values are strings exactly as printed in the paper, so its precision (0.070, 0.900) survives.
PAPER_TABLE1 = [  # arXiv v1, Table 1: comparison with animation methods; FID, FVD (16 frames): ICCV version
    {"method": "MRAA", "L1": "0.0857", "SSIM": "0.749", "VGG": "0.534", "LPIPS": "0.212", "FID": "23.42",
     "FVD": "253.65"},
    {"method": "TPSMM", "L1": "0.0858", "SSIM": "0.746", "VGG": "0.547", "LPIPS": "0.213", "FID": "22.87",
     "FVD": "247.55"},
    {"method": "PIDM", "FID": "30.28", "FVD": "1197.39"},
    {"method": "DreamPose", "L1": "0.0256", "SSIM": "0.885", "VGG": "0.235", "LPIPS": "0.068", "FID": "13.04",
     "FVD": "238.75"},
]
PAPER_TABLE2 = [  # arXiv v1, Table 2: ablations (Ours_Full != DreamPose of Table 1, see module doc)
    {"method": "Ours_CLIP", "L1": "0.025", "SSIM": "0.882", "VGG": "0.247", "LPIPS": "0.070"},
    {"method": "Ours_No-VAE-FT", "L1": "0.025", "SSIM": "0.897", "VGG": "0.210", "LPIPS": "0.057"},
    {"method": "Ours_1-pose", "L1": "0.019", "SSIM": "0.899", "VGG": "0.208", "LPIPS": "0.056"},
    {"method": "Ours_Full", "L1": "0.019", "SSIM": "0.900", "VGG": "0.207", "LPIPS": "0.056"},
]
ARROWS = {"lower": "↓", "higher": "↑", "zero": "→0"}


def rows_from_results(results: Mapping[str, object], metrics: Sequence[str] | None = None) -> list[dict]:
    """One row per ``{label: Result}``: each metric's (mean, std) over videos, a set-level
    metric's value, or its n/a string."""
    rows = []
    for label, result in results.items():
        names = metrics or [*result.metrics, *result.set_level]
        rows.append({"method": label, **{m: result.set_level[m] if m in result.set_level else result.summary(m)
                                         for m in names}})
    return rows


def caption(title: str, profile: str, seeds: Sequence[int], command: str, note: str = "") -> str:
    """"<title>. Profile <p>, seed(s) <s>; mean ± std over test videos. Made by `<command>`. <note>"."""
    s = "seed" if len(seeds) == 1 else "seeds"
    text = (f"{title}. Profile {profile}, {s} {', '.join(map(str, seeds))}; mean ± std over test videos. "
            f"Made by `{command}`.")
    return f"{text} {note}".strip()


def _columns(rows: Sequence[dict]) -> list[str]:
    cols: list[str] = []
    for row in rows:
        cols += [k for k in row if k != "method" and k not in cols]
    return cols


def format_cell(metric: str, value) -> str:
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    try:
        spec = metric_info(metric).fmt
    except KeyError:
        spec = ".4g"
    mean, std = value if isinstance(value, (tuple, list)) else (value, None)
    if not math.isfinite(mean):
        return "inf" if mean > 0 else ("-inf" if mean < 0 else "nan")
    cell = format(mean, spec)
    if std is not None and math.isfinite(std):
        cell += " ± " + format(std, spec.lstrip("+"))
    return cell


def _header(metric: str) -> str:
    try:
        return f"{metric} {ARROWS[metric_info(metric).better]}"
    except KeyError:
        return metric


def markdown_table(rows: Sequence[dict]) -> str:
    """A Markdown table; "n/a: <reason>" cells read "n/a" with the reasons listed below the table."""
    cols = _columns(rows)
    reasons: dict[str, None] = {}

    def cell(c, v):
        text = format_cell(c, v)
        if text.startswith("n/a: "):
            reasons[f"{c}: {text[5:]}"] = None
            return "n/a"
        return text

    lines = ["| method | " + " | ".join(_header(c) for c in cols) + " |", "|---" * (len(cols) + 1) + "|"]
    lines += ["| " + " | ".join([str(r["method"])] + [cell(c, r.get(c)) for c in cols]) + " |" for r in rows]
    if reasons:
        lines += ["", "n/a: " + "; ".join(reasons) + "."]
    return "\n".join(lines)


def _csv(rows: Sequence[dict], source: str, quoted: Sequence[dict], cols: list[str]) -> str:
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(["method", "source"] + [f"{c} {part}" for c in cols for part in ("mean", "std")])
    for group, src in ((rows, source), (quoted, PAPER_SOURCE)):
        for r in group:
            cells = []
            for c in cols:
                v = r.get(c)
                mean, std = v if isinstance(v, (tuple, list)) else (v, None)
                cells += ["" if mean is None else mean, "" if std is None else std]
            writer.writerow([r["method"], src] + cells)
    return buf.getvalue()


def _write(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


def write_table(rows: Sequence[dict], path_stem: str | Path, caption: str, quoted: Sequence[dict] = (),
                source: str = "ours") -> tuple[Path, Path]:
    """Write ``<stem>.csv`` (a ``source`` column tells our rows from ``quoted`` paper rows) and
    ``<stem>.md`` (caption, our table, then the quoted rows as a separate table)."""
    if not rows:
        raise ValueError("write_table got no rows; evaluate at least one method first")
    stem = Path(path_stem)
    stem.parent.mkdir(parents=True, exist_ok=True)
    md = f"{caption}\n\n{markdown_table(rows)}\n"
    if quoted:
        md += f"\nFor reference, {PAPER_SOURCE}; not comparable in absolute terms:\n\n{markdown_table(quoted)}\n"
    csv_path, md_path = stem.with_name(stem.name + ".csv"), stem.with_name(stem.name + ".md")
    _write(csv_path, _csv(rows, source, quoted, _columns(list(rows) + list(quoted))))
    _write(md_path, md)
    return csv_path, md_path
