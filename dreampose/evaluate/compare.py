"""A fresh run against a reference run (e.g. the committed ``figures/``): differences in units of
their standard error, and whether any effect's verdict changed.

Another CPU rounds differently, so training follows another path and numbers move; a result
stands if its verdicts do not flip. For each table cell (method, metric) of ``table1_comparisons``
and ``table2_ablations`` the difference of the means is divided by the standard error of that
difference, sqrt(s_ref^2 / n_ref + s_new^2 / n_new) with s the std over test videos and n their
number (an unpaired bound: the per-video values are not in the tables). A verdict is what a row
of ``effects.md`` concludes from its ``holds`` and ``beyond noise`` columns: shown, contradicted,
within noise (a sign flip inside the noise changes no verdict), or holds / does not hold for an
effect without a noise test.
"""
from __future__ import annotations

import csv
import math
import re
from pathlib import Path

TABLES = ("table1_comparisons", "table2_ablations")


def read_table(folder: Path, stem: str) -> dict[tuple[str, str], tuple[float, float]]:
    """{(method, metric): (mean, std)} of our rows (the paper's quoted rows are skipped)."""
    cells = {}
    with open(folder / f"{stem}.csv", newline="") as fh:
        for row in csv.DictReader(fh):
            if row["source"] != "ours":
                continue
            for col in row:
                if col.endswith(" mean") and row[col] not in ("", None):
                    metric = col[: -len(" mean")]
                    try:
                        cells[(row["method"], metric)] = (float(row[col]), float(row[f"{metric} std"] or "nan"))
                    except ValueError:  # an n/a cell
                        continue
    return cells


def n_videos(folder: Path, stem: str) -> int:
    found = re.search(r"(\d+) test videos", (folder / f"{stem}.md").read_text())
    if not found:
        raise ValueError(f"{folder / stem}.md does not say how many test videos it scored")
    return int(found.group(1))


def verdict(holds: str, beyond_noise: str) -> str:
    """What a row of ``effects.md`` concludes: shown, contradicted (both beyond noise), within noise,
    or, for an effect without a noise test, holds / does not hold."""
    if beyond_noise.startswith("no"):
        return "within noise"
    if beyond_noise == "yes":
        return "shown" if holds == "yes" else "contradicted"
    return "holds" if holds == "yes" else "does not hold"


def read_effects(folder: Path) -> dict[str, dict[str, str]]:
    """{effect: {column header: cell}} from the table of ``effects.md``. Columns are found by their
    header (a seeds column may stand before the detail); the detail, last, may hold "|" itself."""
    rows, headers = {}, None
    for line in (Path(folder) / "effects.md").read_text().splitlines():
        text = line.strip().removeprefix("|").removesuffix("|")
        if headers is None:
            if text.split("|")[0].strip() == "effect":
                headers = [c.strip() for c in text.split("|")]
            continue
        cells = [c.strip() for c in text.split("|", len(headers) - 1)]
        if len(cells) == len(headers) and cells[0].strip("-"):  # every row but the |---| line
            rows[cells[0]] = dict(zip(headers, cells))
    return rows


def read_verdicts(folder: Path) -> dict[str, str]:
    """{effect: verdict} from the rows of ``effects.md``."""
    return {name: verdict(row["holds"].strip("*"), row["beyond noise"]) for name, row in read_effects(folder).items()}


def compare_runs(reference: str | Path, fresh: str | Path) -> tuple[str, bool]:
    """Markdown report of ``fresh`` against ``reference`` and whether any verdict changed."""
    ref, new = Path(reference), Path(fresh)
    missing = [str(f / n) for f in (ref, new) for n in [*(f"{t}.csv" for t in TABLES), "effects.md"]
               if not (f / n).is_file()]
    if missing:
        raise FileNotFoundError(f"cannot compare: missing {', '.join(missing)}; run `dreampose reproduce` first")
    lines = [f"Fresh run {new} against the reference {ref}.", "",
             "| table | method | metric | reference | fresh | difference | in SE |", "|---|---|---|---|---|---|---|"]
    for stem in TABLES:
        a, b = read_table(ref, stem), read_table(new, stem)
        na, nb = n_videos(ref, stem), n_videos(new, stem)
        for cell in (c for c in a if c in b):
            (m1, s1), (m2, s2) = a[cell], b[cell]
            se = math.sqrt(s1 ** 2 / na + s2 ** 2 / nb) if math.isfinite(s1) and math.isfinite(s2) else float("nan")
            z = (m2 - m1) / se if se > 0 else float("nan")
            lines.append(f"| {stem} | {cell[0]} | {cell[1]} | {m1:.4g} | {m2:.4g} | {m2 - m1:+.3g} | {z:+.1f} |")
    va, vb = read_verdicts(ref), read_verdicts(new)
    changed = [k for k in va if k in vb and va[k] != vb[k]]
    lines += ["", "| effect | reference | fresh | changed |", "|---|---|---|---|"]
    lines += [f"| {k} | {va[k]} | {vb.get(k, '-')} | {'**yes**' if k in changed else 'no'} |" for k in va]
    lines += ["", f"{len(changed)} verdict(s) changed" + (f": {', '.join(changed)}." if changed else ".")]
    return "\n".join(lines) + "\n", bool(changed)
