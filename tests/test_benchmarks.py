"""The benchmark code on dummy components: the authors' reference loop computes what the pipeline does."""
import importlib
import math
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


def test_gpu_check_without_cuda_says_so_in_one_line(monkeypatch, capsys):
    from benchmarks import gpu

    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert gpu.main([]) == 0
    out = capsys.readouterr().out
    assert out.count("\n") == 1 and out.startswith("benchmarks.gpu needs a CUDA GPU")
    for argv in (["--device", "cpu"], ["--device", "cpu", "--tiny"],
                 ["--device", "cpu", "--tiny", "--out", str(gpu.RESULTS)]):
        with pytest.raises(SystemExit):  # full size on a CPU, or toy numbers over the committed results
            gpu.main(argv)


def test_gpu_check_runs_at_toy_size_on_cpu(tmp_path):
    """`python -m benchmarks.gpu --device cpu --tiny`: every row of the GPU check, paper structure at toy widths."""
    import json

    from benchmarks import gpu

    committed = {p.name: p.stat().st_mtime_ns for p in gpu.RESULTS.glob("gpu.*")}
    assert gpu.main(["--device", "cpu", "--tiny", "--out", str(tmp_path)]) == 0
    r = json.loads((tmp_path / "gpu.json").read_text())
    assert r["setting"]["size"] == [80, 64] and r["setting"]["tiny"]
    assert {(x["sampler"], x["dtype"]) for x in r["sampling"]} == {
        (f"{name} 2", dtype) for name in ("pndm", "dpm++") for dtype in ("fp16", "bf16")}
    assert all(x["finite"] and x["s_per_frame"] > 0 and x["peak_gb"] is None for x in r["sampling"])
    rows = {(x["stage"], x["gradient_checkpointing"], x["optimizer"], x["attention"]): x for x in r["training"]}
    assert len(rows) == 13 and ("stage1", False, "AdamW", "explicit") in rows
    try:
        import bitsandbytes  # noqa: F401
        has_bnb = True
    except ImportError:
        has_bnb = False
    for (stage, ckpt, optimizer, attention), x in rows.items():
        assert ("skipped" in x) == (optimizer == "8-bit Adam" and not has_bnb)
        assert "skipped" in x or (x["step_s"] > 0 and math.isfinite(x["loss"]) and x["micro_batch"] == 4)
    launch = r["launch"]
    assert launch["ok"] and launch["processes"] == 1 and (launch["micro_batch"], launch["grad_accum"]) == (4, 4)
    md = (tmp_path / "gpu.md").read_text()
    assert "## Sampling" in md and "## Finetuning step" in md and "## accelerate launch" in md
    assert {p.name: p.stat().st_mtime_ns for p in gpu.RESULTS.glob("gpu.*")} == committed


def test_the_paper_models_are_built_on_the_device_asked_for():
    """What the GPU check builds on "cuda" lands there, adapter included (the meta device stands in)."""
    from benchmarks.paper_models import paper_pipeline

    pipe = paper_pipeline(tiny=True, device="meta")
    for module in (pipe.vae, pipe.unet, pipe.adapter, pipe.image_encoder):
        assert {p.device.type for p in module.parameters()} == {"meta"}


def test_per_subject_breakdown_finds_each_part_of_a_training_step():
    from benchmarks.per_subject import PARTS, breakdown

    pipe = dummy_pipeline()
    optimizer = torch.optim.Adam(pipe.unet.parameters(), lr=1e-4)
    cfg = pipe.unet.config

    def step():
        z = pipe.encode_latents(torch.rand(2, 3, 32, 32) * 2 - 1)
        x = torch.cat([z, torch.zeros(2, cfg.in_channels - z.shape[1], *z.shape[-2:])], 1)
        out = pipe.unet(x, torch.tensor([10, 20]), encoder_hidden_states=torch.randn(2, 3, cfg.cross_attention_dim))
        out.sample.square().mean().backward()
        optimizer.step()

    shares = breakdown(step)
    assert list(shares) == list(PARTS) and all(0 < share < 1 for share in shares.values()), shares
    assert sum(shares.values()) <= 1


def test_per_subject_remembers_the_encoder_passes_the_variants_and_the_decoder_repeat(capsys):
    """On smoke (3 subject and 3 decoder steps): of the 4 subject and 2 decoder stages of one test
    subject, only Ours_Full's and the 3-image subject stage encode new crops."""
    from benchmarks import per_subject

    assert per_subject.main(["--profile", "smoke", "--repeats", "1"]) == 0
    out = capsys.readouterr().out
    assert "(4 subject and 2 decoder stages" in out and "12 of 18 encoder passes remembered" in out
