"""Every bad input of the README's table ("Bad input and what you are told"), one row each: it fails
early with an error (or, where the input can be converted, a warning) that names the problem and
the fix, never a deep torch trace.

A row is ``(id, trigger, expected, pattern)``: ``trigger(tmp_path, monkeypatch)`` feeds the bad
input; ``expected`` is the exception (or Warning subclass) and ``pattern`` a regex its message must
match. The ids are the last column of the README's table.
"""
import functools
import json
import math
import warnings

import numpy as np
import pytest
import torch
from PIL import Image

from dreampose.cache import Cache, CacheError
from dreampose.config import ConfigError, load_profile
from dreampose.data.images import as_image_batch, load_image
from dreampose.data.pose import as_pose_windows, read_pose_sequence
from dreampose.data.video import DataError
from dreampose.guidance import check_scale
from dreampose.models.base import PARTS, BaseModelError, load_base_from
from dreampose.video_io import write_video

ROWS = []


def row(id_, expected, pattern):
    def register(fn):
        ROWS.append(pytest.param(fn, expected, pattern, id=id_))
        return fn
    return register


def png(path, arr, mode=None):
    Image.fromarray(arr, mode).save(path) if mode else Image.fromarray(arr).save(path)
    return path


RGB = np.random.default_rng(0).integers(0, 256, (16, 16, 3), dtype=np.uint8)


# -- images -------------------------------------------------------------------------------------
@row("image-missing", DataError, r"nope\.png does not exist; check the path")
def _(tmp, mp):
    load_image(tmp / "nope.png")


@row("image-unreadable", DataError, r"cannot read image .*not-an-image\.png .*complete PNG/JPEG")
def _(tmp, mp):
    (tmp / "not-an-image.png").write_text("hello")
    load_image(tmp / "not-an-image.png")


