"""Artifact cache: one folder per (stage, settings hash), written atomically.

Layout under the cache root (``.cache/dreampose`` in the project, or ``$DREAMPOSE_CACHE``)::

    <stage>/<hash>/            a finished artifact, with manifest.json written last
    <stage>/<hash>.partial/    work in progress: checkpoints live here, so an interrupted
                               stage resumes; renamed to <hash>/ in one step when done

A reader never sees a half-written artifact: the final folder appears by ``os.rename``
only after the builder returned and the manifest was written.

Under ``accelerate launch`` (several processes) only *collective* stages (the finetuning
stages, which all ranks train together) are built; every other artifact must already exist,
so that no rank trains something alone while the others wait.
"""
from __future__ import annotations

import errno
import json
import os
import shutil
import time
import warnings
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable

from . import __version__
from .files import write_json_atomic
from .provenance import machine_line

MANIFEST = "manifest.json"
# Refuse to start an artifact with less free space than this in the cache (bytes; override with
# $DREAMPOSE_MIN_FREE_MB). A full disk during the build is caught too (ENOSPC -> CacheError).
MIN_FREE_BYTES = 256 * 2**20


class CacheError(RuntimeError):
    """The cache folder cannot be used (not writable, or an artifact is damaged)."""


def project_root() -> Path:
    return Path(__file__).resolve().parent.parent


def default_root() -> Path:
    env = os.environ.get("DREAMPOSE_CACHE")
    return Path(env).expanduser() if env else project_root() / ".cache" / "dreampose"


def from_scratch() -> bool:
    """True when shipped weights are not to be used ($DREAMPOSE_FROM_SCRATCH=1)."""
    return os.environ.get("DREAMPOSE_FROM_SCRATCH", "") == "1"


@dataclass
class Artifact:
    stage: str
    key: str
    path: Path
    manifest: dict[str, Any]
    loaded: bool  # True if it came from the cache, False if built by this call


def is_main_process() -> bool:
    """False on the non-zero ranks of a multi-process (accelerate/torchrun) run."""
    return int(os.environ.get("RANK", "0")) == 0


def world_size() -> int:
    """Processes of this run: WORLD_SIZE, set by accelerate launch and torchrun (1 otherwise)."""
    return int(os.environ.get("WORLD_SIZE", "1"))


def is_distributed() -> bool:
    """True inside a multi-process (accelerate/torchrun) run."""
    return world_size() > 1


def _wait_for_everyone() -> None:
    from accelerate import PartialState

    PartialState().wait_for_everyone()


def _check_settings(found: Artifact, settings: dict[str, Any] | None) -> Artifact:
    """``found`` if it was built with ``settings``; CacheError naming the differing keys otherwise."""
    stored = found.manifest.get("settings")
    wanted = json.loads(json.dumps(settings or {}, sort_keys=True, default=str))
    if settings and stored and stored != wanted:
        diff = sorted(k for k in set(stored) | set(wanted) if stored.get(k) != wanted.get(k))
        raise CacheError(f"the {found.stage!r} artifact {found.path} was built with other settings than its key "
                         f"says (differs in: {', '.join(diff)}); delete {found.path} to rebuild it")
    return found


