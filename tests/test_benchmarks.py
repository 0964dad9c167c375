"""The benchmark code on dummy components: the authors' reference loop computes what the pipeline does."""
import importlib
from pathlib import Path

import pytest
import torch

from benchmarks.common import interleaved
from benchmarks.sampling import authors_loop, bare_unet, run_pipe
from dummies import dummy_pipeline


def test_authors_loop_matches_the_batched_pipeline():
    pipe = dummy_pipeline(n_poses=5)
    pipe.set_progress_bar_config(disable=True)
    g = torch.Generator().manual_seed(0)
    image = torch.rand(3, 32, 32, generator=g) * 2 - 1
    poses = torch.rand(6, 2, 32, 32, generator=g) * 2 - 1
    frames = [1, 2, 3]
    ours = run_pipe(pipe, image, poses, frames, steps=3, scales=(8.0, 3.0), fpb=2)
    ref = (authors_loop(pipe, image, poses, frames, 3, 8.0, 3.0).clamp(-1, 1) + 1) / 2
    assert torch.allclose(ours, ref, atol=1e-4)
    bare_unet(pipe, n_frames=3, n_calls=2, n_branches=3, fpb=2, tokens=4)


def test_interleaved_takes_medians_of_every_variant():
    calls = []
    res = interleaved({"a": lambda: calls.append("a"), "b": lambda: 2.0}, repeats=3, warmup=False)
    assert calls == ["a"] * 3 and res["b"]["median"] == 2.0 and res["a"]["median"] >= 0


@pytest.mark.parametrize("module", sorted(p.stem for p in (Path(__file__).parent.parent / "benchmarks").glob("*.py")
                                          if not p.stem.startswith("_")))
def test_every_benchmark_module_imports(module):
    """The benchmarks run on cached artifacts only, outside the tests: at least their imports must not rot."""
    importlib.import_module(f"benchmarks.{module}")


def test_fidelity_runner_accumulates_parts(tmp_path):
    from benchmarks import fidelity

    assert fidelity.main(["--profile", "smoke", "--videos", "2", "--parts", "vae", "--out", str(tmp_path)]) == 0
    text = (tmp_path / "fidelity.md").read_text()
    assert "## vae" in text and "--parts vae --videos 2" in text and "vae_psnr_db" in text
    with pytest.raises(SystemExit):
        fidelity.main(["--parts", "vae,colour", "--out", str(tmp_path)])