@row("image-truncated", DataError, r"cannot read image .*cut\.png .*complete PNG/JPEG")
def _(tmp, mp):
    data = png(tmp / "full.png", RGB).read_bytes()
    (tmp / "cut.png").write_bytes(data[: len(data) // 2])
    load_image(tmp / "cut.png")


@row("image-grayscale", UserWarning, r"grayscale image converted to RGB")
def _(tmp, mp):
    assert load_image(png(tmp / "g.png", RGB[..., 0])).shape == (3, 16, 16)


@row("image-rgba", UserWarning, r"transparency flattened onto a white background")
def _(tmp, mp):
    assert load_image(png(tmp / "a.png", np.dstack([RGB, RGB[..., :1]]))).shape == (3, 16, 16)


@row("image-16bit", UserWarning, r"16-bit image converted to 8 bits")
def _(tmp, mp):
    Image.fromarray(RGB[..., 0].astype(np.uint16) * 257).save(tmp / "16.png")
    assert load_image(tmp / "16.png").shape == (3, 16, 16)


@row("image-float-array", DataError, r"must be uint8 \(0\.\.255\).*astype\(np\.uint8\)")
def _(tmp, mp):
    load_image(RGB.astype(np.float32) / 255)


@row("image-tensor-range", DataError, r"must lie in \[-1, 1\]; convert with x \* 2 - 1")
def _(tmp, mp):
    as_image_batch(torch.rand(3, 16, 16) * 255, (16, 16))


@row("image-empty", DataError, r"the image has no pixels \(0x0\); give a picture of the person")
def _(tmp, mp):
    load_image(np.zeros((0, 0, 3), np.uint8), size=(16, 16))


# -- poses --------------------------------------------------------------------------------------
@row("pose-dir-empty", DataError, r"holds no png files; put one DensePose IUV png per frame")
def _(tmp, mp):
    (tmp / "poses").mkdir()
    read_pose_sequence(tmp / "poses")


@row("pose-dir-jpg", DataError, r"found a\.jpg; IUV must be lossless png")
def _(tmp, mp):
    (tmp / "poses").mkdir()
    Image.fromarray(RGB).save(tmp / "poses" / "a.jpg")
    read_pose_sequence(tmp / "poses")


@row("pose-channels", DataError, r"must have shape \(T, 2, H, W\)")
def _(tmp, mp):
    as_pose_windows(torch.zeros(2, 3, 8, 8), (8, 8), 5)


@row("pose-iuv-channels", DataError, r"IUV images \(T, H, W, 3\) uint8")
def _(tmp, mp):
    as_pose_windows(np.zeros((2, 8, 8, 4), np.uint8), (8, 8), 5)


@row("pose-dtype", DataError, r"must be floating point in \[-1, 1\], got torch\.int64")
def _(tmp, mp):
    as_pose_windows(torch.zeros(2, 2, 8, 8, dtype=torch.int64), (8, 8), 5)


@row("pose-range", DataError, r"must lie in \[-1, 1\]")
def _(tmp, mp):
    as_pose_windows(torch.full((2, 2, 8, 8), 3.0), (8, 8), 5)


@row("pose-nan", DataError, r"must lie in \[-1, 1\]")
def _(tmp, mp):
    as_pose_windows(torch.full((2, 2, 8, 8), math.nan), (8, 8), 5)


@row("pose-empty", DataError, r"empty")
def _(tmp, mp):
    as_pose_windows(torch.zeros(0, 2, 8, 8), (8, 8), 5)


@row("pose-no-pixels", DataError, r"pose maps have no pixels \(shape \(2, 2, 0, 0\)\); give \(T, 2, H, W\) with H, W > 0")
def _(tmp, mp):
    as_pose_windows(torch.zeros(2, 2, 0, 0), (8, 8), 5)


@row("pose-is-a-picture", DataError, r"look like plain pictures, not DensePose IUV.*run DensePose")
def _(tmp, mp):
    as_pose_windows(np.full((2, 8, 8, 3), 200, np.uint8), (8, 8), 5)


@row("pose-png-mode", DataError, r"has mode RGBA .*8-bit RGB")
def _(tmp, mp):
    read_pose_sequence(png(tmp / "p.png", np.zeros((8, 8, 4), np.uint8)))


@row("poses-shorter-than-window", UserWarning, r"only 2 poses for a window of 5.*repeats the nearest pose")
def _(tmp, mp):
    assert as_pose_windows(torch.zeros(2, 2, 8, 8), (8, 8), 5).shape == (2, 10, 8, 8)


@row("poses-different-sizes", DataError, r"differ in size.*all frames need one size")
def _(tmp, mp):
    (tmp / "poses").mkdir()
    png(tmp / "poses" / "0.png", np.zeros((8, 8, 3), np.uint8))
    png(tmp / "poses" / "1.png", np.zeros((8, 16, 3), np.uint8))
    read_pose_sequence(tmp / "poses")


@row("subject-images-vs-poses", DataError, r"2 subject images but 1 pose windows: give one pose per image")
def _(tmp, mp):
    from dreampose.data.pairs import SubjectDataset

    SubjectDataset(torch.zeros(2, 3, 8, 8), torch.zeros(1, 10, 2, 2), length=4, seed=0)


def ubc_folder(tmp):
    from test_ubc import box_video, dense_dir  # the UBC layout helpers of tests/test_ubc.py

    from dreampose.data.ubc import write_ubc_video

    video = box_video()
    write_ubc_video(tmp, "test", video)
    return dense_dir(tmp, "test", video)


@row("ubc-frames-vs-poses", DataError, r"clip_a\.mp4 has 9 frames but .* 8 IUV files \(missing .*00008\.png")
def _(tmp, mp):
    from dreampose.data.ubc import read_ubc

    (ubc_folder(tmp) / "00008.png").unlink()
    read_ubc(tmp, "test", 32, 32)


@row("ubc-video-broken", DataError, r"cannot read video .*clip_a\.mp4 .*re-encode it as H\.264 mp4")
def _(tmp, mp):
    from dreampose.data.ubc import read_ubc

    ubc_folder(tmp)
    (tmp / "test" / "clip_a.mp4").write_bytes(b"\x00\x00\x00\x18ftypmp42 but then nothing")
    read_ubc(tmp, "test", 32, 32)


@row("ubc-pose-size", DataError, r"00000\.png is 16x16 but the video .*clip_a\.mp4 is 32x32")
def _(tmp, mp):
    from dreampose.data.ubc import read_ubc

    png(ubc_folder(tmp) / "00000.png", np.zeros((16, 16, 3), np.uint8))
    read_ubc(tmp, "test", 32, 32)


# -- profile settings ---------------------------------------------------------------------------
@row("profile-unknown", ConfigError, r"unknown profile 'tinny'; valid profiles: smoke, tiny, paper")
def _(tmp, mp):
    load_profile("tinny")


@row("profile-file-missing", ConfigError, r"profile file .*mine\.yaml does not exist; check the path")
def _(tmp, mp):
    load_profile(str(tmp / "mine.yaml"))


@row("profile-yaml-broken", ConfigError, r"mine\.yaml is not valid YAML")
def _(tmp, mp):
    (tmp / "mine.yaml").write_text("stage1: {steps: [1,\n")
    load_profile(str(tmp / "mine.yaml"))


@row("profile-yaml-not-mapping", ConfigError, r"mine\.yaml must be a YAML mapping of settings .*got a list; start "
                                              r"from dreampose/profiles/tiny\.yaml")
def _(tmp, mp):
    (tmp / "mine.yaml").write_text("- stage1\n- 3\n")
    load_profile(str(tmp / "mine.yaml"))


@row("profile-unknown-key", ConfigError, r"unknown setting 'stage1.learning_rate'; valid keys here: .*stage1\.lr")
def _(tmp, mp):
    load_profile("smoke", ["stage1.learning_rate=1e-5"])


@row("profile-wrong-type", ConfigError, r"stage1\.steps must be int, got 'many'")
def _(tmp, mp):
    load_profile("smoke", ["stage1.steps=many"])


@row("profile-wrong-literal", ConfigError, r"sample\.scheduler must be one of 'pndm', 'ddim'")
def _(tmp, mp):
    load_profile("smoke", ["sample.scheduler=adam"])


@row("pose-estimate-on-ubc", ConfigError, r"data\.pose_estimate applies to the synthetic world; UBC Fashion's poses "
                                         r"are DensePose estimates already")
def _(tmp, mp):
    load_profile("paper", ["data.pose_estimate=densepose"])


@row("steps-zero", ConfigError, r"stage1\.steps must be > 0, got 0")
def _(tmp, mp):
    load_profile("smoke", ["stage1.steps=0"])


@row("steps-negative", ConfigError, r"subject\.steps must be > 0, got -3")
def _(tmp, mp):
    load_profile("smoke", ["subject.steps=-3"])


@row("lr-negative", ConfigError, r"stage1\.lr must be > 0, got -1e-05")
def _(tmp, mp):
    load_profile("smoke", ["stage1.lr=-1e-5"])


@row("lr-infinite", ConfigError, r"stage1\.lr must be > 0, got inf; set a positive finite number "
                                r"\(--set stage1\.lr=<value>\)")
def _(tmp, mp):
    load_profile("smoke", ["stage1.lr=.inf"])


@row("seed-negative", ConfigError, r"seed must be >= 0 .*got -1")
def _(tmp, mp):
    load_profile("smoke", ["seed=-1"])


@row("size-not-multiple", ConfigError, r"data\.width and data\.height must be multiples of base\.latent_downsample=4 "
                                      r".*got 30x32 \(width x height\); the nearest valid sizes are 28x32 or 32x32$")
def _(tmp, mp):
    load_profile("smoke", ["data.width=30"])


@row("paper-size-not-multiple", ConfigError, r"multiples of base\.latent_downsample=8 \(the VAE's downsampling\), "
                                            r"got 500x640 \(width x height\); the nearest valid sizes are 496x640 or "
                                            r"504x640$")
def _(tmp, mp):
    load_profile("paper", ["data.width=500"])


@row("batch-zero", ConfigError, r"stage1\.batch_size must be > 0, got 0")
def _(tmp, mp):
    load_profile("smoke", ["stage1.batch_size=0"])


@row("checkpoint-every-negative", ConfigError, r"decoder\.checkpoint_every must be >= 0")
def _(tmp, mp):
    load_profile("smoke", ["decoder.checkpoint_every=-1"])


@row("guidance-nan-profile", ConfigError, r"sample\.image_guidance_scale must be a finite number")
def _(tmp, mp):
    load_profile("smoke", ["sample.image_guidance_scale=.nan"])


@functools.lru_cache(maxsize=1)
def _pipeline():
    from dummies import dummy_pipeline

    return dummy_pipeline()


def call_pipeline(mp, **kwargs):
    """The dummy DreamPosePipeline with one bad argument; the UNet must never be reached."""
    pipe = _pipeline()
    mp.setattr(pipe.unet, "forward", lambda *a, **k: pytest.fail("the UNet ran before the input was checked"))
    args = dict(image=torch.zeros(3, 32, 32), poses=torch.zeros(6, 2, 32, 32), num_inference_steps=2,
                output_type="np")
    pipe(**{**args, **kwargs})


@row("guidance-inf-call", ValueError, r"pose_guidance_scale must be a finite number \(paper demo: s_I = 8, s_p = 3\)")
def _(tmp, mp):
    call_pipeline(mp, pose_guidance_scale=math.inf)


@row("guidance-not-a-number", ValueError, r"image_guidance_scale must be a finite number .*got '3'")
def _(tmp, mp):
    check_scale("image_guidance_scale", "3")


@row("pipeline-generator-int", ValueError, r"generator must be a torch\.Generator, got int; pass "
                                           r"torch\.Generator\(\)\.manual_seed\(seed\)")
def _(tmp, mp):
    call_pipeline(mp, generator=0)


@row("pipeline-steps-too-many", ValueError, r"num_inference_steps=5000 exceeds the scheduler's 1000 training "
                                            r"timesteps; use at most 1000")
def _(tmp, mp):
    call_pipeline(mp, num_inference_steps=5000)


@row("pipeline-steps-zero", ValueError, r"num_inference_steps must be a positive integer, got 0")
def _(tmp, mp):
    call_pipeline(mp, num_inference_steps=0)


@row("pipeline-size-negative", ValueError, r"height and width must be positive multiples of 4 .*got -8x32 "
                                          r"\(height x width\); the nearest valid sizes are 4x32$")
def _(tmp, mp):
    call_pipeline(mp, height=-8)


@row("pipeline-size-paper", ValueError, r"height and width must be positive multiples of 8 \(the VAE's "
                                       r"downsampling\), got 500x512 \(height x width\); the nearest valid sizes are "
                                       r"496x512 or 504x512$")
def _(tmp, mp):
    from benchmarks.paper_models import paper_pipeline

    pipe = paper_pipeline(tiny=True)  # the paper's shapes at reduced widths: VAE downsampling 8
    mp.setattr(pipe.unet, "forward", lambda *a, **k: pytest.fail("the UNet ran before the input was checked"))
    pipe(torch.zeros(3, 640, 512), torch.zeros(5, 2, 80, 64), height=500, width=512, output_type="np")


@row("pipeline-latents-nan", ValueError, r"latents contain NaN or inf; pass finite initial noise")
def _(tmp, mp):
    call_pipeline(mp, latents=torch.full((6, 4, 8, 8), math.nan))


@row("pipeline-image-4-channels", DataError, r"an image tensor must be float \(3, H, W\) in \[-1, 1\], got shape "
                                             r"\(4, 32, 32\).*give uint8 pictures as \(H, W, 3\)")
def _(tmp, mp):
    call_pipeline(mp, image=torch.zeros(4, 32, 32))


@row("cli-bad-setting", SystemExit, r"one line: dreampose config: error: stage1\.lr must be float")
def _(tmp, mp):
    import contextlib
    import io

    from dreampose.cli import main

    err = io.StringIO()
    with contextlib.redirect_stderr(err):
        code = main(["config", "--profile", "smoke", "--set", "stage1.lr=fast"])
    lines = err.getvalue().strip().splitlines()
    assert code == 1 and "Traceback" not in err.getvalue() and len(lines) == 2
    raise SystemExit("one line: " + lines[0])


@row("cli-bad-seeds", SystemExit, r"one line: dreampose evaluate: error: --seeds '0,x' is not a comma-separated "
                                   r"list of integers; e\.g\. --seeds 0,1,2")
def _(tmp, mp):
    import contextlib
    import io

    from dreampose.cli import main

    err = io.StringIO()
    with contextlib.redirect_stderr(err):
        code = main(["evaluate", "--profile", "smoke", "--seeds", "0,x"])
    lines = err.getvalue().strip().splitlines()
    assert code == 1 and "Traceback" not in err.getvalue() and len(lines) == 2
    raise SystemExit("one line: " + lines[0])


# -- output paths -------------------------------------------------------------------------------
@row("output-folder-missing", DataError, r"the folder .*missing does not exist; create it first")
def _(tmp, mp):
    write_video(np.zeros((2, 8, 8, 3), np.uint8), tmp / "missing" / "out.gif")


@row("output-type-unknown", DataError, r"unknown video type '\.avi'; name it \.mp4 or \.gif")
def _(tmp, mp):
    write_video(np.zeros((2, 8, 8, 3), np.uint8), tmp / "out.avi")


def animate_args(tmp, *extra):
    from dreampose.cli import build_parser

    return build_parser().parse_args(["animate", "--image", str(tmp / "me.png"), "--poses", str(tmp / "poses"),
                                      "--profile", "smoke", "--out", str(tmp / "out.gif"), *extra])


def no_model_lookup(mp):
    """`dreampose animate` with every model source failing the test: the input must be refused first."""
    from dreampose import animate, animate_cli, stages

    mp.setattr(stages, "stage1", lambda *a: pytest.fail("looked for a model before checking the input"))
    mp.setattr(animate, "_load", lambda *a: pytest.fail("loaded a model before checking the input"))
    return animate_cli


def person_files(tmp, size=(40, 24), n_poses=6, names="{:05d}.png"):
    """me.png (h x w = size) and a pose folder of the same size."""
    png(tmp / "me.png", np.full((*size, 3), 120, np.uint8))
    (tmp / "poses").mkdir()
    for t in range(n_poses):
        iuv = np.zeros((*size, 3), np.uint8)
        iuv[5:30, 6 + t:16 + t] = (2, 50 + 20 * t, 90)
        png(tmp / "poses" / names.format(t), iuv)
    return tmp


@row("animate-output-unwritable", ValueError, r"--out .*: the folder .*nowhere does not exist; create it")
def _(tmp, mp):
    from dreampose.cli import build_parser

    args = build_parser().parse_args(["animate", "--image", "x.png", "--poses", str(tmp), "--profile", "smoke",
                                      "--out", str(tmp / "nowhere" / "out.mp4")])
    no_model_lookup(mp).run(args)  # fails before reading poses, loading the model or sampling


@row("animate-steps-zero", ValueError, r"--steps must be positive, got 0; leave it out to use the profile's value")
def _(tmp, mp):
    no_model_lookup(mp).run(animate_args(tmp, "--steps", "0"))


@row("animate-image-missing", DataError, r"image .*me\.png does not exist; check the path")
def _(tmp, mp):
    (tmp / "poses").mkdir()
    png(tmp / "poses" / "00000.png", np.zeros((8, 8, 3), np.uint8))
    no_model_lookup(mp).run(animate_args(tmp, "--image-poses", "0"))  # the image is checked before any model


@row("animate-no-image-pose", DataError, r"trains on each input image with its own DensePose pose: 1 image\(s\) but 0 "
                                         r"image pose\(s\)\. Give --image-poses POSE .*docs/ubc_fashion\.md.*--no-finetune")
def _(tmp, mp):
    no_model_lookup(mp).run(animate_args(person_files(tmp)))


@row("animate-image-pose-not-a-frame", DataError, r"me\.png: image pose 9 is not a frame of the pose sequence \(6 "
                                                  r"poses\); give the index of the frame this image is")
def _(tmp, mp):
    no_model_lookup(mp).run(animate_args(person_files(tmp), "--image-poses", "9"))


@row("animate-image-pose-other-aspect", DataError, r"me\.png is 24x40 but its pose is 30x30; run DensePose on this "
                                                   r"very image")
def _(tmp, mp):
    person_files(tmp)
    png(tmp / "pose.png", np.zeros((30, 30, 3), np.uint8))
    no_model_lookup(mp).run(animate_args(tmp, "--image-poses", str(tmp / "pose.png")))


@row("animate-frames-unreadable", ValueError, r"--frames '0-x': give pose numbers and ranges like 0-15,20")
def _(tmp, mp):
    no_model_lookup(mp).run(animate_args(person_files(tmp), "--image-poses", "0", "--frames", "0-x"))


@row("animate-frames-outside", DataError, r"frames \[7\] are not poses of the sequence \(0\.\.5\)")
def _(tmp, mp):
    no_model_lookup(mp).run(animate_args(person_files(tmp), "--image-poses", "0", "--frames", "2,7"))


@row("animate-poses-other-size", UserWarning, r"the poses are resampled from 24x40 padded at the left and right to "
                                              r"40x40, then resized to 32x32 \(nearest neighbour\)")
def _(tmp, mp):
    from dreampose.animate import target_poses

    assert target_poses(person_files(tmp) / "poses", load_profile("smoke")).shape == (6, 32, 32, 3)


@row("animate-poses-other-fps", UserWarning, r"the poses are at 60 fps, the model's pose window at 30 fps: 6 poses "
                                             r"resampled to 3 \(nearest frame, same duration\)")
def _(tmp, mp):
    from dreampose.animate import target_poses

    assert len(target_poses(person_files(tmp) / "poses", load_profile("smoke"), pose_fps=60)) == 3


@row("pose-folder-gap", DataError, r"the pose folder .*poses skips f3\.png \(after f2\.png\): one DensePose IUV png per "
                                   r"frame, numbered without gaps")
def _(tmp, mp):
    person_files(tmp, names="f{}.png")
    (tmp / "poses" / "f3.png").unlink()
    read_pose_sequence(tmp / "poses")


# -- base model -----------------------------------------------------------------------------------
def fake_base_folder(root, weights: bytes | None = None):
    """An SD-layout folder with every required file; weights: bytes of each .safetensors file."""
    from safetensors.torch import save_file

    root.mkdir()
    (root / "model_index.json").write_text("{}")
    save_file({"w": torch.zeros(64)}, root / "real.safetensors")
    good = (root / "real.safetensors").read_bytes()
    for part, requirements in PARTS.items():
        (root / part).mkdir()
        for alternatives in requirements:
            name = alternatives[0]
            (root / part / name).write_bytes((weights if weights is not None else good)
                                             if name.endswith(".safetensors") else b"{}")
    (root / "real.safetensors").unlink()
    return good


@row("base-folder-missing", BaseModelError, r"base model folder .*nothing does not exist; train the tiny base")
def _(tmp, mp):
    load_base_from(tmp / "nothing")


@row("base-folder-partial", BaseModelError, r"is incomplete, missing: unet/diffusion_pytorch_model\.safetensors")
def _(tmp, mp):
    fake_base_folder(tmp / "base")
    (tmp / "base" / "unet" / "diffusion_pytorch_model.safetensors").unlink()
    load_base_from(tmp / "base")


@row("safetensors-truncated", BaseModelError, r"weight file .*\.safetensors is truncated: \d+ bytes, but its header "
                                              r"needs \d+; delete the base model folder")
def _(tmp, mp):
    good = fake_base_folder(tmp / "ok")
    fake_base_folder(tmp / "base", weights=good[:-40])
    load_base_from(tmp / "base")


@row("safetensors-garbage", BaseModelError, r"is not a readable safetensors file")
def _(tmp, mp):
    fake_base_folder(tmp / "base", weights=b"<html>404</html>")
    load_base_from(tmp / "base")


# -- cache ----------------------------------------------------------------------------------------
def built(cache, stage="data", key="k1", settings=None):
    return cache.get_or_build(stage, key, lambda work: (work / "x.txt").write_text("x") and None,
                              settings=settings or {"a": 1})


@row("cache-other-version", UserWarning, r"was made by dreampose 0\.0\.1, this is .*: rebuilding it \(the old one "
                                         r"is replaced once the new one is complete\)")
def _(tmp, mp):
    cache = Cache(tmp)
    art = built(cache)
    manifest = json.loads((art.path / "manifest.json").read_text())
    (art.path / "manifest.json").write_text(json.dumps({**manifest, "package_version": "0.0.1"}))
    assert cache.find("data", "k1") is None  # stale: not served
    again = built(cache)
    assert not again.loaded and again.path == art.path and again.manifest["package_version"] != "0.0.1"
    assert sorted(p.name for p in (tmp / "data").iterdir()) == ["k1"]  # the old copy is gone, no leftovers


@row("cache-other-settings", CacheError, r"built with other settings than its key says \(differs in: a\); delete")
def _(tmp, mp):
    cache = Cache(tmp)
    built(cache, settings={"a": 1})
    built(cache, settings={"a": 2})  # same key, other settings: a copied or edited artifact


@row("cache-manifest-damaged", CacheError, r"damaged manifest .*; delete .* to rebuild it")
def _(tmp, mp):
    cache = Cache(tmp)
    art = built(cache)
    (art.path / "manifest.json").write_text("{not json")
    cache.find("data", "k1")


@row("cache-unwritable", CacheError, r"cannot write the cache at .*; set DREAMPOSE_CACHE to a writable folder")
def _(tmp, mp):
    (tmp / "file").write_text("a file, not a folder")
    built(Cache(tmp / "file" / "cache"))


@row("disk-space-low", CacheError, r"only 1 MB free at .*needs at least 256 MB; free some space or set DREAMPOSE_CACHE")
def _(tmp, mp):
    import shutil
    from collections import namedtuple

    usage = namedtuple("usage", "total used free")
    mp.setattr(shutil, "disk_usage", lambda p: usage(2**40, 2**40 - 2**20, 2**20))
    built(Cache(tmp))


@row("disk-full-while-writing", CacheError, r"the disk is full .*free some space or set DREAMPOSE_CACHE .*resumes")
def _(tmp, mp):
    import errno

    def build(work):
        (work / "checkpoint").write_text("kept")
        raise OSError(errno.ENOSPC, "No space left on device")

    cache = Cache(tmp)
    try:
        cache.get_or_build("stage1", "k", build)
    finally:
        assert (tmp / "stage1" / "k.partial" / "checkpoint").is_file() and cache.find("stage1", "k") is None


@row("papermill-interrupted", KeyboardInterrupt, r"^$")
def _(tmp, mp):
    """An interrupted notebook leaves no 'ok' stamp: the next run executes it again, then skips it."""
    import papermill

    from dreampose import run_notebooks as rn

    source = tmp / "01_demo.py"
    source.write_text("# %% tags=['parameters']\nprofile = 'smoke'\n\n# %%\nprint(profile)\n")
    calls = []

    def interrupted(inp, out, **kw):
        open(out, "w").write("{half a notebook")
        raise KeyboardInterrupt

    def finished(inp, out, **kw):
        calls.append(out)
        open(out, "w").write("{}")

    mp.setattr(rn, "to_ipynb", lambda src, *a, **k: src)  # conversion is not what is tested here
    mp.setattr(papermill, "execute_notebook", interrupted)
    with pytest.raises(KeyboardInterrupt):
        rn.execute(source, {"profile": "smoke"}, tmp / "build", code="c")
    assert not (tmp / "build" / "01_demo.json").exists()  # the half-written copy is not marked done
    mp.setattr(papermill, "execute_notebook", finished)
    assert not rn.execute(source, {"profile": "smoke"}, tmp / "build", code="c").skipped
    assert rn.execute(source, {"profile": "smoke"}, tmp / "build", code="c").skipped and len(calls) == 1
    raise KeyboardInterrupt


@pytest.mark.parametrize("trigger, expected, pattern", ROWS)
def test_bad_input(trigger, expected, pattern, tmp_path, monkeypatch):
    if issubclass(expected, Warning):
        with pytest.warns(expected, match=pattern):
            trigger(tmp_path, monkeypatch)
        return
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with pytest.raises(expected, match=pattern):
            trigger(tmp_path, monkeypatch)


def test_at_least_twenty_rows_and_all_in_the_readme_table():
    from pathlib import Path

    assert len(ROWS) >= 20
    readme = (Path(__file__).resolve().parent.parent / "README.md").read_text()
    section = readme.split("## Bad input and what you are told", 1)[-1].split("\n## ", 1)[0]
    assert "| bad input | error you get | test |" in section, "the README has no bad-input table"
    listed = {line.rsplit("|", 2)[-2].strip().strip("`") for line in section.splitlines() if line.startswith("| ")}
    missing = [p.id for p in ROWS if p.id not in listed]
    assert not missing, f"rows missing from the README's bad-input table: {missing}"
    unknown = listed - {p.id for p in ROWS} - {"test", "---"}
    assert not unknown, f"README rows without a test: {sorted(unknown)}"
