import argparse
import json
import os

import imageio.v2 as imageio
import numpy as np
import pytest
from PIL import Image

from dreampose.animate import ModelNotFoundError, add_arguments, default_model_dir, resolve_model_dir, run
from dreampose.cache import Cache
from dreampose.config import load_profile
from dreampose.data.pose import read_pose_sequence
from dreampose.data.video import DataError
from dreampose.video_io import write_video

from dummies import dummy_pipeline


def iuv_frames(n=3, size=32):
    """A moving rectangle 'person': part 2, U/V ramps."""
    iuv = np.zeros((n, size, size, 3), np.uint8)
    for t in range(n):
        iuv[t, 6:26, t % 12:t % 12 + 12] = (2, (40 + 60 * t) % 256, (200 - 50 * t) % 256)
    return iuv


@pytest.fixture(scope="module")
def inputs(tmp_path_factory):
    root = tmp_path_factory.mktemp("animate")
    dummy_pipeline().save_pretrained(root / "model")
    poses = root / "poses"
    poses.mkdir()
    for t, frame in enumerate(iuv_frames(3)):
        Image.fromarray(frame).save(poses / f"frame_{t}.png")
    rng = np.random.default_rng(0)
    Image.fromarray(rng.integers(0, 255, (32, 32, 3), dtype=np.uint8)).save(root / "person.png")
    return root


def parse(*argv):
    parser = argparse.ArgumentParser()
    add_arguments(parser)
    return parser.parse_args(list(argv))


@pytest.mark.parametrize("suffix", [".gif", ".mp4"])
def test_animate_end_to_end(inputs, suffix, capsys):
    out = inputs / f"out{suffix}"
    path = run(parse("--image", str(inputs / "person.png"), "--poses", str(inputs / "poses"), "--out", str(out),
                     "--model", str(inputs / "model"), "--steps", "2", "--profile", "smoke", "--seed", "1"))
    assert path == out and out.is_file()
    frames = imageio.mimread(out) if suffix == ".gif" else [f for f in imageio.get_reader(out, format="FFMPEG")]
    assert len(frames) == 3 and np.asarray(frames[0]).shape[:2] == (32, 32)
    assert str(out.resolve()) in capsys.readouterr().out
    assert sorted(p.name for p in inputs.iterdir() if p.name.startswith(".")) == []  # no temporary files left


@pytest.mark.parametrize("extra, message", [
    (["--out", "out.avi"], ".mp4 or .gif"),
    (["--out", "out.gif", "--image-guidance", "nan"], "finite"),
    (["--out", "out.gif", "--poses", "missing"], "does not exist"),
])
def test_bad_arguments_fail_before_loading_the_model(inputs, extra, message, tmp_path):
    argv = ["--image", str(inputs / "person.png"), "--poses", str(inputs / "poses"), "--profile", "smoke",
            "--model", str(tmp_path / "no-model-here")] + extra
    if "--out" in extra:
        argv[argv.index("--out", len(argv) - len(extra)) + 1] = str(tmp_path / extra[1])
    with pytest.raises(ValueError, match=message):
        run(parse(*argv))


def _artifact(cache, profile, stage, mtime, **extra):
    folder = cache.path(stage, profile.stage_hash(stage, **extra))
    (folder / "pipeline").mkdir(parents=True)
    (folder / "pipeline" / "model_index.json").write_text("{}")
    (folder / "manifest.json").write_text(json.dumps({"settings": {**profile.stage_settings(stage), **extra}}))
    os.utime(folder / "manifest.json", (mtime, mtime))
    return folder


