"""Atomic file writes: a reader never sees a half-written file under its final name.

Every writer in the package goes through ``atomic_path``: it writes a temporary file beside
the target (same folder, so the final ``os.replace`` is one rename on one file system, and
with the target's suffix, so writers that pick a format by suffix still work), then swaps it
in. On an error the temporary file is removed and the old target, if any, is untouched.
"""
from __future__ import annotations

import json
import os
import shutil
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator


@contextmanager
def atomic_path(path: str | Path) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; on success it replaces ``path`` in one step."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.stem}.{os.getpid()}.tmp{path.suffix}")
    try:
        yield tmp
        os.replace(tmp, path)
    finally:
        if tmp.is_dir():
            shutil.rmtree(tmp, ignore_errors=True)
        else:
            tmp.unlink(missing_ok=True)


def atomic_write(path: str | Path, data: str | bytes) -> Path:
    """Write text (UTF-8) or bytes to ``path`` atomically, flushed to disk; returns ``path``."""
    path = Path(path)
    with atomic_path(path) as tmp:
        with open(tmp, "wb") as fh:
            fh.write(data.encode("utf-8") if isinstance(data, str) else data)
            fh.flush()
            os.fsync(fh.fileno())
    return path


def write_json_atomic(path: str | Path, data: Any) -> Path:
    """JSON (sorted keys, indented) written atomically."""
    return atomic_write(path, json.dumps(data, indent=2, sort_keys=True, default=str))
