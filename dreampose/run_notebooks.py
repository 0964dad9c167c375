"""Execute the notebooks headless: jupytext .py -> .ipynb -> papermill, in order, resumable.

    python -m dreampose.run_notebooks --profile tiny            # all of notebooks/, in order
    python -m dreampose.run_notebooks --profile smoke 01 02     # a selection, by number or name
    python -m dreampose.run_notebooks --runtimes                # wall times of the last runs (Markdown)

Each notebook ``notebooks/NN_name.py`` (jupytext percent format, the file in git) is
converted to an unexecuted ``<build_dir>/.NN_name.input.ipynb`` and executed with papermill,
parameters ``profile``, ``seed``, ``output_dir``, ``device``, ``overrides``, in the notebooks
folder. The executed copy goes to ``<build_dir>/NN_name.ipynb`` beside a stamp ``NN_name.json``
(wall time, machine, artifacts the run added to the cache). A notebook whose stamp matches (same
source, same ``dreampose`` code, same parameters, finished) is skipped, so an interrupted batch
resumes where it stopped; the heavy work inside a notebook is cached by ``dreampose.cache`` anyway.
The batch stops at the first failing notebook with a ``NotebookError`` naming it and the failing
cell, or the files it wrote without declaring them (``Notebook.expect``) or declared and did not write.

The tiny profile writing into the project's ``figures/`` also publishes each executed copy to
``notebooks/executed/NN_name.ipynb`` (committed, so GitHub shows it with its outputs), without
papermill's timestamps and with stable ids, so a rerun with the same outputs rewrites the same bytes.
Other profiles never write there.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import os
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from .cache import default_root, project_root
from .files import atomic_write, write_json_atomic
from .notebook import OUTPUTS_MIME, output_folder

NOTEBOOK_DIR = project_root() / "notebooks"
BUILD_DIR = project_root() / "build" / "notebooks"
EXECUTED_DIR = NOTEBOOK_DIR / "executed"
KERNELSPEC = {"display_name": "Python 3", "language": "python", "name": "python3"}


class NotebookError(RuntimeError):
    """A notebook failed; the message names it, the cell and the error."""


@dataclass
class Run:
    name: str
    seconds: float
    skipped: bool
    output: Path


def notebook_paths(folder: str | Path = NOTEBOOK_DIR) -> list[Path]:
    """The notebooks of ``folder`` in reading order: ``NN_*.py`` sorted by name."""
    return sorted(p for p in Path(folder).glob("[0-9][0-9]_*.py") if p.is_file())


def select(paths: list[Path], wanted: list[str]) -> list[Path]:
    """Notebooks whose name starts with one of ``wanted`` ("01", "02_architecture", ...)."""
    if not wanted:
        return paths
    chosen = [p for p in paths if any(p.stem.startswith(w.removesuffix(".py")) for w in wanted)]
    missing = [w for w in wanted if not any(p.stem.startswith(w.removesuffix(".py")) for p in paths)]
    if missing:
        raise NotebookError(f"no notebook matches {', '.join(missing)}; have: {', '.join(p.stem for p in paths)}")
    return chosen


def to_ipynb(source: Path, target: Path | None = None) -> Path:
    """Convert a jupytext percent ``.py`` to ``.ipynb`` (beside it by default), with a python3 kernelspec."""
    import jupytext

    nb = jupytext.read(source)
    nb.metadata["kernelspec"] = KERNELSPEC  # papermill needs it ("No language found" otherwise)
    nb.metadata.setdefault("language_info", {"name": "python"})
    nb.metadata.get("jupytext", {}).pop("text_representation", None)
    target = target or source.with_suffix(".ipynb")
    return atomic_write(target, jupytext.writes(nb, fmt="ipynb"))


def code_hash() -> str:
    """Hash of the ``dreampose`` package's Python sources (a code change reruns the notebooks)."""
    h = hashlib.sha256()
    for path in sorted((project_root() / "dreampose").rglob("*.py")):
        h.update(path.relative_to(project_root()).as_posix().encode())
        h.update(path.read_bytes())
    return h.hexdigest()[:16]


