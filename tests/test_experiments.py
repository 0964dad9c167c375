"""The paper's experiments end to end on the smoke profile: tables, effects, caching."""
import numpy as np

from dreampose.cache import Cache
from dreampose.config import load_profile
from dreampose.data.world import load_world
from dreampose.evaluate import experiments as ex
from dreampose.evaluate.effects import foreground_iou
from dreampose.evaluate.protocol import protocol_subject, subject_frames
from dreampose import reproduce
from dreampose.stages import Run


def test_evaluate_stage_writes_tables_and_effects_and_reruns_from_cache(tmp_path):
    run = Run(load_profile("smoke"), Cache(tmp_path / "cache"), progress=False)
    out = reproduce.evaluate_stage(run, tmp_path / "fig")
    assert list(out.table2) == ["Ours_Full", "Ours_CLIP", "Ours_No-VAE-FT", "Ours_1-pose", "Stage 1 only"]
    assert {"Copy input frame", "DensePose texture transfer", "Ours_Full"} <= set(out.table1)
    assert len(out.effects) == 7 + 6 and out.effect(1).holds  # zero-init is exact
    floor = {e.name: e for e in out.effects[7:]}  # Ours_Full against copy and texture transfer, L1 / SSIM / PSNR
    assert list(floor) == [f"vs {b}: {m}" for b in ("copy", "texture transfer") for m in ("L1", "SSIM", "PSNR")]
    copy_l1 = floor["vs copy: L1"]
    assert copy_l1.holds == (out.table1["Ours_Full"].summary("L1")[0] < out.table1["Copy input frame"].summary("L1")[0])
    for stem in ("table1_comparisons", "table2_ablations"):
        md = (tmp_path / "fig" / f"{stem}.md").read_text()
        assert "Made by `dreampose reproduce`" in md and "quoted from the paper" in md
        assert (tmp_path / "fig" / f"{stem}.csv").read_text().count("\n") >= 5
    assert (tmp_path / "fig" / "effects.md").read_text().count("\n| ") == 14  # header + 7 effects + 6 baselines
    artifacts = sorted(p.name for p in (tmp_path / "cache").rglob("manifest.json"))
    again = reproduce.evaluate_stage(run, tmp_path / "fig2")  # everything cached: same numbers
    assert sorted(p.name for p in (tmp_path / "cache").rglob("manifest.json")) == artifacts
    for label, result in out.table2.items():
        assert again.table2[label].per_video == result.per_video


def test_evaluation_never_trains(tmp_path, monkeypatch):
    """Scoring a trained method samples only: with every trainer disabled it still runs."""
    from dreampose.evaluate.metrics import MetricSuite
    from dreampose.train import finetune

    run = Run(load_profile("smoke"), Cache(tmp_path / "cache"), progress=False)
    videos = ex.evaluated_videos(run.profile, reproduce.stages.data(run))[:1]
    method = reproduce.trained(run, ex.FULL, videos)
    for name in ("train_stage1", "train_subject", "train_decoder"):
        monkeypatch.setattr(finetune, name, lambda *a, **k: (_ for _ in ()).throw(AssertionError("trained")))
    result = ex.evaluate(method, ex.FULL, run, videos, MetricSuite(perceptual=False), progress=False)
    assert np.isfinite(result.values("L1")).all()


def test_ablation_variants_differ_only_by_their_switch():
    base = load_profile("smoke")
    clip = Run(base).variant(*ex.ABLATIONS[ex.CLIP]).profile
    assert clip.model.image_encoder == "clip" and base.model.image_encoder == "clip+vae"
    assert clip.to_dict() | {"model": base.to_dict()["model"]} == base.to_dict()
    assert clip.stage_hash("data") == base.stage_hash("data") and clip.stage_hash("stage1") != base.stage_hash("stage1")


def test_subject_images_avoid_the_evaluation_targets(tmp_path):
    profile = load_profile("smoke")
    video = load_world(profile, Cache(tmp_path), progress=False).test[0]
    i, targets = ex.targets_of(profile, video)
    exclude = range(targets[0] - 2, targets[-1] + 3)
    picks = subject_frames(video, i, 3, exclude)
    assert picks[0] == i and len(set(picks)) == 3 and not set(picks) & set(exclude)
    person = protocol_subject(profile.override("subject.n_images=3"), video)
    assert list(person.frames) == picks and np.array_equal(person.images, video.frames[picks])
    assert person.pose_windows.shape == (3, profile.model.n_poses, *video.iuv.shape[1:])


