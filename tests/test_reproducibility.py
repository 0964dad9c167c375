"""Same machine, same settings: the smoke reproduction twice, in two fresh caches and working
directories with different PYTHONHASHSEED, each finetuning its subjects in 2 worker processes,
gives byte-identical weights and tables. (Across CPUs the numbers may move; `dreampose
reproduce --compare` measures by how much.)"""
import os
import subprocess
import sys
from pathlib import Path

from dreampose.evaluate.compare import compare_runs


def _reproduce(root: Path, hash_seed: str) -> subprocess.Popen:
    root.mkdir()
    env = {**os.environ, "DREAMPOSE_CACHE": str(root / "cache"), "PYTHONHASHSEED": hash_seed,
           "OMP_NUM_THREADS": "1", "DREAMPOSE_THREADS": "1"}
    cmd = [sys.executable, "-c", "import torch, sys; torch.set_num_threads(1); from dreampose.cli import main; "
           "sys.exit(main(sys.argv[1:]))", "reproduce", "--profile", "smoke", "--no-notebooks", "--workers", "2",
           "--figures", str(root / "figures")]
    return subprocess.Popen(cmd, cwd=root, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def _files(root: Path, pattern: str) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob(pattern))}


def test_two_smoke_reproductions_are_byte_identical(tmp_path):
    runs = [_reproduce(tmp_path / name, seed) for name, seed in (("a", "1"), ("b", "2"))]  # in parallel
    for run in runs:
        out, _ = run.communicate(timeout=900)
        assert run.returncode == 0, out[-3000:]
    a, b = tmp_path / "a", tmp_path / "b"
    weights = [_files(root / "cache", "*.safetensors") for root in (a, b)]
    assert len(weights[0]) >= 10 and weights[0].keys() == weights[1].keys()
    assert [k for k in weights[0] if weights[0][k] != weights[1][k]] == []
    tables = [{**_files(root / "figures", "*.csv"), **_files(root / "figures", "*.md")} for root in (a, b)]
    assert {"table1_comparisons.csv", "table2_ablations.md", "effects.md"} <= set(tables[0])
    assert tables[0] == tables[1]
    report, changed = compare_runs(a / "figures", b / "figures")
    assert not changed and "0 verdict(s) changed" in report and "| +0.0 |" in report


def test_a_verdict_is_what_an_effect_row_concludes():
    from dreampose.evaluate.compare import verdict

    assert verdict("yes", "yes") == "shown" and verdict("no", "yes") == "contradicted"
    assert verdict("yes", "no (within noise)") == verdict("no", "no (within noise)") == "within noise"
    assert verdict("yes", "n/a") == "holds" and verdict("no", "n/a") == "does not hold"