def _stamp(source: Path, parameters: dict, code: str) -> dict:
    return {"source": hashlib.sha256(source.read_bytes()).hexdigest()[:16], "code": code,
            "parameters": parameters}


def _failure(err: Exception, source: Path, output: Path) -> NotebookError:
    cell = getattr(err, "exec_count", None)
    where = f"cell [{cell}]" if cell is not None else "a cell"
    what = f"{getattr(err, 'ename', type(err).__name__)}: {getattr(err, 'evalue', err)}"
    lines = [ln for ln in (getattr(err, "source", "") or "").splitlines() if ln.strip() and not ln.startswith("#")]
    first = f"; the cell starts `{lines[0].strip()[:80]}`" if lines else ""
    return NotebookError(f"notebook {source.name} failed in {where}: {what}{first} (executed copy: {output})")


def _kernel_environment(threads: int | None) -> None:
    """Kernels inherit this process's environment: pin their threads, prefer this venv's kernelspec,
    no progress bars (the runner prints a line per notebook)."""
    # a `python3` kernelspec in ~/.local/share/jupyter would otherwise win over the venv's own,
    # and could start another Python without `dreampose` installed
    os.environ.setdefault("JUPYTER_PREFER_ENV_PATH", "1")
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    os.environ.setdefault("TQDM_DISABLE", "1")  # a saved progress bar is a dead widget stuck at 0 %
    if threads:
        for var in ("DREAMPOSE_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
            os.environ[var] = str(int(threads))


def kernel_config():
    """Traitlets config for the kernels papermill starts: CurveZMQ transport encryption where this
    jupyter_client and pyzmq offer it, so ipykernel (7.3 and later) does not warn on every start that
    its TCP sockets are unencrypted; elsewhere the defaults."""
    import zmq
    from jupyter_client.manager import KernelManager
    from traitlets.config import Config

    if "transport_encryption" in KernelManager.class_trait_names() and zmq.has("curve"):
        return Config({"KernelManager": {"transport_encryption": "auto"}})
    return Config()


def declared_outputs(executed: Path) -> list[str] | None:
    """The file names an executed notebook declared with ``Notebook.expect`` (None: it declared none)."""
    for cell in json.loads(Path(executed).read_text()).get("cells", []):
        for out in cell.get("outputs", []):
            if OUTPUTS_MIME in out.get("data", {}):
                return list(out["data"][OUTPUTS_MIME]["files"])
    return None


def written_files(folder: Path, since: float | None = None) -> set[str]:
    """Paths (relative, posix) of the files under ``folder``, only those modified at ``since`` or later."""
    return {p.relative_to(folder).as_posix() for p in Path(folder).rglob("*")
            if p.is_file() and not p.name.startswith(".") and (since is None or p.stat().st_mtime >= since)}


def output_mismatch(declared: list[str], written: set[str]) -> str:
    """'' when ``written`` is exactly ``declared``, else a sentence naming the difference."""
    extra, missing = sorted(written - set(declared)), sorted(set(declared) - written)
    return "; ".join(([f"wrote files it does not declare in nb.expect(...): {', '.join(extra)}"] if extra else [])
                     + ([f"declared but did not write: {', '.join(missing)}"] if missing else []))


def _artifacts() -> int:
    return sum(1 for _ in default_root().glob("*/*/manifest.json"))


def _machine() -> str:
    from .provenance import cpu_name

    threads = os.environ.get("DREAMPOSE_THREADS") or os.environ.get("OMP_NUM_THREADS") or len(os.sched_getaffinity(0))
    return f"{cpu_name()}, {threads} threads"


def execute(source: Path, parameters: dict, build_dir: Path = BUILD_DIR, force: bool = False,
            log_output: bool = False, timeout: int | None = None, code: str | None = None) -> Run:
    """Execute one notebook with papermill (skipped if its stamp is up to date); check its outputs."""
    import papermill

    _kernel_environment(None)

    build_dir.mkdir(parents=True, exist_ok=True)
    output, stamp_path = build_dir / f"{source.stem}.ipynb", build_dir / f"{source.stem}.json"
    stamp = _stamp(source, parameters, code or code_hash())
    if not force and output.is_file() and stamp_path.is_file():
        old = json.loads(stamp_path.read_text())
        if old.get("ok") and {k: old.get(k) for k in stamp} == stamp:
            return Run(source.stem, old.get("seconds", 0.0), True, output)
    stamp_path.unlink(missing_ok=True)
    ipynb = to_ipynb(source, build_dir / f".{source.stem}.input.ipynb")
    wanted = parameters.get("output_dir", "")
    out_dir = output_folder(source.parent / wanted if wanted else "", parameters["profile"])
    artifacts, since, start = _artifacts(), time.time() - 0.1, time.perf_counter()
    try:
        papermill.execute_notebook(str(ipynb), str(output), parameters=parameters, cwd=str(source.parent),
                                   kernel_name="python3", language="python", progress_bar=False,
                                   log_output=log_output, execution_timeout=timeout, config=kernel_config())
    except papermill.PapermillExecutionError as err:
        raise _failure(err, source, output) from None
    seconds = round(time.perf_counter() - start, 1)
    declared = declared_outputs(output)
    problem = declared is not None and output_mismatch(declared, written_files(out_dir, since))
    if problem:
        raise NotebookError(f"notebook {source.name} {problem} (in {out_dir})")
    write_json_atomic(stamp_path, {**stamp, "ok": True, "seconds": seconds, "machine": _machine(),
                                   "new_artifacts": _artifacts() - artifacts})
    return Run(source.stem, seconds, False, output)


def publish(executed: Path, target: Path) -> Path:
    """Copy an executed notebook to ``target`` without papermill's timings, with stable cell and
    widget ids (a rerun with the same outputs writes the same bytes); execution counts stay."""
    import nbformat

    nb = nbformat.read(executed, as_version=4)
    nb.metadata.pop("papermill", None)
    for k, cell in enumerate(nb.cells):
        cell.metadata.pop("papermill", None)
        cell.metadata.pop("execution", None)
        cell["id"] = f"cell-{k}"
    text = nbformat.writes(nb)
    widgets = nb.metadata.get("widgets", {}).get("application/vnd.jupyter.widget-state+json", {}).get("state", {})
    for k, model_id in enumerate(widgets):  # random per run, in creation order
        text = text.replace(model_id, f"{k:032x}")
    return atomic_write(target, text.rstrip("\n") + "\n")


def publishes(profile: str, output_dir: str | Path) -> bool:
    """Only the tiny profile writing into the project's figures/ publishes to notebooks/executed/."""
    return profile == "tiny" and Path(output_dir).resolve() == output_folder("", "tiny")


def _relative(path: Path, folder: Path) -> str:
    """``path`` relative to ``folder`` when both are in the project (the executed copies show no home folder)."""
    root = project_root()
    inside = all(p.resolve().is_relative_to(root) for p in (path, folder))
    return os.path.relpath(path.resolve(), folder.resolve()) if inside else str(path.resolve())


def run_all(profile: str = "tiny", output_dir: str | Path = "figures", notebooks: list[str] | None = None,
            seed: int = 0, device: str = "cpu", overrides: list[str] | None = None,
            build_dir: str | Path = BUILD_DIR, folder: str | Path = NOTEBOOK_DIR, force: bool = False,
            log_output: bool = False, timeout: int | None = None, threads: int | None = None,
            executed_dir: str | Path | None = None) -> list[Run]:
    """Execute the notebooks in order and print one line per notebook with its wall time.

    ``threads``: torch/OpenMP threads of every kernel (default: as the environment says).
    ``executed_dir``: where to publish the executed copies (``publish``); by default
    ``notebooks/executed/`` when ``publishes(profile, output_dir)``, else nowhere.
    """
    _kernel_environment(threads)
    paths = select(notebook_paths(folder), list(notebooks or []))
    if not paths:
        raise NotebookError(f"no notebooks (NN_*.py) in {folder}")
    if executed_dir is None and publishes(profile, output_dir):
        executed_dir = EXECUTED_DIR
    Path(output_dir).mkdir(parents=True, exist_ok=True)
    parameters = {"profile": profile, "seed": int(seed), "output_dir": _relative(Path(output_dir), Path(folder)),
                  "device": device, "overrides": list(overrides or [])}
    code, runs = code_hash(), []
    print(f"[notebooks] {len(paths)} notebooks, profile {profile}, figures -> {Path(output_dir).resolve()}, "
          f"executed copies -> {build_dir}" + (f" and {executed_dir}" if executed_dir else ""), flush=True)
    for path in paths:
        print(f"[notebooks] {path.stem} ...", flush=True)
        run = execute(path, parameters, Path(build_dir), force, log_output, timeout, code)
        runs.append(run)
        if executed_dir:
            publish(run.output, Path(executed_dir) / run.output.name)
        print(f"[notebooks] {path.stem}: " + ("up to date, skipped" if run.skipped else f"{run.seconds:.0f} s"),
              flush=True)
    ran = [r for r in runs if not r.skipped]
    print(f"[notebooks] done: {len(ran)} executed in {sum(r.seconds for r in ran):.0f} s, "
          f"{len(runs) - len(ran)} up to date", flush=True)
    return runs


def runtimes(build_dir: str | Path = BUILD_DIR) -> str:
    """A Markdown table of each notebook's last wall time, from the stamps in ``build_dir``."""
    lines = ["| notebook | profile | wall time | cache | machine |", "|---|---|---|---|---|"]
    for stamp_path in sorted(Path(build_dir).glob("[0-9][0-9]_*.json")):
        stamp = json.loads(stamp_path.read_text())
        new = stamp.get("new_artifacts")
        cache = "?" if new is None else "warm (trained nothing)" if new == 0 else f"trained {new} artifacts"
        lines.append(f"| {stamp_path.stem} | {stamp['parameters']['profile']} | {stamp.get('seconds', 0):.0f} s | "
                     f"{cache} | {stamp.get('machine', '?')} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m dreampose.run_notebooks", description=__doc__.splitlines()[0])
    parser.add_argument("notebooks", nargs="*", help="numbers or names to run (default: all), e.g. 01 02")
    parser.add_argument("--profile", default="tiny", help="smoke | tiny | paper or a .yaml path (default tiny)")
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                        help="profile override passed to every notebook (repeatable)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--figures", default=None,
                        help="folder for figures and tables (default figures/ for tiny, figures/<profile>/ otherwise)")
    parser.add_argument("--build", default=str(BUILD_DIR), help=f"executed notebooks (default {BUILD_DIR})")
    parser.add_argument("--force", action="store_true", help="execute even the notebooks that are up to date")
    parser.add_argument("--log", action="store_true", help="stream the notebooks' output")
    parser.add_argument("--threads", type=int, default=None, help="torch threads per kernel (e.g. 1 beside other jobs)")
    parser.add_argument("--runtimes", action="store_true", help="print the last wall times (Markdown) and exit")
    args = parser.parse_args(argv)
    if args.runtimes:
        print(runtimes(args.build))
        return 0
    if args.figures is None:
        from .config import default_figures

        args.figures = default_figures(args.profile)
    try:
        run_all(args.profile, args.figures, args.notebooks, args.seed, args.device, args.overrides, args.build,
                force=args.force, log_output=args.log, threads=args.threads)
    except NotebookError as err:
        print(f"[notebooks] error: {err}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
