"""One training loop for every finetuning stage, on accelerate (1 process or many).

The model passed in is an ``nn.Module`` whose ``forward(batch, generator)`` returns the loss;
its trainable parameters are those with ``requires_grad``. Randomness is a function of the
optimizer step (data indices, noise, timesteps and dropout come from generators seeded with
``(seed, step, rank)``), so a run resumed from a checkpoint ends with the same weights as an
uninterrupted one. Checkpoints are ``accelerator.save_state`` folders written under a
temporary name and renamed, so a crash never leaves a torn checkpoint.
"""
from __future__ import annotations

import csv
import math
import os
import shutil
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import torch
from torch import nn

from ..progress import shown

CKPT_PREFIX = "checkpoint-"


class TrainingError(RuntimeError):
    """Training cannot go on (bad settings or a non-finite loss); the message says what to do."""


@dataclass
class LoopConfig:
    steps: int  # optimizer steps
    lr: float
    batch_size: int  # per process, per micro-step
    grad_accum: int = 1
    checkpoint_every: int = 0  # 0 = only at the end
    seed: int = 0
    mixed_precision: str = "auto"  # auto | no | fp16 | bf16
    use_8bit_adam: bool = False
    weight_decay: float = 1e-2
    max_grad_norm: float = 1.0
    desc: str = "train"
    save_final: bool = True  # False: no checkpoint after the last step (benchmarks that measure steps)

    def check(self) -> None:
        for name in ("steps", "lr", "batch_size", "grad_accum"):
            value = getattr(self, name)
            if not (isinstance(value, (int, float)) and value > 0 and math.isfinite(value)):
                raise TrainingError(f"{self.desc}: {name} must be a positive number, got {value!r}")


def resolve_mixed_precision(setting: str) -> str:
    """'auto' -> bf16 on GPUs that support it, else fp16 on GPU, 'no' on CPU."""
    if setting != "auto":
        return setting
    if not torch.cuda.is_available():
        return "no"
    return "bf16" if torch.cuda.is_bf16_supported() else "fp16"


def make_accelerator(cfg: LoopConfig):
    from accelerate import Accelerator

    return Accelerator(
        cpu=not torch.cuda.is_available(),
        mixed_precision=resolve_mixed_precision(cfg.mixed_precision),
        gradient_accumulation_steps=cfg.grad_accum,
    )


def _optimizer(params, cfg: LoopConfig) -> torch.optim.Optimizer:
    if cfg.use_8bit_adam:
        try:
            import bitsandbytes as bnb
        except ImportError:
            raise TrainingError("use_8bit_adam needs bitsandbytes: pip install bitsandbytes (GPU only)") from None
        return bnb.optim.AdamW8bit(params, lr=cfg.lr, weight_decay=cfg.weight_decay)
    return torch.optim.AdamW(params, lr=cfg.lr, weight_decay=cfg.weight_decay)


def latest_checkpoint(work_dir: Path) -> tuple[int, Path | None]:
    """(step, folder) of the newest complete checkpoint in ``work_dir``, or (0, None)."""
    found = []
    for path in Path(work_dir).glob(CKPT_PREFIX + "*"):
        suffix = path.name[len(CKPT_PREFIX):]
        if path.is_dir() and suffix.isdigit():
            found.append((int(suffix), path))
    return max(found) if found else (0, None)


def _save_checkpoint(accelerator, work_dir: Path, step: int, keep: int = 2) -> None:
    final = work_dir / f"{CKPT_PREFIX}{step:07d}"
    tmp = work_dir / f".tmp-{CKPT_PREFIX}{step:07d}"
    if accelerator.is_main_process:
        shutil.rmtree(tmp, ignore_errors=True)
    accelerator.wait_for_everyone()
    accelerator.save_state(str(tmp))
    accelerator.wait_for_everyone()
    if accelerator.is_main_process:
        os.rename(tmp, final)
        old = sorted(p for p in work_dir.glob(CKPT_PREFIX + "*") if p.is_dir())
        for path in old[:-keep]:
            shutil.rmtree(path, ignore_errors=True)
    accelerator.wait_for_everyone()


def _write_log(path: Path, rows: list[dict]) -> None:
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=["step", "loss", "lr", "seconds"])
        writer.writeheader()
        writer.writerows(rows)
    os.replace(tmp, path)


def _read_log(path: Path, upto: int) -> list[dict]:
    if not path.exists():
        return []
    with open(path) as fh:
        return [r for r in csv.DictReader(fh) if int(r["step"]) <= upto]


