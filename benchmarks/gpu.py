"""GPU check of the paper profile, no download: ``python -m benchmarks.gpu`` (``make gpu-check``).

    python -m benchmarks.gpu [--only sampling,training,launch] [--out DIR]
    python -m benchmarks.gpu --device cpu --tiny --out DIR      # the same code at toy size, seconds

Builds SD 1.4 + the CLIP ViT-B/32 image tower with random weights from benchmarks/configs/sd14
(``paper_models``), through DreamPosePipeline.from_base (conv_in surgery, adapter), and measures
on CUDA (``gpu_measure``): sampling seconds per frame at 640 x 512 for PNDM 100 and the
recommended sampler, three guidance branches, fp16 and bf16, frames batched; the peak memory of
one stage-1, subject and decoder finetuning step at micro-batch 4 with gradient accumulation,
with and without gradient checkpointing, with AdamW and 8-bit Adam (when bitsandbytes imports),
with SDPA attention (and explicit attention once, for comparison); and one stage-1 step under
``accelerate launch`` on one GPU. Writes gpu.json and gpu.md into --out (default
benchmarks/results). Without CUDA it prints one line and exits 0.
"""
from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch

RESULTS = Path(__file__).parent / "results"
ROOT = Path(__file__).resolve().parent.parent
SECTIONS = ("sampling", "training", "launch")
NO_GPU = ("benchmarks.gpu needs a CUDA GPU (torch.cuda.is_available() is False here); "
          "`python -m benchmarks.gpu --device cpu --tiny --out DIR` runs the same code at toy size")


def machine(device: str) -> dict:
    from .common import machine as cpu_machine

    info = cpu_machine()
    if device.startswith("cuda"):
        info.update(gpu=torch.cuda.get_device_name(), cuda=torch.version.cuda,
                    gpu_memory_gb=round(torch.cuda.get_device_properties(0).total_memory / 1e9, 1))
    return info


def launch(s, out: Path) -> dict:
    """One stage-1 step of ``train()`` under ``accelerate launch --num_processes 1`` (a subprocess)."""
    from dreampose.train.loop import resolve_mixed_precision

    cmd = [sys.executable, "-m", "accelerate.commands.launch", "--num_processes", "1", "--num_machines", "1",
           "--mixed_precision", resolve_mixed_precision("auto"), "--dynamo_backend", "no",
           *(["--cpu"] if s.device == "cpu" else []), "--module", "benchmarks.gpu", "--launched",
           "--device", s.device, *(["--tiny"] if s.tiny else []), "--out", str(out)]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))}
    if s.device == "cpu":
        env.setdefault("OMP_NUM_THREADS", str(torch.get_num_threads()))  # as many threads as this process
    t = time.perf_counter()
    done = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT, env=env, check=False)
    wall = time.perf_counter() - t
    if done.returncode:
        return {"command": "accelerate launch --num_processes 1 ...", "ok": False, "wall_s": wall,
                "error": done.stderr[-1500:]}
    row = json.loads((out / "launch.json").read_text())
    return {"command": "accelerate launch --num_processes 1 ...", "ok": True, "wall_s": wall, **row}


def _fmt(x, digits: int = 3, unit: str = "") -> str:
    return "n/a" if x is None else f"{x:.{digits}g}{unit}"


