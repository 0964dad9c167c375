"""`dreampose doctor`: one OK/FIX/NOTE line per check, non-zero exit only on real problems."""
import io
import os

import pytest

from dreampose import doctor
from dreampose.cli import main


def run(monkeypatch, **patches) -> tuple[int, str]:
    for name, value in patches.items():
        monkeypatch.setattr(doctor, name, value)
    out = io.StringIO()
    code = doctor.run_checks("tiny", out=out)
    return code, out.getvalue()


def fake(name, ok, message="x", fatal=True):
    return lambda *a: doctor.Check(name, ok, message, fatal)


def test_every_check_prints_one_line(monkeypatch, tmp_path):
    monkeypatch.setenv("DREAMPOSE_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("DREAMPOSE_FROM_SCRATCH", "1")  # not the shipped base (next test)
    code, text = run(monkeypatch)
    lines = text.strip().splitlines()
    assert len(lines) == len(doctor.CHECKS) + 1
    assert all(line[:4] in ("OK  ", "FIX ", "NOTE") for line in lines[:-1])
    # the private cache holds no base model yet: a NOTE with the command that builds it, exit 0
    assert "NOTE" in text and "run `dreampose base`" in text and code == 0
    assert not (tmp_path / "cache" / "base").exists()  # looked up, never built


def test_the_shipped_tiny_base_counts_as_found(monkeypatch, tmp_path):
    from dreampose.cache import Cache
    from dreampose.config import load_profile

    monkeypatch.setenv("DREAMPOSE_CACHE", str(tmp_path / "cache"))
    profile = load_profile("tiny")
    shipped = Cache().lookup(profile, "base")
    check = doctor.check_base_model("tiny")
    if shipped is None:  # the settings no longer match the shipped base: the note names the difference
        assert not check.ok and "differs in" in check.message
    else:
        assert check.ok and str(shipped.path) in check.message
    assert not (tmp_path / "cache" / "base").exists()


def test_clean_environment_exits_zero(monkeypatch):
    base_ok = lambda *a: doctor.Check("base model", True, "found")  # noqa: E731
    monkeypatch.setattr(doctor, "CHECKS", tuple(base_ok if c is doctor.check_base_model else c for c in doctor.CHECKS))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("TRANSFORMERS_OFFLINE", "1")
    code, text = run(monkeypatch)
    assert code == 0 and text.strip().endswith("all good"), text


def test_wrong_torch_and_torchvision_are_fixes(monkeypatch):
    versions = {"torch": "2.1.0", "torchvision": "0.16.0"}
    monkeypatch.setattr(doctor, "_version", lambda d: versions.get(d))
    assert not doctor.check_torch().ok and "2.13.0" in doctor.check_torch().message
    tv = doctor.check_no_torchvision()
    assert not tv.ok and tv.fatal and "pip uninstall -y torchvision" in tv.message
    monkeypatch.setattr(doctor, "_version", lambda d: None)
    assert "not installed" in doctor.check_torch().message


def test_unwritable_cache_is_a_fix(monkeypatch, tmp_path):
    if os.geteuid() == 0:
        blocker = tmp_path / "file"
        blocker.write_text("not a folder")
        monkeypatch.setenv("DREAMPOSE_CACHE", str(blocker / "cache"))  # a path under a file: never writable
    else:
        ro = tmp_path / "ro"
        ro.mkdir()
        ro.chmod(0o500)
        monkeypatch.setenv("DREAMPOSE_CACHE", str(ro / "cache"))
    result = doctor.check_cache()
    assert not result.ok and result.fatal and "DREAMPOSE_CACHE" in result.message


def test_threads_ffmpeg_offline_are_notes(monkeypatch):
    import torch

    monkeypatch.setattr(torch, "get_num_threads", lambda: 64)
    monkeypatch.setattr(os, "cpu_count", lambda: 2)
    threads = doctor.check_threads()
    assert not threads.ok and not threads.fatal and "OMP_NUM_THREADS=2" in threads.message
    import imageio_ffmpeg

    def no_ffmpeg():
        raise RuntimeError("no ffmpeg exe could be found")

    monkeypatch.setattr(imageio_ffmpeg, "get_ffmpeg_exe", no_ffmpeg)
    ff = doctor.check_ffmpeg()
    assert not ff.ok and not ff.fatal and ".gif" in ff.message
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    assert not doctor.check_offline().ok
    code, text = run(monkeypatch, CHECKS=(doctor.check_threads, doctor.check_ffmpeg, doctor.check_offline))
    assert code == 0 and text.count("NOTE") == 3


def test_a_crashing_check_is_reported_not_raised(monkeypatch):
    def boom():
        raise KeyError("oops")

    code, text = run(monkeypatch, CHECKS=(boom,))
    assert code == 1 and "check failed: KeyError" in text


def test_cli_exit_code(monkeypatch, capsys):
    monkeypatch.setattr(doctor, "CHECKS", (fake("torch", True),))
    assert main(["doctor"]) == 0
    monkeypatch.setattr(doctor, "CHECKS", (fake("torch", False, "wrong version"),))
    with pytest.raises(SystemExit) as err:
        main(["doctor"])
    assert err.value.code == 1
    assert "FIX  torch: wrong version" in capsys.readouterr().out


def test_base_model_found_missing_or_stale(monkeypatch, tmp_path):
    """Looked up by the profile's stage hash, never built: OK, missing, or made by another version."""
    import json

    from dreampose import __version__
    from dreampose.config import load_profile

    monkeypatch.setenv("DREAMPOSE_CACHE", str(tmp_path))
    assert "run `dreampose base --profile smoke`" in doctor.check_base_model("smoke").message
    folder = tmp_path / "base" / load_profile("smoke").stage_hash("base")
    folder.mkdir(parents=True)
    (folder / "manifest.json").write_text(json.dumps({"package_version": __version__}))
    found = doctor.check_base_model("smoke")
    assert found.ok and str(folder) in found.message
    (folder / "manifest.json").write_text(json.dumps({"package_version": "0.0.1"}))
    stale = doctor.check_base_model("smoke")
    assert not stale.ok and "another dreampose version" in stale.message and "dreampose base" in stale.message
    assert doctor.check_base_model("paper").ok  # the paper profile loads SD from the hub: nothing to build


def test_ffmpeg_without_libx264_is_a_note(monkeypatch):
    import subprocess

    monkeypatch.setattr(subprocess, "run", lambda *a, **k: subprocess.CompletedProcess(a, 0, "V..... gif\n", ""))
    ff = doctor.check_ffmpeg()
    assert not ff.ok and not ff.fatal and "libx264" in ff.message and ".gif" in ff.message