def _optimizer_step(model, optimizer, params, make_batch, accelerator, cfg: LoopConfig, step: int) -> float:
    """One optimizer step of ``cfg.grad_accum`` micro-steps; micro-step m of process r reads
    indices [(m * P + r) * B, ... + B) and draws its randomness from a generator seeded by (seed, m, r).
    Returns the loss averaged over micro-steps and processes."""
    n_proc, rank, bsz = accelerator.num_processes, accelerator.process_index, cfg.batch_size
    losses = []
    for micro in range(cfg.grad_accum):
        m = step * cfg.grad_accum + micro
        first = (m * n_proc + rank) * bsz
        batch = make_batch(list(range(first, first + bsz)))
        generator = torch.Generator().manual_seed((cfg.seed * 1_000_003 + m) * 64 + rank)
        with accelerator.accumulate(model):
            loss = model(batch, generator)
            accelerator.backward(loss)
            if accelerator.sync_gradients and cfg.max_grad_norm:
                accelerator.clip_grad_norm_(params, cfg.max_grad_norm)
            optimizer.step()
            optimizer.zero_grad(set_to_none=True)
        losses.append(loss.detach().float())
    return accelerator.gather(torch.stack(losses).mean()[None]).mean().item()


def train(model: nn.Module, make_batch: Callable[[list[int]], dict], cfg: LoopConfig, work_dir: str | Path,
          progress: bool = True, on_step: Callable[[int], None] | None = None) -> dict:
    """Train ``model`` for ``cfg.steps`` optimizer steps; resume from ``work_dir`` checkpoints.

    ``make_batch(indices)`` returns a batch for the given sample indices; micro-step m of
    process r reads indices [(m * P + r) * B, ... + B). ``on_step(n)`` runs on the main
    process after optimizer step n (e.g. to keep a snapshot). Returns the unwrapped model's
    final state in place and a summary dict (final loss, steps, resumed_from, and train_seconds:
    the training time of every attempt, as is the log's ``seconds`` column).
    """
    from tqdm.auto import tqdm

    cfg.check()
    work_dir = Path(work_dir)
    work_dir.mkdir(parents=True, exist_ok=True)
    accelerator = make_accelerator(cfg)
    params = [p for p in model.parameters() if p.requires_grad]
    if not params:
        raise TrainingError(f"{cfg.desc}: the model has no trainable parameters")
    groups = model.param_groups(cfg.lr) if hasattr(model, "param_groups") else params  # per-group lr, if any
    optimizer = _optimizer(groups, cfg)
    model, optimizer = accelerator.prepare(model, optimizer)
    start_step, ckpt = latest_checkpoint(work_dir)
    if ckpt is not None:
        accelerator.load_state(str(ckpt))
    log_path = work_dir / "loss.csv"
    rows = _read_log(log_path, start_step)
    bar = tqdm(total=cfg.steps, initial=start_step, desc=cfg.desc, disable=not (shown(progress) and accelerator.is_main_process))
    start_time = time.perf_counter() - (float(rows[-1]["seconds"]) if rows else 0.0)  # a resumed run adds its attempts
    model.train()
    loss_value = float(rows[-1]["loss"]) if rows else float("nan")  # a resumed, finished run keeps its last loss
    for step in range(start_step, cfg.steps):
        loss_value = _optimizer_step(model, optimizer, params, make_batch, accelerator, cfg, step)
        if not math.isfinite(loss_value):
            _, last = latest_checkpoint(work_dir)
            raise TrainingError(
                f"{cfg.desc}: the loss became {loss_value} at step {step + 1}; stopped. "
                f"Last good checkpoint: {last or 'none'}. Lower the learning rate ({cfg.lr}) and rerun to resume."
            )
        rows.append({"step": step + 1, "loss": f"{loss_value:.6f}", "lr": cfg.lr,
                     "seconds": f"{time.perf_counter() - start_time:.3f}"})
        bar.update(1)
        bar.set_postfix(loss=f"{loss_value:.4f}")
        done = step + 1 == cfg.steps
        due = cfg.checkpoint_every and (step + 1) % cfg.checkpoint_every == 0
        if (done and cfg.save_final) or due:
            _save_checkpoint(accelerator, work_dir, step + 1)
        if (done or due) and accelerator.is_main_process:
            _write_log(log_path, rows)
        if on_step is not None and accelerator.is_main_process:
            on_step(step + 1)
    bar.close()
    accelerator.wait_for_everyone()
    return {
        "final_loss": loss_value,
        "steps": cfg.steps,
        "resumed_from": start_step,
        "train_seconds": round(time.perf_counter() - start_time, 3),
        "processes": accelerator.num_processes,
        "model": accelerator.unwrap_model(model),
        "is_main_process": accelerator.is_main_process,
    }