def to_markdown(r: dict) -> str:
    s = r["setting"]
    out = [f"# GPU check ({r['date']})", "", f"Command: `{r['command']}`  ", f"Wall time: {r['wall_s']:.0f} s  ",
           "Machine: " + ", ".join(f"{k}={v}" for k, v in r["machine"].items()), "",
           "Models: SD 1.4 UNet and VAE + CLIP ViT-B/32 image tower"
           f"{' at reduced widths (--tiny)' if s['tiny'] else ''}, "
           f"random weights (benchmarks/configs/sd14), DreamPose's conv_in surgery and adapter; frames "
           f"{s['size'][0]} x {s['size'][1]} (height x width). Peak memory: torch.cuda.max_memory_allocated "
           "(n/a on a CPU).", ""]
    if "sampling" in r:
        out += ["## Sampling", "", f"{s['frames']} frames in one call (frames_per_batch = frames), s_I 8, s_p 3 (three "
                "branches per UNet call), SDPA attention, after a one-step warm-up; s per frame = wall time / frames.",
                "", "| sampler | dtype | UNet evals/frame | s per frame | peak GB |", "|---|---|---|---|---|"]
        out += [f"| {x['sampler']} | {x['dtype']} | {x['unet_evals_per_frame']} | {_fmt(x['s_per_frame'])} | "
                f"{_fmt(x['peak_gb'])} |" for x in r["sampling"]]
        out.append("")
    if "training" in r:
        out += ["## Finetuning step", "", "One optimizer step of `train.loop.train` (micro-batch x accumulation "
                "samples), mixed precision 'auto' (bf16 where the GPU has it).", "",
                "| stage | gradient checkpointing | optimizer | attention | batch x accum | peak GB | s per step |",
                "|---|---|---|---|---|---|---|"]
        for x in r["training"]:
            cells = ([x["skipped"], ""] if "skipped" in x else [_fmt(x["peak_gb"]), _fmt(x["step_s"])])
            out.append(f"| {x['stage']} | {'yes' if x['gradient_checkpointing'] else 'no'} | {x['optimizer']} | "
                       f"{x['attention']} | {x['micro_batch']} x {x['grad_accum']} | " + " | ".join(cells) + " |")
        out.append("")
    if "launch" in r:
        x = r["launch"]
        text = (f"ok: {x['processes']} process, mixed precision {x['mixed_precision']}, stage 1 at "
                f"{x['micro_batch']} x {x['grad_accum']}, step {_fmt(x['step_s'], unit=' s')}, "
                f"peak {_fmt(x['peak_gb'], unit=' GB')}, {x['wall_s']:.0f} s with start-up"
                if x["ok"] else f"FAILED:\n\n```\n{x['error']}\n```")
        out += ["## accelerate launch", "", f"`{x['command']}`: {text}", ""]
    return "\n".join(out)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m benchmarks.gpu", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--device", default="cuda", choices=("cuda", "cpu"))
    ap.add_argument("--tiny", action="store_true", help="the paper's structure at reduced widths, 80 x 64 frames, "
                    "2 sampling steps: checks the code, measures nothing of the paper")
    ap.add_argument("--only", default=",".join(SECTIONS), help=f"comma list of {', '.join(SECTIONS)}")
    ap.add_argument("--out", default=None, help="output folder (default benchmarks/results; --tiny needs its own)")
    ap.add_argument("--launched", action="store_true", help=argparse.SUPPRESS)  # the child of the launch check
    args = ap.parse_args(argv)
    only = [x for x in args.only.split(",") if x]
    if set(only) - set(SECTIONS):
        ap.error(f"unknown sections {sorted(set(only) - set(SECTIONS))}; choose among {', '.join(SECTIONS)}")
    if args.device == "cpu" and not args.tiny:
        ap.error("--device cpu runs the paper-size models for hours; add --tiny")
    out = Path(args.out) if args.out else RESULTS
    if args.tiny and out.resolve() == RESULTS.resolve():
        ap.error("--tiny writes toy numbers: give --out DIR (never benchmarks/results)")
    if args.device == "cuda" and not torch.cuda.is_available():
        print(NO_GPU)
        return 0

    from diffusers.utils import logging as diffusers_logging

    from . import gpu_measure as m

    diffusers_logging.set_verbosity_error()  # dtype casts of random-weight models are intended here
    s = m.setting(args.device, args.tiny)
    out.mkdir(parents=True, exist_ok=True)
    if args.launched:
        (out / "launch.json").write_text(json.dumps(m.launched_stage1(s)))
        return 0
    t0 = time.perf_counter()
    r = {"date": dt.datetime.now().isoformat(timespec="seconds"), "machine": machine(args.device),
         "command": "python -m benchmarks.gpu " + " ".join(argv if argv is not None else sys.argv[1:]),
         "setting": {"device": s.device, "tiny": s.tiny, "size": list(s.size), "frames": s.frames, "steps": s.steps}}
    if "sampling" in only:
        r["sampling"] = m.sampling(s)
    if "training" in only:
        r["training"] = m.training(s)
    if "launch" in only:
        with tempfile.TemporaryDirectory() as child:
            r["launch"] = launch(s, Path(child))
    r["wall_s"] = time.perf_counter() - t0
    (out / "gpu.json").write_text(json.dumps(r, indent=1))
    (out / "gpu.md").write_text(to_markdown(r))
    print(to_markdown(r))
    print(f"wrote {out / 'gpu.json'} and {out / 'gpu.md'} in {r['wall_s']:.0f} s")
    return 0 if r.get("launch", {"ok": True})["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
