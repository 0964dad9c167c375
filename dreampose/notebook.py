"""What every notebook does first: `setup(...)` from its papermill parameters, `show(...)` figures.

    nb = setup(profile, seed=seed, output_dir=output_dir, device=device, overrides=overrides)
    nb.profile, nb.run, nb.world, nb.output_dir       # world is loaded on first use
    nb.expect("fig07_comparison.png", [f"fig10_ablations_{k}.png" for k in range(2)], nb.RESULT_FILES)
    res = nb.results()                                # every variant trained and scored (cached)
    nb.show(fig, "name.png")                          # into output_dir, and shown inline

``output_dir = ""`` (the notebooks' default) is the profile's folder of the project:
``figures/`` for tiny, ``figures/<profile>/`` for any other profile (``config.default_figures``),
so a plain ``papermill ... -p profile smoke`` never overwrites the tiny results.
``expect`` declares every file the notebook writes into ``output_dir``; ``run_notebooks``
reads the declaration from the executed notebook and checks it against the files written.
``figures.save`` closes a figure before Jupyter can draw it; ``show`` writes it and draws it.
Threads: ``DREAMPOSE_THREADS`` (or ``OMP_NUM_THREADS``) limits torch, as the tests do. Library
progress bars for loading weights are turned off (the package's own training bars stay).
"""
from __future__ import annotations

import os
import random
import sys
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

from .cache import Cache, project_root
from .config import Profile, default_figures, load_profile
from .progress import quiet_libraries

OUTPUTS_MIME = "application/vnd.dreampose.outputs+json"  # how ``expect`` marks its declaration


def output_folder(output_dir: str | Path, profile: str) -> Path:
    """``output_dir`` made absolute; empty means the profile's default folder of the project."""
    if not str(output_dir):
        return project_root() / default_figures(profile)
    return Path(output_dir).expanduser().resolve()


def shown(path: Path) -> str:
    """``path`` relative to the project when inside it (saved notebooks name no home folder)."""
    try:
        return path.resolve().relative_to(project_root()).as_posix()
    except ValueError:
        return str(path)


def in_notebook() -> bool:
    """True inside a Jupyter kernel (JupyterLab or papermill), False in a plain interpreter."""
    shell = sys.modules.get("IPython") and sys.modules["IPython"].get_ipython()
    return shell is not None and shell.__class__.__name__ == "ZMQInteractiveShell"


def show(fig, path: str | Path) -> Path:
    """Write ``fig`` to ``path`` (atomically, like ``figures.save``), draw it inline, close it."""
    import matplotlib.pyplot as plt

    from .figures import write

    path = write(fig, path)
    if in_notebook():
        from IPython.display import display

        display(fig)
    plt.close(fig)
    return path


@dataclass
class Notebook:
    """A notebook's run: its profile, artifact cache, figure folder and device."""

    profile: Profile
    cache: Cache
    output_dir: Path
    device: str = "cpu"
    seed: int = 0
    saved: list[Path] = field(default_factory=list)
    expected: list[str] = field(default_factory=list)
    _results: object = field(default=None, repr=False)

    RESULT_FILES = ("table1_comparisons.md", "table1_comparisons.csv", "table2_ablations.md",
                    "table2_ablations.csv", "effects.md")  # what ``results()`` writes

    def expect(self, *groups: str | list[str] | tuple[str, ...]) -> None:
        """Declare the files this notebook writes into ``output_dir`` (names, or lists of names).

        Shown as a line of the notebook and stored in its output under ``OUTPUTS_MIME``, where
        ``run_notebooks.declared_outputs`` finds it; the tests compare it with what was written.
        """
        for group in groups:
            self.expected.extend([group] if isinstance(group, str) else group)
        if in_notebook():
            from IPython.display import display

            text = f"This notebook writes {len(self.expected)} files into {shown(self.output_dir)}: " \
                   + ", ".join(self.expected)
            display({OUTPUTS_MIME: {"files": self.expected}, "text/plain": text}, raw=True)

    @property
    def run(self):
        """The stages' run context (``dreampose.stages.Run``) of this notebook."""
        from .stages import Run

        return Run(self.profile, self.cache)

    @cached_property
    def world(self):
        """The profile's data (rendered once into the cache, then loaded)."""
        from .stages import data

        return data(self.run)

    @cached_property
    def videos(self):
        """The test videos the evaluation protocol scores."""
        from .evaluate.experiments import evaluated_videos

        return evaluated_videos(self.profile, self.world)

    def results(self):
        """Every DreamPose variant trained, scored with the baselines, Tables 1 and 2 and the
        effects written into ``output_dir`` (``reproduce.Results``; all cached, so instant after
        ``dreampose reproduce``)."""
        if self._results is None:
            from .reproduce import evaluate_stage

            self._results = evaluate_stage(self.run, self.output_dir)
        return self._results

    def show(self, fig, name: str) -> Path:
        """Save ``fig`` as ``output_dir / name`` and draw it inline."""
        path = show(fig, self.output_dir / name)
        self.saved.append(path)
        return path


def setup(profile: str = "tiny", seed: int = 0, output_dir: str | Path = "", device: str = "cpu",
          overrides: list[str] | dict | None = None) -> Notebook:
    """Load the profile (with ``overrides`` and ``seed``), seed every generator, make ``output_dir``.

    ``output_dir``: empty for the profile's folder (``figures/`` for tiny, ``figures/<profile>/``
    otherwise); a relative path is relative to the working directory (the notebook's folder in
    Jupyter and under ``dreampose.run_notebooks``). The cache is ``$DREAMPOSE_CACHE`` or
    ``.cache/dreampose``.
    """
    import numpy as np
    import torch

    quiet_libraries()
    threads = os.environ.get("DREAMPOSE_THREADS") or os.environ.get("OMP_NUM_THREADS")
    if threads:
        torch.set_num_threads(int(threads))
    p = load_profile(profile, overrides or None)
    if seed != p.seed:
        p.override(f"seed={int(seed)}")
    p.device = device
    random.seed(p.seed)
    np.random.seed(p.seed)
    torch.manual_seed(p.seed)
    out = output_folder(output_dir, profile)
    out.mkdir(parents=True, exist_ok=True)
    from .figures import apply_style

    apply_style()
    cache = Cache()
    print(f"profile {p.name} (seed {p.seed}, device {device}{', overrides ' + str(overrides) if overrides else ''}); "
          f"cache {cache.root}; figures -> {shown(out)}")
    from .reproduce import starting_models
    from .shipped import report

    if cache.shipped is None or (cache.shipped / p.name).is_dir():  # said only where this profile ships weights
        lines = report(cache, starting_models(p))
        trained_here = [line for line in lines if ": shipped weights " not in line]
        print(*(trained_here or [f"starting from the shipped weights in weights/{p.name}/ ({len(lines)} models)"]),
              sep="\n")
    return Notebook(profile=p, cache=cache, output_dir=out, device=device, seed=p.seed)
