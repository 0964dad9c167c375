import argparse

import imageio.v2 as imageio
import numpy as np
import pytest
from PIL import Image

from dreampose import stages
from dreampose.animate import ModelNotFoundError, animate_person, person, resolve_model_dir
from dreampose.animate_cli import add_arguments, run
from dreampose.config import load_profile
from dreampose.data.fit import fit_box, fit_frame, fit_iuv
from dreampose.evaluate.protocol import protocol_subject
from dreampose.train import finetune
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
    paths = run(parse("--image", str(inputs / "person.png"), "--poses", str(inputs / "poses"), "--out", str(out),
                      "--model", str(inputs / "model"), "--steps", "2", "--profile", "smoke", "--seed", "1"))
    assert paths == [out] and out.is_file()
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


def test_model_folder_is_a_saved_pipeline_or_an_artifact_holding_one(inputs, tmp_path):
    assert resolve_model_dir(inputs / "model") == inputs / "model"
    (tmp_path / "art").mkdir()
    (inputs / "model").rename(tmp_path / "art" / "pipeline")
    try:
        assert resolve_model_dir(tmp_path / "art") == tmp_path / "art" / "pipeline"
    finally:
        (tmp_path / "art" / "pipeline").rename(inputs / "model")
    with pytest.raises(ModelNotFoundError, match="not a saved DreamPose pipeline"):
        resolve_model_dir(tmp_path)


# -- the paper's procedure for a new person, on the smoke profile -----------------------------------
W, H, N = 300, 500, 8  # a portrait photo's shape, not the model's square 32x32


def body(t: int) -> np.ndarray:
    """IUV of a 'person' at step t of a walk, at the photo's size."""
    iuv = np.zeros((H, W, 3), np.uint8)
    iuv[120:460, 90 + 6 * t:200 + 6 * t] = (2, 60 + 15 * t, 140)
    iuv[50:120, 120 + 6 * t:170 + 6 * t] = (23, 130, 70 + 10 * t)
    return iuv


@pytest.fixture(scope="module")
def photo(tmp_path_factory):
    """A photograph-like picture from outside the synthetic world (smooth colour noise), its
    DensePose IUV, and a driving pose folder, all at 300x500."""
    root = tmp_path_factory.mktemp("photo")
    noise = np.random.default_rng(1).uniform(0, 255, (5, 3, 3)).astype(np.uint8)
    Image.fromarray(noise).resize((W, H), Image.BICUBIC).save(root / "photo.png")
    Image.fromarray(body(0)).save(root / "photo_pose.png")
    (root / "poses").mkdir()
    for t in range(N):
        Image.fromarray(body(t)).save(root / "poses" / f"{t:05d}.png")
    return root


def animate_cli(photo, *extra):
    return run(parse("--image", str(photo / "photo.png"), "--image-poses", str(photo / "photo_pose.png"),
                     "--poses", str(photo / "poses"), "--profile", "smoke", *extra))


def test_animate_finetunes_on_the_given_person_then_only_samples(photo, monkeypatch, capsys):
    seen = []
    real = finetune.train_subject

    def spy(profile, pipe, who, work, progress=True):
        seen.append(who)
        return real(profile, pipe, who, work, progress)

    monkeypatch.setattr(finetune, "train_subject", spy)
    outs = animate_cli(photo, "--out", str(photo / "a.mp4"), "--out", str(photo / "a.gif"), "--side-by-side")
    printed = capsys.readouterr().out
    assert "subject finetuning of UNet + adapter (random crops on): 3 steps" in printed
    assert "VAE decoder finetuning: 3 steps" in printed
    box = fit_box((H, W), (32, 32), "pad", "photo")
    (who,) = seen  # the subject stage saw exactly the given image and its pose, fitted to 32x32
    assert np.array_equal(who.images, fit_frame(np.asarray(Image.open(photo / "photo.png")), box, (32, 32))[None])
    assert np.array_equal(who.pose_windows, np.stack([fit_iuv(body(0), box, (32, 32))] * 5)[None])
    clip = [np.asarray(f) for f in imageio.get_reader(outs[0], format="FFMPEG")]
    assert len(clip) == N and clip[0].shape == (32, 3 * 32 + 4, 3)  # pose | input | output
    assert len(imageio.mimread(outs[1])) >= 1

    def no_training(*a, **k):
        pytest.fail("a second animation of the same person trained again")

    for name in ("train_stage1", "train_subject", "train_decoder"):
        monkeypatch.setattr(finetune, name, no_training)
    (photo / "other").mkdir()
    for t in range(3):  # other poses: only sampling
        Image.fromarray(body(N - 1 - t)).save(photo / "other" / f"{t:05d}.png")
    outs = run(parse("--image", str(photo / "photo.png"), "--image-poses", str(photo / "photo_pose.png"),
                     "--poses", str(photo / "other"), "--profile", "smoke", "--out", str(photo / "b.gif")))
    assert "subject finetuning of UNet + adapter (random crops on): cached" in capsys.readouterr().out
    assert outs[0].is_file()


def test_finetuning_changes_the_frames_and_a_subset_of_frames_equals_the_full_render(photo):
    kw = dict(images=str(photo / "photo.png"), poses=str(photo / "poses"), profile="smoke", progress=False)
    full = animate_person(**kw, image_poses=[str(photo / "photo_pose.png")], seed=3)
    assert full.shape == (N, 32, 32, 3) and full.dtype == np.uint8
    part = animate_person(**kw, image_poses=[str(photo / "photo_pose.png")], seed=3, frames=[5, 1])
    assert np.array_equal(part, full[[5, 1]])
    stage1_only = animate_person(**kw, finetune=False, seed=3)
    assert not np.array_equal(stage1_only, full)


def test_a_test_video_frame_as_the_person_is_the_evaluation_subject():
    """animate_person on a frame of a test video, with its pose index, finetunes exactly the
    subject the evaluation protocol finetunes (the same cached artifact)."""
    profile = load_profile("smoke")
    video = stages.data(stages.Run(profile, progress=False)).test[0]
    evaluated = protocol_subject(profile, video)
    images = [video.frames[i] for i in evaluated.frames]
    mine = person(images, profile, list(evaluated.frames), video.iuv, quiet=True)
    assert mine.key == evaluated.key


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


@pytest.mark.parametrize("mode, arr, warning", [
    ("RGBA", np.dstack([np.full((50, 30, 3), 200, np.uint8), np.full((50, 30), 128, np.uint8)]), "transparency"),
    ("L", np.full((50, 30), 77, np.uint8), "grayscale"),
    (None, np.full((50, 30), 40000, np.uint16), "16-bit"),
])
def test_pictures_a_user_has_are_converted_and_fitted(tmp_path, mode, arr, warning):
    from dreampose.animate import fit_pictures

    (Image.fromarray(arr, mode) if mode else Image.fromarray(arr)).save(tmp_path / "me.png")
    with pytest.warns(UserWarning, match=warning):
        pictures, sources = fit_pictures([tmp_path / "me.png"], load_profile("smoke"), quiet=True)
    assert pictures.shape == (1, 32, 32, 3) and pictures.dtype == np.uint8 and sources == [(50, 30)]
