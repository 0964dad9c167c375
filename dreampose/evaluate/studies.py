"""Small studies beside the paper's tables, for notebooks 03-05 and 08 (models and frames cached).

* ``stage1_at``: stage 1 stopped after n steps. Training randomness is a function of the
  optimizer step and the learning rate is constant, so a run of n steps is the first n steps
  of a longer run (up to floating-point rounding): samples "along training" without keeping
  checkpoints.
* ``InitMethod``: DreamPose right after the surgery, before any finetuning.
* ``NO_DROPOUT`` / ``branch_losses``: stage 1 without conditioning dropout, and the
  noise-prediction loss of each guidance branch on held-out pairs.
* ``NO_RANDOM_CROP`` / ``sticking`` / ``frame_scores``: subject finetuning without the joint
  random crop, and how much frames copy the input image instead of following the pose.
* ``decoder_reconstruction``: D(E(x)) before and after decoder finetuning.
* ``timings``: wall times from the artifacts' manifests and one timed sampling call.
* ``verdict``: one line on a measured effect for the notebooks' closing cells.
"""
from __future__ import annotations

import time

import numpy as np
import torch

from ..cache import Cache
from ..config import Profile
from ..guidance import branch_weights
from ..pipeline import make_scheduler
from ..train import finetune
from .baselines import background_colour
from .effects import foreground_iou
from .experiments import DreamPoseMethod, targets_of, variant, video_seed
from .metrics import l1, psnr

NO_DROPOUT = ("stage1.image_dropout=0", "stage1.pose_dropout=0", "stage1.both_dropout=0")
NO_RANDOM_CROP = ("subject.random_crop=false",)
BRANCHES = {  # (image, pose, both) dropout rates that put every sample in one guidance branch
    "image + pose": (0.0, 0.0, 0.0),
    "image only (pose ∅)": (0.0, 1.0, 0.0),
    "pose only (image ∅)": (1.0, 0.0, 0.0),
    "none (∅, ∅)": (1.0, 1.0, 1.0),
}
PAPER_TIMES = {"subject": "~10 min", "decoder": "~20 min", "sampling": "~18 s / frame"}  # paper section 7


def stage1_at(profile: Profile, steps: int) -> Profile:
    """The profile with stage 1 stopped after ``steps`` optimizer steps (module doc)."""
    return variant(profile, "stage1.epochs=0", f"stage1.steps={max(1, int(steps))}")


class InitMethod(DreamPoseMethod):
    """DreamPose at initialisation (base UNet + zero-init surgery and adapter), sampled like the
    stage-1 model: it ignores the pose and sees the image through CLIP only."""

    def __init__(self, profile: Profile, cache: Cache | None = None, sample: dict | None = None):
        super().__init__(profile, cache, finetune=False, sample=sample)

    def pipeline(self, video, input_index, targets):
        if self._stage1 is None:
            from ..models.base import load_base
            from ..pipeline import DreamPosePipeline

            base = load_base(self.profile, self.cache, progress=False)
            self._stage1 = DreamPosePipeline.from_base(base, n_poses=self.profile.model.n_poses,
                                                       image_encoder_mode=self.profile.model.image_encoder)
        return self._stage1

    def frames_path(self, video, input_index, targets):
        path = super().frames_path(video, input_index, targets)
        return path.with_name(f"init-{self.profile.stage_hash('base')}-{path.name}")


@torch.no_grad()
def branch_losses(pipe, videos, profile: Profile, n_pairs: int = 32, batch: int = 8, seed: int = 0) -> dict[str, float]:
    """Noise-prediction MSE of each guidance branch on ``n_pairs`` (input, target) pairs of
    ``videos``; every branch sees the same pairs, noise and timesteps."""
    from ..data.pairs import PairDataset
    from ..train.objectives import DreamPoseObjective

    data = PairDataset(videos, profile.model.n_poses, finetune.latent_size(profile), n_pairs, seed)
    make = finetune.collate(data)
    out = {}
    for name, rates in BRANCHES.items():
        objective = DreamPoseObjective(pipe, *rates).eval()
        losses = [float(objective(make(list(range(s, min(s + batch, n_pairs)))),
                                  torch.Generator().manual_seed(seed * 7919 + s)))
                  for s in range(0, n_pairs, batch)]
        out[name] = float(np.mean(losses))
    return out


