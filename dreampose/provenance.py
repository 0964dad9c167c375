"""Where a result was made: CPU, torch and thread count, for table and figure captions.

Training on another CPU rounds differently and follows another path, so a result is only
reproducible bit for bit on the same kind of machine (README, "Reproducibility"); every
committed table and figure names the machine that made it.
"""
from __future__ import annotations

import platform
from functools import lru_cache


@lru_cache(maxsize=1)
def cpu_name() -> str:
    """The CPU's model name (from /proc/cpuinfo on Linux), else platform's best guess."""
    try:
        with open("/proc/cpuinfo") as fh:
            for line in fh:
                if line.lower().startswith(("model name", "hardware")):
                    return " ".join(line.split(":", 1)[1].split())
    except OSError:
        pass
    return platform.processor() or platform.machine() or "unknown CPU"


def machine_line() -> str:
    """E.g. "AMD EPYC, torch 2.13.0, 2 threads" (threads as torch uses them now)."""
    import torch

    threads = torch.get_num_threads()
    return f"{cpu_name()}, torch {torch.__version__.split('+')[0]}, {threads} thread{'s' * (threads != 1)}"
