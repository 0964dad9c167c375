"""Every notebook in notebooks/ runs headless under papermill on the smoke profile.

Figures go to a temporary folder (never figures/); the artifact cache is the session's private
one (conftest), so the notebooks share the smoke base and stage-1 models they train. The files
a notebook writes must be exactly those it declares with ``nb.expect(...)``. The kernels run
with one torch thread.
"""
import json
import re

import pytest

from dreampose.cache import project_root
from dreampose.run_notebooks import (NotebookError, declared_outputs, execute, notebook_paths, output_mismatch,
                                     publishes, run_all, runtimes, written_files)

NOTEBOOKS = notebook_paths()


@pytest.fixture
def one_thread(monkeypatch):
    for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "DREAMPOSE_THREADS"):
        monkeypatch.setenv(var, "1")
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("TRANSFORMERS_OFFLINE", "1")
    monkeypatch.setenv("TQDM_DISABLE", "0")  # recorded, so that the value run_notebooks sets is undone after
    monkeypatch.delenv("TQDM_DISABLE")       # the test; unset, as a user's shell has it


def test_notebooks_found():
    assert [p.stem[:2] for p in NOTEBOOKS[:2]] == ["01", "02"]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_notebook_runs_on_smoke(path, tmp_path, one_thread):
    figures = tmp_path / "figures"
    params = {"profile": "smoke", "seed": 0, "output_dir": str(figures), "device": "cpu", "overrides": []}
    run = execute(path, params, build_dir=tmp_path / "build", force=True)
    assert run.output.is_file() and not run.skipped
    declared = declared_outputs(run.output)
    assert declared, f"{path.name} declares no outputs: call nb.expect([...]) after setup"
    assert len(set(declared)) == len(declared), f"{path.name} declares a file twice: {sorted(declared)}"
    written = written_files(figures)
    assert not output_mismatch(declared, written), f"{path.name} {output_mismatch(declared, written)}"
    texts = [str(o.get("text", "")) + str(o.get("data", {}).get("text/plain", ""))
             for c in json.loads(run.output.read_text())["cells"] for o in c.get("outputs", [])]
    assert not [t for t in texts if "%|" in t], f"{path.name}: a progress bar was saved in the executed copy"


def heading(path):
    """The first Markdown cell of a notebook."""
    text = path.read_text()
    return text.split("# %% [markdown]", 1)[1].split("# %%", 1)[0]


@pytest.mark.parametrize("k", range(len(NOTEBOOKS)), ids=[p.stem for p in NOTEBOOKS])
def test_heading_names_sections_runtimes_and_neighbours(k):
    path, text = NOTEBOOKS[k], heading(NOTEBOOKS[k])
    assert re.search(r"\*\*Paper:\*\*", text) and re.search(r"\*\*Runtime", text), f"{path.name}: no paper/runtime line"
    assert "warm" in text and "cold" in text, f"{path.name}: the runtime line needs warm and cold"
    links = re.findall(r"\]\((\d\d_\w+)\.ipynb\)", text)  # siblings in notebooks/executed/
    neighbours = [p.stem for p in (NOTEBOOKS[k - 1:k] if k else []) + NOTEBOOKS[k + 1:k + 2]]
    assert links == neighbours, f"{path.name} links {links}, its neighbours are {neighbours}"


def test_readme_links_every_executed_copy():
    readme = (project_root() / "README.md").read_text()
    for path in NOTEBOOKS:
        assert f"(notebooks/executed/{path.stem}.ipynb)" in readme, f"README does not link {path.stem}.ipynb"


def test_parameters_default_to_the_profiles_folder(tmp_path):
    from dreampose.notebook import output_folder

    for path in NOTEBOOKS:
        assert '\noutput_dir = ""' in path.read_text(), f"{path.name}: output_dir must default to \"\""
    assert output_folder("", "tiny") == project_root() / "figures"
    assert output_folder("", "smoke") == project_root() / "figures" / "smoke"
    assert output_folder("", "elsewhere/paper.yaml") == project_root() / "figures" / "paper"
    assert output_folder(tmp_path / "x", "smoke") == tmp_path / "x"
    assert publishes("tiny", project_root() / "figures") and not publishes("smoke", project_root() / "figures")
    assert not publishes("tiny", tmp_path) and not publishes("paper", project_root() / "figures" / "paper")


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


RAW = """# %% tags=["parameters"]
profile = "tiny"
output_dir = ""
record = ""

# %%
from pathlib import Path
from dreampose.notebook import setup
nb = setup(profile, output_dir=output_dir)
Path(record).write_text(str(nb.output_dir))
"""


def test_raw_papermill_on_smoke_never_writes_the_tiny_figures(tmp_path, one_thread):
    """`papermill nb.ipynb out.ipynb -p profile smoke`, no output_dir: figures/smoke/, not figures/."""
    source = tmp_path / "01_raw.py"
    source.write_text(RAW)
    execute(source, {"profile": "smoke", "record": str(tmp_path / "where")}, tmp_path / "build")  # papermill -p
    assert (tmp_path / "where").read_text() == str(project_root() / "figures" / "smoke")