def test_foreground_iou():
    bg = np.array([200, 200, 200], np.uint8)
    frames = np.full((1, 8, 8, 3), 200, np.uint8)
    iuv = np.zeros((1, 8, 8, 3), np.uint8)
    iuv[0, 2:6, 2:6, 0] = 3
    frames[0, 2:6, 2:4] = 10  # half of the body drawn
    assert foreground_iou(frames, iuv, bg) == 0.5
    frames[0, 2:6, 2:6] = 10
    assert foreground_iou(frames, iuv, bg) == 1.0


def test_imported_frames_are_rescored_not_cached(tmp_path):
    """A folder of another method's frames may be re-exported: its scores are never cached."""
    from PIL import Image

    from dreampose.evaluate.importer import import_method
    from dreampose.evaluate.metrics import MetricSuite

    profile, cache = load_profile("smoke"), Cache(tmp_path / "cache")
    video = load_world(profile, cache, progress=False).test[0]
    folder = tmp_path / "other" / video.name
    folder.mkdir(parents=True)
    scores = []
    for shade in (0, 255):
        for i in range(len(video)):
            Image.fromarray(np.full_like(video.frames[i], shade)).save(folder / f"{i:05d}.png")
        result = ex.evaluate(import_method(tmp_path / "other"), "other", Run(profile, cache), [video],
                             MetricSuite(perceptual=False), cached=False, progress=False)
        scores.append(result.per_video[video.name]["L1"])
    assert scores[0] != scores[1] and not (tmp_path / "cache" / "evaluate").exists()


def test_cached_frames_are_keyed_by_the_subject_name_that_seeds_them(tmp_path):
    """Two subjects with the same bytes but other names sample other noise: the frame cache must not mix them."""
    from dummies import dummy_pipeline

    from dreampose import stages

    run = Run(load_profile("smoke", ["sample.steps=2"]), Cache(tmp_path), progress=False)
    loads = []
    pipe = dummy_pipeline()
    model = stages.Model("dummy", lambda: loads.append(1) or pipe)
    iuv = np.zeros((3, 32, 32, 3), np.uint8)
    iuv[:, 8:24, 12:20] = (2, 128, 64)
    image = np.random.default_rng(0).integers(0, 256, (1, 32, 32, 3), dtype=np.uint8)
    a = stages.Subject("a", image, iuv[None, [0] * 5])
    b = stages.Subject("b", a.images, a.pose_windows)
    sample = stages.sample_settings(run)
    frames_a, frames_b = (stages.frames(run, model, p, iuv, [1, 2], sample) for p in (a, b))
    assert not np.array_equal(frames_a, frames_b) and len(loads) == 2
    assert np.array_equal(stages.frames(run, model, a, iuv, [1, 2], sample), frames_a) and len(loads) == 2


def test_worker_processes_finetune_every_subject_once_into_the_shared_cache(tmp_path):
    """--workers 2: the per-subject stages run in two processes; the evaluation then trains nothing."""
    from dreampose.data.world import validation_videos

    run = Run(load_profile("smoke"), Cache(tmp_path / "cache"), progress=False, workers=2)
    videos = validation_videos(run.profile, 2)
    reproduce.finetune_subjects(run, videos)
    built = sorted(str(p.parent.relative_to(tmp_path)) for p in (tmp_path / "cache").rglob("manifest.json"))
    subjects = [b for b in built if b.startswith("cache/subject/")]
    decoders = [b for b in built if b.startswith("cache/decoder/")]  # one per set of images: 1 photo, 3 photos
    assert len(subjects) == 2 * 4 and len(decoders) == 2 * 2
    methods = reproduce.train_variants(Run(run.profile, run.cache, progress=False), videos)  # workers=1
    assert sorted(str(p.parent.relative_to(tmp_path)) for p in (tmp_path / "cache").rglob("manifest.json")) == built
    assert methods[ex.FULL].artifacts[videos[1].name]["subject"].path.is_dir()