def sticking(frames: np.ndarray, video, input_index: int, targets: list[int]) -> dict[str, float]:
    """Does the output follow the target pose or stick to the input image?

    IoU of the generated person with the target's body (higher: follows the pose), L1 to the
    input frame (lower: copies it) and L1 to the ground truth."""
    bg = background_colour(video.frames[input_index], video.iuv[input_index])
    copy = np.repeat(video.frames[input_index][None], len(targets), 0)
    return {"IoU with target pose": foreground_iou(frames, video.iuv[targets], bg),
            "IoU of the input pose": foreground_iou(frames, video.iuv[[input_index] * len(targets)], bg),
            "L1 to input frame": float(l1(frames, copy).mean()),
            "L1 to ground truth": float(l1(frames, video.frames[targets]).mean())}


def frame_scores(method, profile: Profile, videos, features=()) -> dict[str, float]:
    """``sticking``, PSNR and each of ``features`` (``metrics.FeatureDistance``, e.g. the
    ``metric_suite``'s) of ``method``'s frames on the protocol targets, averaged over videos."""
    rows = []
    for video in videos:
        i, targets = targets_of(profile, video)
        frames, truth = method(video, i, targets), video.frames[targets]
        row = {**sticking(frames, video, i, targets), "PSNR": float(np.mean(psnr(frames, truth)))}
        for f in features:
            unit = [torch.from_numpy(x).permute(0, 3, 1, 2).float() / 255 for x in (frames, truth)]
            row[f.name] = float(np.mean(f(*unit)))
        rows.append(row)
    return {k: float(np.mean([r[k] for r in rows])) for k in rows[0]}


def _vae_roundtrip(vae, frames: np.ndarray) -> np.ndarray:
    x = torch.from_numpy(frames).permute(0, 3, 1, 2).float() / 127.5 - 1
    with torch.no_grad():
        z = vae.encode(x).latent_dist.mean
        y = vae.decode(z).sample.clamp(-1, 1)
    return ((y + 1) * 127.5).round().byte().permute(0, 2, 3, 1).numpy()


def decoder_reconstruction(profile: Profile, video, cache: Cache | None = None) -> dict:
    """D(E(x)) with the VAE before (subject stage) and after decoder finetuning, on the subject
    image(s) it was finetuned on and on the unseen target frames.

    Returns {"images", "targets": frame indices, "before"/"after": {"subject"/"targets": frames},
    "psnr": {(version, split): mean PSNR}, "l1": same}."""
    from diffusers import AutoencoderKL

    cache = cache or Cache()
    method = DreamPoseMethod(profile, cache)
    i, targets = targets_of(profile, video)
    images = method.subject_frames(video, i, targets)
    arts = {"before": finetune.subject(profile, video, i, cache, False, images),
            "after": finetune.decoder(profile, video, i, cache, False, images)}
    out = {"images": images, "targets": targets, "psnr": {}, "l1": {}}
    for version, art in arts.items():
        vae = AutoencoderKL.from_pretrained(art.path / finetune.PIPELINE_DIR / "vae").eval()  # the VAE alone
        out[version] = {}
        for split, idx in (("subject", images), ("targets", targets)):
            rec = _vae_roundtrip(vae, video.frames[idx])
            out[version][split] = rec
            out["psnr"][(version, split)] = float(np.mean(psnr(rec, video.frames[idx])))
            out["l1"][(version, split)] = float(np.mean(l1(rec, video.frames[idx])))
    return out