def test_default_model_is_the_newest_finished_artifact_of_the_profile(tmp_path):
    cache, smoke = Cache(tmp_path), load_profile("smoke")
    with pytest.raises(ModelNotFoundError, match="make reproduce.*--model"):
        default_model_dir(smoke, cache)
    _artifact(cache, smoke, "stage1", 1000)
    newest = _artifact(cache, smoke, "subject", 2000, video="test_000", input_index=0)
    _artifact(cache, load_profile("tiny"), "decoder", 3000, video="test_000", input_index=0)  # other profile
    unfinished = cache.path("decoder", "0123456789ab.partial")
    (unfinished / "pipeline").mkdir(parents=True)
    (unfinished / "pipeline" / "model_index.json").write_text("{}")
    assert default_model_dir(smoke, cache) == newest / "pipeline"
    assert resolve_model_dir(newest) == newest / "pipeline"
    with pytest.raises(ModelNotFoundError, match="not a saved DreamPose pipeline"):
        resolve_model_dir(tmp_path)


def test_write_video_errors_and_atomicity(tmp_path):
    frames = [Image.new("RGB", (16, 16), (t * 40, 0, 0)) for t in range(4)]
    with pytest.raises(DataError, match=".mp4 or .gif"):
        write_video(frames, tmp_path / "a.avi")
    with pytest.raises(DataError, match="does not exist"):
        write_video(frames, tmp_path / "missing" / "a.gif")
    with pytest.raises(DataError, match="empty"):
        write_video([], tmp_path / "a.gif")
    with pytest.raises(DataError, match="uint8"):
        write_video(np.zeros((2, 8, 8, 3), np.float32), tmp_path / "a.gif")
    write_video(np.stack([np.asarray(f) for f in frames]), tmp_path / "a.gif", fps=10)
    back = imageio.mimread(tmp_path / "a.gif")
    assert len(back) == 4 and np.asarray(back[2])[0, 0, 0] == 80
    with pytest.warns(UserWarning, match="even size"):
        write_video(np.zeros((2, 15, 17, 3), np.uint8), tmp_path / "odd.mp4")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.gif", "odd.mp4"]


def test_read_pose_sequence_formats(tmp_path):
    iuv = iuv_frames(12)
    folder = tmp_path / "dir"
    folder.mkdir()
    for t, frame in enumerate(iuv):
        Image.fromarray(frame).save(folder / f"f{t}.png")  # f10 must come after f9
    assert np.array_equal(read_pose_sequence(folder), iuv)
    np.save(tmp_path / "iuv.npy", iuv)
    assert np.array_equal(read_pose_sequence(tmp_path / "iuv.npy"), iuv)
    uv = np.random.default_rng(0).uniform(-1, 1, (5, 2, 8, 8))
    np.savez(tmp_path / "poses.npz", uv=uv, other=np.zeros(3))
    out = read_pose_sequence(tmp_path / "poses.npz")
    assert out.dtype == np.float32 and np.allclose(out, uv)
    assert np.array_equal(read_pose_sequence(folder / "f3.png"), iuv[3:4])


def test_read_pose_sequence_errors(tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(DataError, match="no png"):
        read_pose_sequence(empty)
    photo = tmp_path / "photo"
    photo.mkdir()
    Image.fromarray(np.full((8, 8, 3), 200, np.uint8)).save(photo / "0.png")
    with pytest.raises(DataError, match="plain pictures"):
        read_pose_sequence(photo)
    rgba = tmp_path / "rgba"
    rgba.mkdir()
    Image.fromarray(np.zeros((8, 8, 4), np.uint8)).save(rgba / "0.png")
    with pytest.raises(DataError, match="mode RGBA"):
        read_pose_sequence(rgba)
    np.save(tmp_path / "bad.npy", np.zeros((2, 3, 8, 8), np.float32))
    with pytest.raises(DataError, match=r"\(T, 2, H, W\)"):
        read_pose_sequence(tmp_path / "bad.npy")
    np.save(tmp_path / "range.npy", np.full((2, 2, 8, 8), 5.0))
    with pytest.raises(DataError, match=r"\[-1, 1\]"):
        read_pose_sequence(tmp_path / "range.npy")
    with pytest.raises(DataError, match="does not exist"):
        read_pose_sequence(tmp_path / "nothing")