class Cache:
    """The artifact cache at ``root``. The stages a profile ships (``dreampose.shipped``) come from
    the folder ``shipped`` when their key matches, and are trained into ``root`` when it does not
    (``shipped.report`` says which, and why, at the start of a reproduction and a notebook).
    ``shipped`` defaults to the repository's ``weights/``, or to none when
    ``$DREAMPOSE_FROM_SCRATCH`` is 1 (``dreampose reproduce --from-scratch``); False: none."""

    def __init__(self, root: str | Path | None = None, shipped: str | Path | bool | None = None):
        self.root = Path(root) if root is not None else default_root()
        if shipped is None:
            shipped = not from_scratch()
        if shipped is True:
            from .shipped import ROOT as shipped
        self.shipped = Path(shipped) if shipped else None

    def path(self, stage: str, key: str) -> Path:
        return self.root / stage / key

    def _read_manifest(self, path: Path) -> dict | None:
        manifest = path / MANIFEST
        if not manifest.is_file():
            return None
        try:
            return json.loads(manifest.read_text())
        except json.JSONDecodeError as err:
            raise CacheError(f"damaged manifest {manifest} ({err}); delete {path} to rebuild it") from None

    def find(self, stage: str, key: str) -> Artifact | None:
        """A finished artifact made by this package version, or None.

        Policy for an artifact of another ``dreampose`` version: it is *stale* and rebuilt. The key
        hashes the settings, not the code, so only the version tells that the code that made it may
        differ; a reproduction must not mix results of two versions. ``get_or_build`` warns, builds
        the new one beside it and swaps it in only when complete (a crash keeps the old one).
        """
        path = self.path(stage, key)
        data = self._read_manifest(path)
        if data is None or data.get("package_version", __version__) != __version__:
            return None
        return Artifact(stage, key, path, data, loaded=True)

    def check_free_space(self, stage: str) -> None:
        """CacheError if the cache's disk has less than MIN_FREE_BYTES (or $DREAMPOSE_MIN_FREE_MB) free."""
        need = int(float(os.environ.get("DREAMPOSE_MIN_FREE_MB", MIN_FREE_BYTES / 2**20)) * 2**20)
        probe = self.root
        while not probe.exists() and probe != probe.parent:
            probe = probe.parent
        free = shutil.disk_usage(probe).free
        if free < need:
            raise CacheError(f"only {free / 2**20:.0f} MB free at {self.root}, the {stage!r} artifact needs at least "
                             f"{need / 2**20:.0f} MB; free some space or set DREAMPOSE_CACHE to a larger disk")

    def get_or_build(
        self,
        stage: str,
        key: str,
        build: Callable[[Path], dict[str, Any] | None],
        settings: dict[str, Any] | None = None,
        collective: bool = False,
    ) -> Artifact:
        """Return the artifact (stage, key), building it with ``build(work_dir)`` if missing.

        ``build`` writes its files into ``work_dir`` (which may hold checkpoints of an
        earlier interrupted attempt) and may return extra manifest fields. A ``collective``
        build runs on every rank of a multi-process run and rank 0 finalises it.
        """
        found = self.find(stage, key)
        if found is not None:
            return _check_settings(found, settings)
        if is_distributed() and not collective:
            raise CacheError(
                f"the {stage!r} artifact is not in the cache {self.root}; under `accelerate launch` only "
                f"the finetuning stages run, so build it first in one process: "
                f"`dreampose {stage}` with the same --profile and --set options"
            )
        final = self.path(stage, key)
        work = final.with_name(final.name + ".partial")
        stale = self._read_manifest(final)
        if stale is not None:
            warnings.warn(f"the {stage!r} artifact {final} was made by dreampose {stale.get('package_version')}, this "
                          f"is {__version__}: rebuilding it (the old one is replaced once the new one is complete)",
                          stacklevel=3)
        done = self._read_manifest(work) if work.is_dir() and not is_distributed() else None
        if done is not None and done.get("package_version") == __version__ and done.get("key") == key:
            # built completely, then killed before the rename: finish the commit instead of rebuilding
            return Artifact(stage, key, final, done, loaded=True) if self._commit(work, final) else \
                self.find(stage, key)  # type: ignore[return-value]
        start = time.perf_counter()
        extra = self._build(stage, build, work)
        if not is_main_process():  # other ranks of `accelerate launch` train; rank 0 finalises
            _wait_for_everyone()
            return self.find(stage, key)  # type: ignore[return-value]
        manifest = {
            "stage": stage,
            "key": key,
            "settings": settings or {},
            "package_version": __version__,
            "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            "wall_time_s": round(time.perf_counter() - start, 3),
            "machine": machine_line(),
            **extra,
        }
        write_json_atomic(work / MANIFEST, manifest)
        found = Artifact(stage, key, final, manifest, loaded=False) if self._commit(work, final) else \
            self.find(stage, key)
        if is_distributed():
            _wait_for_everyone()  # the other ranks read the artifact only once it is final
        return found  # type: ignore[return-value]

    def _build(self, stage: str, build: Callable[[Path], dict[str, Any] | None], work: Path) -> dict[str, Any]:
        """``build(work)`` in a writable work folder with enough free space; its manifest fields."""
        try:
            work.mkdir(parents=True, exist_ok=True)
        except OSError as err:
            raise CacheError(
                f"cannot write the cache at {self.root} ({err.strerror}); "
                "set DREAMPOSE_CACHE to a writable folder"
            ) from None
        self.check_free_space(stage)
        try:
            return build(work) or {}
        except OSError as err:
            if err.errno != errno.ENOSPC:
                raise
            raise CacheError(f"the disk is full (no space left on device) while building the {stage!r} artifact in "
                             f"{work}; free some space or set DREAMPOSE_CACHE to a larger disk, then rerun: "
                             "finished checkpoints are kept and the stage resumes") from None

    @staticmethod
    def _commit(work: Path, final: Path) -> bool:
        """Rename the finished ``work`` folder to ``final``; True if this call put it there.

        A stale ``final`` (another package version) is moved aside first and removed after.
        False if another process finished the same artifact first (``work`` is dropped).
        """
        old = final.with_name(final.name + ".stale")
        try:
            os.rename(work, final)
            return True
        except OSError:
            if not final.exists():
                raise
            try:
                data = json.loads((final / MANIFEST).read_text())
            except (OSError, ValueError):
                raise CacheError(f"cannot finish the artifact {final}: the folder exists without a manifest; "
                                 f"delete {final} and rerun") from None
            if data.get("package_version") == __version__:  # lost a race: the winner's copy stays
                shutil.rmtree(work, ignore_errors=True)
                return False
            shutil.rmtree(old, ignore_errors=True)
            os.rename(final, old)
            os.rename(work, final)
            shutil.rmtree(old, ignore_errors=True)
            return True

    def artifact(self, profile, stage: str, build: Callable[[Path], dict | None], *,
                 collective: bool = False, **extra: Any) -> Artifact:
        """``get_or_build`` keyed by the profile's hash for ``stage`` (plus ``extra``); a shipped
        artifact with that key is used in place."""
        key = profile.stage_hash(stage, **extra)
        settings = {**profile.stage_settings(stage), **extra}
        found = self.shipped_artifact(profile, stage, key)
        if found is not None:
            return _check_settings(found, settings)
        return self.get_or_build(stage, key, build, settings=settings, collective=collective)

    def shipped_artifact(self, profile, stage: str, key: str) -> Artifact | None:
        """The shipped artifact (stage, key) of ``profile``, or None (none shipped, or not used)."""
        if self.shipped is None:
            return None
        from . import shipped

        return shipped.find(self.shipped, profile.name, stage, key) if stage in shipped.STAGES else None

    def lookup(self, profile, stage: str, **extra: Any) -> Artifact | None:
        """What ``artifact`` would return without building: shipped, cached, or None."""
        key = profile.stage_hash(stage, **extra)
        return self.shipped_artifact(profile, stage, key) or self.find(stage, key)
