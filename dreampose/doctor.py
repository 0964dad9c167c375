"""`dreampose doctor`: check the environment and print what to fix.

Each check prints one line, ``OK   <what>`` or ``FIX  <what>: <how>`` (``NOTE`` for things that
only matter for some uses, e.g. ffmpeg for .mp4 output). The command exits non-zero only when a
check finds a real problem (``FIX``): wrong Python or torch, torchvision installed, a cache that
cannot be written. A tiny base model not trained yet is a ``NOTE`` with the command that builds
it (`make reproduce` does), so a fresh clone after set-up runs clean.
"""
from __future__ import annotations

import importlib.metadata
import importlib.util
import os
import sys
import tempfile
from dataclasses import dataclass

TORCH_EXPECTED = "2.13.0"
PYTHON_MIN = (3, 10)


@dataclass
class Check:
    name: str
    ok: bool
    message: str
    fatal: bool = True  # a failed non-fatal check prints NOTE and keeps the exit code 0

    @property
    def label(self) -> str:
        return "OK  " if self.ok else ("FIX " if self.fatal else "NOTE")

    def line(self) -> str:
        return f"{self.label} {self.name}: {self.message}"


def _version(dist: str) -> str | None:
    try:
        return importlib.metadata.version(dist)
    except importlib.metadata.PackageNotFoundError:
        return None


def check_python() -> Check:
    v = sys.version_info
    ok = (v.major, v.minor) >= PYTHON_MIN
    msg = f"{v.major}.{v.minor}.{v.micro}" + ("" if ok else f"; use Python >= {'.'.join(map(str, PYTHON_MIN))} "
                                                          "(the Makefile builds .venv with python3.11)")
    return Check("python", ok, msg)


def check_torch() -> Check:
    version = _version("torch")
    if version is None:
        return Check("torch", False, f"not installed; run `make venv` (installs torch=={TORCH_EXPECTED})")
    base = version.split("+")[0]
    if base != TORCH_EXPECTED:
        return Check("torch", False, f"{version} installed, {TORCH_EXPECTED} expected; "
                                     f"`pip install torch=={TORCH_EXPECTED}` (CPU wheel), never torchvision")
    return Check("torch", True, version)


def check_no_torchvision() -> Check:
    found = _version("torchvision") is not None or importlib.util.find_spec("torchvision") is not None
    if found:
        return Check("torchvision", False, "installed, but it breaks transformers' CLIP vision model and "
                                           "torchmetrics.image here; `pip uninstall -y torchvision`")
    return Check("torchvision", True, "absent (as required)")


def check_threads() -> Check:
    import torch

    threads, cpus = torch.get_num_threads(), os.cpu_count() or 1
    if threads > cpus:
        return Check("torch threads", False, f"{threads} threads on {cpus} CPUs oversubscribes the cores; "
                                             f"set OMP_NUM_THREADS={cpus} (or fewer)", fatal=False)
    return Check("torch threads", True, f"{threads} of {cpus} CPUs")


def check_cache() -> Check:
    from .cache import Cache

    root = Cache().root
    try:
        root.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=root, prefix=".doctor-", delete=True) as fh:
            fh.write(b"ok")
            fh.flush()
    except OSError as err:
        return Check("cache", False, f"{root} is not writable ({err.strerror or err}); "
                                     "set DREAMPOSE_CACHE to a writable folder")
    import shutil

    free = shutil.disk_usage(root).free / 2**30
    if free < 1.0:
        return Check("cache", False, f"{root} has only {free:.2f} GB free; the tiny run needs ~1 GB, "
                                     "free space or set DREAMPOSE_CACHE to a larger disk", fatal=False)
    return Check("cache", True, f"{root} writable, {free:.1f} GB free")


def check_base_model(profile_name: str = "tiny") -> Check:
    """Is the profile's trained base shipped (weights/) or in the cache? Looked up only, never built."""
    from . import shipped
    from .cache import Cache, CacheError
    from .config import load_profile

    profile = load_profile(profile_name)
    if profile.base.source != "train":
        return Check("base model", True, f"profile {profile_name} loads {profile.base.pretrained} from the hub/folder")
    cache = Cache()
    key = profile.stage_hash("base")
    if cache.shipped_artifact(profile, "base", key) is not None:
        where = cache.shipped / profile.name / "base" / key
        return Check("base model", True, f"{profile_name} base shipped at {where}")
    note = (shipped.mismatch(cache.shipped, profile.name, "base", profile.stage_settings("base"))
            if cache.shipped else None)
    if note and cache.find("base", key) is None:
        return Check("base model", False, note, fatal=False)
    try:
        found = cache.find("base", key)
    except CacheError as err:
        return Check("base model", False, str(err))
    if found is None:
        flag = "" if profile_name == "tiny" else f" --profile {profile_name}"
        make = "" if profile_name == "tiny" else f"PROFILE={profile_name} "
        where = cache.path("base", profile.stage_hash("base"))
        why = (f"was made by another dreampose version (stale: {where})" if (where / "manifest.json").is_file()
               else f"is not in the cache {cache.root}")
        return Check("base model", False, f"the {profile_name} base model {why}; "
                                          f"run `dreampose base{flag}` (or `{make}make reproduce`)", fatal=False)
    return Check("base model", True, f"{profile_name} base at {found.path}")


def check_ffmpeg() -> Check:
    """mp4 output is H.264 through imageio-ffmpeg's ffmpeg (its bundled binary, $IMAGEIO_FFMPEG_EXE or
    one on PATH); .gif always works (Pillow)."""
    import subprocess

    try:
        import imageio_ffmpeg

        exe = imageio_ffmpeg.get_ffmpeg_exe()
        encoders = subprocess.run([exe, "-hide_banner", "-encoders"], capture_output=True, text=True,
                                  timeout=30).stdout
    except Exception as err:  # ImportError, RuntimeError (no binary), OSError (cannot run it), timeout
        return Check("ffmpeg", False, f"not available ({type(err).__name__}: {err}); .mp4 output needs it: "
                                      "`pip install imageio-ffmpeg` (or write .gif)", fatal=False)
    if "libx264" not in encoders:
        return Check("ffmpeg", False, f"{exe} has no libx264 encoder, so .mp4 output fails; "
                                      "`pip install -U imageio-ffmpeg` (bundles one) or write .gif", fatal=False)
    return Check("ffmpeg", True, f"{exe} with libx264 (.mp4 output)")


def check_offline() -> Check:
    unset = [k for k in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE") if os.environ.get(k) not in ("1", "true", "True")]
    if unset:
        return Check("offline", False, f"{', '.join(unset)} not set; without network set them to 1 "
                                       "(the Makefile does) so nothing waits on the hub", fatal=False)
    return Check("offline", True, "HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1")


CHECKS = (check_python, check_torch, check_no_torchvision, check_threads, check_cache, check_base_model,
          check_ffmpeg, check_offline)


def run_checks(profile_name: str = "tiny", out=None) -> int:
    """Run every check, print one line each; returns 1 if any real problem was found, else 0."""
    out = out or sys.stdout
    results = []
    for check in CHECKS:
        try:
            result = check(profile_name) if check is check_base_model else check()
        except Exception as err:  # a check must never crash the doctor
            result = Check(check.__name__.removeprefix("check_"), False, f"check failed: {type(err).__name__}: {err}")
        results.append(result)
        print(result.line(), file=out, flush=True)
    bad = [r for r in results if not r.ok and r.fatal]
    print(f"{len(bad)} problem(s) to fix" if bad else "all good", file=out)
    return 1 if bad else 0