DECLARES = """# %% tags=["parameters"]
profile = "tiny"
output_dir = "."

# %%
from pathlib import Path
from dreampose.notebook import setup
nb = setup("smoke", output_dir=output_dir)
nb.expect("a.txt", [f"b_{k}.txt" for k in range(2)])
"""


def test_undeclared_and_missing_outputs_fail_the_notebook(tmp_path, one_thread):
    folder, out = tmp_path / "nb", tmp_path / "out"
    folder.mkdir()
    (folder / "01_declares.py").write_text(DECLARES + "for name in ('a.txt', 'b_0.txt', 'c.txt'):\n"
                                           "    Path(output_dir, name).write_text('x')\n")
    with pytest.raises(NotebookError, match=r"01_declares\.py wrote files it does not declare in nb\.expect\(\.\.\.\): "
                                             r"c\.txt; declared but did not write: b_1\.txt"):
        run_all("smoke", out, folder=folder, build_dir=tmp_path / "build")
    assert declared_outputs(tmp_path / "build" / "01_declares.ipynb") == ["a.txt", "b_0.txt", "b_1.txt"]
    assert not (tmp_path / "build" / "01_declares.json").exists()  # not marked done: it runs again


def test_tiny_publishes_a_stable_executed_copy(tmp_path, one_thread):
    folder, build, out, executed = tmp_path / "nb", tmp_path / "build", tmp_path / "out", tmp_path / "executed"
    folder.mkdir()
    (folder / "01_good.py").write_text(GOOD + "\n# %%\nprint('hello')\n")
    run_all("smoke", out, folder=folder, build_dir=build)
    assert not executed.exists()  # nothing is published unless asked (or tiny into figures/)
    run_all("tiny", out, folder=folder, build_dir=build, executed_dir=executed, force=True)
    first = (executed / "01_good.ipynb").read_bytes()
    run_all("tiny", out, folder=folder, build_dir=build, executed_dir=executed, force=True)
    assert (executed / "01_good.ipynb").read_bytes() == first  # a rerun rewrites the same bytes
    nb = json.loads(first)
    assert "papermill" not in nb["metadata"] and all("papermill" not in c["metadata"] for c in nb["cells"])
    code = [c for c in nb["cells"] if c["cell_type"] == "code"]
    assert [c["execution_count"] for c in code] == list(range(1, len(code) + 1))  # counts kept
    assert code[-1]["outputs"][0]["text"] == ["hello\n"]
    table = runtimes(build)
    assert "| 01_good | tiny |" in table and "warm (trained nothing)" in table


def test_a_kernel_starts_without_the_unencrypted_transport_warning(tmp_path, one_thread, capfd):
    folder = tmp_path / "nb"
    folder.mkdir()
    (folder / "01_good.py").write_text(GOOD)
    run_all("smoke", tmp_path / "out", folder=folder, build_dir=tmp_path / "build")
    assert "without encryption" not in capfd.readouterr().err  # ipykernel >= 7.3 warns on plain TCP


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


def test_progress_bars_follow_the_argument_and_tqdm_disable(monkeypatch):
    from dreampose.progress import shown

    monkeypatch.delenv("TQDM_DISABLE", raising=False)
    assert shown(True) and not shown(False)
    monkeypatch.setenv("TQDM_DISABLE", "1")
    assert not shown(True)


def test_quiet_libraries_hides_loading_bars_and_the_torchvision_advice(monkeypatch):
    import logging

    from diffusers.utils import logging as diffusers_logging

    from dreampose.progress import quiet_libraries

    monkeypatch.delenv("HF_HUB_DISABLE_PROGRESS_BARS", raising=False)  # restored after the test
    was_enabled = diffusers_logging.is_progress_bar_enabled()
    diffusers_logging.enable_progress_bar()
    try:
        quiet_libraries()
        assert not diffusers_logging.is_progress_bar_enabled()
        logger = logging.getLogger("transformers.utils.import_utils")

        def passes(message: str) -> bool:
            return bool(logger.filter(logger.makeRecord(logger.name, logging.WARNING, __file__, 1, message, None, None)))

        assert not passes("`CLIPImageProcessor` requires torchvision (not installed); falling back")
        assert passes("some other warning")
    finally:
        (diffusers_logging.enable_progress_bar if was_enabled else diffusers_logging.disable_progress_bar)()


def test_quiet_libraries_adds_its_filter_once():
    import logging

    from dreampose.progress import quiet_libraries

    quiet_libraries()
    quiet_libraries()
    logger = logging.getLogger("transformers.utils.import_utils")
    assert sum(getattr(f, "__name__", "") == "_no_torchvision_advice" for f in logger.filters) == 1