def time_sampling(profile: Profile, video, cache: Cache | None = None, n_frames: int = 4) -> dict[str, float]:
    """Seconds per frame of one fresh (uncached) sampling call with the profile's settings, after
    a one-step warm-up call; model loading excluded. Frames share UNet calls (``frames_per_batch``)."""
    method = DreamPoseMethod(profile, cache)
    i, targets = targets_of(profile, video)
    pipe = method.pipeline(video, i, targets)
    pipe.set_progress_bar_config(disable=True)
    s = method.sample
    pipe.scheduler = make_scheduler(s["scheduler"], pipe.scheduler.config)
    images = [video.frames[k] for k in method.subject_frames(video, i, targets)]

    def run(frames, steps):
        pipe(images, video.iuv, frames=frames, num_inference_steps=steps,
             image_guidance_scale=s["image_guidance_scale"], pose_guidance_scale=s["pose_guidance_scale"],
             frames_per_batch=s["frames_per_batch"], output_type="np",
             generator=torch.Generator().manual_seed(video_seed(profile.seed, video.name)),
             height=video.size[0], width=video.size[1])

    run(targets[:1], 1)  # warm-up: first-call overheads are not sampling time
    frames = targets[:n_frames]
    start = time.perf_counter()
    run(frames, s["steps"])
    seconds = time.perf_counter() - start
    return {"seconds": seconds, "frames": len(frames), "per_frame": seconds / len(frames)}


def timings(profile: Profile, videos, cache: Cache | None = None, n_frames: int = 4) -> list[dict]:
    """Rows {"step", "ours (s)", "paper", "note"}: base pretraining, stage 1, subject and decoder
    finetuning (mean per test subject, from the manifests) and sampling (timed now)."""
    cache = cache or Cache()
    method = DreamPoseMethod(profile, cache)
    rows = []
    base = cache.find("base", profile.stage_hash("base"))
    if base is not None:
        secs = base.manifest.get("train_seconds", {})
        total = sum(secs.values()) if isinstance(secs, dict) else float(secs)
        rows.append({"step": "base model pretraining", "ours (s)": total, "paper": "(pretrained SD 1.5)",
                     "note": "once; replaces Stable Diffusion"})
    s1 = finetune.stage1(profile, cache, progress=False).manifest
    rows.append({"step": "stage 1 finetuning", "ours (s)": float(s1["train_seconds"]), "paper": "not reported",
                 "note": f"once; {s1['steps']} steps"})
    per = {"subject": [], "decoder": []}
    for video in videos:
        i, targets = targets_of(profile, video)
        images = method.subject_frames(video, i, targets)
        per["subject"].append(finetune.subject(profile, video, i, cache, False, images).manifest["train_seconds"])
        if profile.decoder.enabled:
            per["decoder"].append(finetune.decoder(profile, video, i, cache, False, images).manifest["train_seconds"])
    for stage, what in (("subject", "subject finetuning (UNet + adapter)"), ("decoder", "VAE decoder finetuning")):
        if per[stage]:
            steps = getattr(profile, stage).steps
            rows.append({"step": what, "ours (s)": float(np.mean(per[stage])), "paper": PAPER_TIMES[stage],
                         "note": f"per subject, mean of {len(per[stage])}; {steps} steps"})
    timed = time_sampling(profile, videos[0], cache, n_frames)
    s = profile.sample
    branches = len(branch_weights(s.image_guidance_scale, s.pose_guidance_scale))
    rows.append({"step": "sampling, per frame", "ours (s)": timed["per_frame"], "paper": PAPER_TIMES["sampling"],
                 "note": f"{s.scheduler} {s.steps} steps x {branches} guidance branches, "
                         f"{profile.data.height}x{profile.data.width} px, "
                         f"{torch.get_num_threads()} CPU thread(s)"})
    return rows


def timings_markdown(rows: list[dict]) -> str:
    """The ``timings`` rows as a Markdown table (seconds and minutes)."""
    lines = ["| step | ours | paper (2x A100, 512 px) | note |", "|---|---|---|---|"]
    for r in rows:
        t = r["ours (s)"]
        ours = f"{t:.3f} s" if t < 1 else f"{t:.1f} s" + (f" ({t / 60:.1f} min)" if t >= 60 else "")
        lines.append(f"| {r['step']} | {ours} | {r['paper']} | {r['note']} |")
    return "\n".join(lines) + "\n"


def verdict(effect) -> str:
    """One line on a measured effect (``tables.Effect``) for a notebook's closing cell."""
    if not effect.holds:
        word = "does NOT hold on this run"
    elif getattr(effect, "beyond_noise", None) is False:
        word = "holds, but within noise (paired difference under 2 standard errors)"
    else:
        word = "holds" + (", beyond noise" if getattr(effect, "beyond_noise", None) else "")
    return f"{effect.name}: {word}. {effect.detail}"
