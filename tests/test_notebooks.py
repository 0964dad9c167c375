"""Every notebook in notebooks/ runs headless under papermill on the smoke profile.

Figures go to a temporary folder (never figures/); the artifact cache is the session's private
one (conftest), so the notebooks share the smoke base and stage-1 models they train. Every PNG
name a notebook spells out literally ("name.png") must exist after the run, and at least one
PNG must be written. The kernels run with one torch thread.
"""
import re

import pytest

from dreampose.run_notebooks import NotebookError, execute, notebook_paths, run_all

NOTEBOOKS = notebook_paths()
LITERAL_PNG = re.compile(r"""["']([\w.\-]+\.png)["']""")


@pytest.fixture
def one_thread(monkeypatch):
    for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "DREAMPOSE_THREADS"):
        monkeypatch.setenv(var, "1")
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("TRANSFORMERS_OFFLINE", "1")


def test_notebooks_found():
    assert [p.stem[:2] for p in NOTEBOOKS[:2]] == ["01", "02"]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_notebook_runs_on_smoke(path, tmp_path, one_thread):
    figures = tmp_path / "figures"
    params = {"profile": "smoke", "seed": 0, "output_dir": str(figures), "device": "cpu", "overrides": []}
    run = execute(path, params, build_dir=tmp_path / "build", force=True)
    assert run.output.is_file() and not run.skipped
    written = {p.name for p in figures.glob("*.png")}
    assert written, f"{path.name} wrote no PNG into output_dir"
    promised = set(LITERAL_PNG.findall(path.read_text()))
    assert promised <= written, f"{path.name} did not write {sorted(promised - written)}"


GOOD = """# %% tags=["parameters"]
profile = "tiny"
seed = 0
output_dir = "."
device = "cpu"
overrides = []

# %%
from pathlib import Path
Path(output_dir, f"{profile}.txt").write_text(str(seed))
"""


def test_batch_resumes_and_names_the_failing_notebook(tmp_path, one_thread):
    folder, build, out = tmp_path / "nb", tmp_path / "build", tmp_path / "out"
    folder.mkdir()
    (folder / "01_good.py").write_text(GOOD)
    runs = run_all("smoke", out, folder=folder, build_dir=build)
    assert [r.skipped for r in runs] == [False] and (out / "smoke.txt").read_text() == "0"
    assert (build / "01_good.ipynb").is_file() and not list(folder.glob("*.ipynb"))  # notebooks/ untouched
    assert [r.skipped for r in run_all("smoke", out, folder=folder, build_dir=build)] == [True]  # up to date
    assert [r.skipped for r in run_all("smoke", out, seed=1, folder=folder, build_dir=build)] == [False]
    (folder / "02_bad.py").write_text(GOOD + "\n# %%\nraise ValueError('broken on purpose')\n")
    (folder / "03_never.py").write_text(GOOD)
    with pytest.raises(NotebookError, match=r"02_bad\.py failed in cell \[\d+\]: ValueError: broken on purpose; "
                                             r"the cell starts `raise ValueError"):
        run_all("smoke", out, folder=folder, build_dir=build)
    assert not (build / "03_never.ipynb").exists()  # the batch stopped at the failure
    with pytest.raises(NotebookError, match="no notebook matches 09"):
        run_all("smoke", out, notebooks=["09"], folder=folder, build_dir=build)


def test_cli_subcommand():
    from dreampose.cli import build_parser

    args = build_parser().parse_args(["notebooks", "--profile", "smoke", "--only", "03", "--only", "04",
                                      "--figures", "out", "--threads", "1"])
    assert (args.profile, args.only, args.figures, args.threads, args.force) == ("smoke", ["03", "04"], "out", 1, False)
    assert args.func.__name__ == "cmd_notebooks"


def test_setup_applies_parameters(tmp_path):
    from dreampose.notebook import setup

    nb = setup("smoke", seed=3, output_dir=tmp_path / "figs", overrides=["sample.steps=7"])
    assert (nb.profile.name, nb.profile.seed, nb.profile.sample.steps, nb.seed) == ("smoke", 3, 7, 3)
    assert nb.output_dir.is_dir() and nb.output_dir.is_absolute()
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots()
    ax.plot([0, 1])
    assert nb.show(fig, "x.png").is_file() and nb.saved == [nb.output_dir / "x.png"]
