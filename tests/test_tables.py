"""Tables (CSV + Markdown with caption, paper rows kept apart) and the effects report."""
import csv
import math

import pytest

from dreampose.evaluate.metrics import NA
from dreampose.evaluate.protocol import Result
from dreampose.evaluate.effects import compare, report_effects
from dreampose.evaluate.tables import PAPER_SOURCE, PAPER_TABLE1, PAPER_TABLE2, caption, rows_from_results, write_table


def result(label, l1s, psnrs):
    per_video = {f"v{k}": {"L1": a, "PSNR": p, "VGG": NA} for k, (a, p) in enumerate(zip(l1s, psnrs))}
    return Result(label, ["L1", "PSNR", "VGG"], per_video, {}, {}, {"VGG": "no weights"})


def test_write_table_csv_and_markdown(tmp_path):
    rows = rows_from_results({"copy input frame": result("copy", [0.1, 0.2], [20.0, 22.0]),
                              "oracle": result("oracle", [0.0, 0.0], [math.inf, math.inf])})
    cap = caption("Table 1: comparison", "tiny", [0, 1], "dreampose reproduce --profile tiny")
    csv_path, md_path = write_table(rows, tmp_path / "sub" / "table1", cap, quoted=PAPER_TABLE1)
    md = md_path.read_text()
    assert md.startswith("Table 1: comparison. Profile tiny, seeds 0, 1; mean ± std over test videos. "
                         "Made by `dreampose reproduce --profile tiny`.\n")
    ours, theirs = md.split(PAPER_SOURCE)
    assert "| method | L1 ↓ | PSNR ↑ | VGG ↓ |" in ours
    assert "| copy input frame | 0.1500 ± 0.0707 | 21.00 ± 1.41 | n/a |" in ours
    assert "n/a: VGG: " + NA[len("n/a: "):] in ours  # the reason, once, below the table
    assert "| oracle | 0.0000 ± 0.0000 | inf | " in ours
    assert "MRAA" not in ours and "| DreamPose | 0.0256 | 0.885 | 0.235 | 0.068 |" in theirs
    assert "| method | L1 ↓ | SSIM ↑ | VGG ↓ | LPIPS ↓ |" in theirs

    table = list(csv.DictReader(csv_path.open()))
    assert [r["method"] for r in table] == ["copy input frame", "oracle", "MRAA", "TPSMM", "PIDM", "DreamPose"]
    assert [r["source"] for r in table] == ["ours", "ours"] + [PAPER_SOURCE] * 4
    assert (table[5]["FID mean"], table[5]["FVD mean"], table[4]["L1 mean"]) == ("13.04", "238.75", "")
    assert float(table[0]["L1 mean"]) == pytest.approx(0.15) and float(table[0]["L1 std"]) == pytest.approx(0.0707, 1e-3)
    assert table[0]["VGG mean"] == NA and table[0]["VGG std"] == "" and table[1]["PSNR mean"] == "inf"
    assert table[2]["SSIM mean"] == "0.749" and table[0]["SSIM mean"] == ""
    with pytest.raises(ValueError, match="no rows"):
        write_table([], tmp_path / "empty", cap)


def test_set_level_metrics_are_one_value_per_method(tmp_path):
    a, b = result("a", [0.1, 0.2], [20.0, 22.0]), result("b", [0.1, 0.3], [20.0, 21.0])
    a.set_level, b.set_level = {"FID": 12.345, "FVD": NA}, {"FID": 3.0, "FVD": 250.04}
    rows = rows_from_results({"a": a, "b": b})
    assert list(rows[0]) == ["method", "L1", "PSNR", "VGG", "FID", "FVD"] and rows[1]["FVD"] == 250.04
    csv_path, md_path = write_table(rows, tmp_path / "t", "caption")
    md = md_path.read_text()
    assert "| method | L1 ↓ | PSNR ↑ | VGG ↓ | FID ↓ | FVD ↓ |" in md
    assert "| 12.35 | n/a |" in md and "| 3.00 | 250.0 |" in md  # no ± : one value over the test set
    table = list(csv.DictReader(csv_path.open()))
    assert (table[0]["FID mean"], table[0]["FID std"], table[0]["FVD mean"]) == ("12.345", "", NA)


def test_paper_rows_are_the_published_numbers():
    full = {r["method"]: r for r in PAPER_TABLE2}["Ours_Full"]
    ours = {r["method"]: r for r in PAPER_TABLE1}["DreamPose"]
    assert (ours["L1"], ours["SSIM"], ours["VGG"], ours["LPIPS"]) == ("0.0256", "0.885", "0.235", "0.068")
    assert (full["L1"], full["SSIM"], full["VGG"], full["LPIPS"]) == ("0.019", "0.900", "0.207", "0.056")
    assert float(full["L1"]) != float(ours["L1"])  # the paper's own inconsistency, shown as published
    assert (ours["FID"], ours["FVD"]) == ("13.04", "238.75")  # ICCV version, FVD on 16 frames


def test_compare_and_report_effects():
    e1 = compare("4. 5 poses vs 1", "5 poses flicker less", "5-pose", (0.010, 0.002), "1-pose", (0.014, 0.003),
                 higher_is_better=False, metric="temporal L1")
    e2 = compare("2. Full vs CLIP", "Full is more faithful", "Full", 0.80, "CLIP", 0.85, True, metric="SSIM")
    e3 = compare("x", "claim", "a", NA, "b", 0.1, False, metric="LPIPS")
    assert e1.holds and not e2.holds and not e3.holds
    assert e1.metric == "temporal L1" and e1.values == {"5-pose": (0.010, 0.002), "1-pose": (0.014, 0.003)}
    assert "-0.004" in e1.detail and "lower is better" in e1.detail
    assert "not measurable" in e3.detail
    assert not compare("t", "tie", "a", 0.5, "b", 0.5, True).holds
    md = report_effects([e1, e2, e3])
    lines = md.strip().splitlines()
    assert lines[0] == "| effect | claim | metric | values | holds | beyond noise | detail |" and len(lines) == 5
    assert "| yes |" in lines[2] and "5-pose: 0.0100 ± 0.0020" in lines[2]
    assert "| **no** |" in lines[3] and "| **no** |" in lines[4]


def test_paired_differences_tell_an_effect_from_noise():
    clear = compare("e", "a < b", "a", 0.10, "b", 0.20, False, "L1", paired=[-0.1, -0.11, -0.09])
    noisy = compare("e", "a < b", "a", 0.10, "b", 0.101, False, "L1", paired=[-0.05, 0.04, -0.002])
    assert clear.holds and clear.beyond_noise and noisy.holds and noisy.beyond_noise is False
    assert compare("e", "c", "a", 0.1, "b", 0.2, False, "L1").beyond_noise is None
    assert "no (within noise)" in report_effects([noisy]) and "SE" in noisy.detail
