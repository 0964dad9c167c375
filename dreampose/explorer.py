"""A test subject's short clip at any guidance weights: what the guidance explorer shows (paper 4.4).

    clips = subject_clips(run, video)   # DreamPose Full for that subject: stage 1 + subject + decoder
    clips.precompute()                  # the paper's sweep grid {0, 3, 5, 7, 9}^2, rendered once
    clips([0, 4], 8.0, 3.0)             # (2, H, W, 3) uint8: positions 0 and 4 of the clip

The guided noise is

    eps = eps(∅,∅) + s_I (eps(c_I,∅) - eps(∅,∅)) + s_p (eps(c_I,c_p) - eps(c_I,∅)),

the three branches weighted (1 - s_I, s_I - s_p, s_p). A setting on the grid at the profile's
sampler is read from the stage cache's frame store (``stages.frames``: one file per setting,
written atomically, keyed by model, subject, poses, settings and seed), so it is rendered once per
profile and subject; any other setting is sampled live by a ``FrameRenderer`` from the same noise.
``Clips`` has the calling convention of ``FrameRenderer`` (frame positions, s_I, s_p, steps,
sampler), so ``widgets.static_grid`` draws it too.
"""
from __future__ import annotations

import numpy as np

from . import stages
from .guidance import check_scale

GRID = (0.0, 3.0, 5.0, 7.0, 9.0)  # the paper's s_I x s_p sweep
PAPER_DEMO = (8.0, 3.0)  # the paper's demo setting (s_I, s_p)
EQUAL_NOTE = "the image-only branch has weight 0: this is single CFG on (c_I, c_p)"


def weights_text(s_image: float, s_pose: float) -> str:
    """The branch weights (1 - s_I, s_I - s_p, s_p) in words, with a note when s_I = s_p."""
    s_image, s_pose = check_scale("s_I", s_image), check_scale("s_p", s_pose)
    text = (f"branch weights: eps(∅,∅) × {1 - s_image:g}, eps(c_I,∅) × {s_image - s_pose:g}, "
            f"eps(c_I,c_p) × {s_pose:g}")
    return f"{text}. Note: {EQUAL_NOTE}" if s_image == s_pose else text


def spread(targets, n: int) -> list[int]:
    """``n`` of ``targets`` evenly spread from the first to the last (all of them if fewer)."""
    targets = [int(t) for t in targets]
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise ValueError(f"the clip needs a positive number of frames, got {n!r}")
    if not targets:
        raise ValueError("no target poses to spread the clip over")
    if n >= len(targets):
        return targets
    return [targets[k] for k in np.linspace(0, len(targets) - 1, n).round().astype(int)]


class Clips:
    """Frames ``frames`` (pose indices of ``iuv``) of ``person`` animated by ``model`` at any guidance.

    ``sample``: the profile's sample settings (steps, scheduler, frames_per_batch); the grid is
    cached at its steps and scheduler. The cached grid is the paper's sweep with the profile's own
    s_I and s_p and the paper's demo (8, 3) added (``grid_image`` x ``grid_pose``), so the
    explorer's starting point and its preset answer from the cache too. The initial noise is the
    evaluation's for this subject (``stages.sampling_seed`` of ``stages.sample_seed``), live or cached.
    """

    def __init__(self, run: stages.Run, model: stages.Model, person: stages.Subject, iuv: np.ndarray,
                 frames: list[int], sample: dict | None = None, truth: np.ndarray | None = None,
                 name: str | None = None):
        bad = [i for i in frames if not 0 <= i < len(iuv)]
        if bad or not len(frames):
            raise ValueError(f"clip frames must be indices into the {len(iuv)} poses, got {bad or frames}")
        self.run, self.model, self.person, self.iuv = run, model, person, iuv
        self.frames, self.truth = [int(i) for i in frames], truth
        self.sample = dict(sample or stages.sample_settings(run))
        self.name = name or person.name
        self.seed = stages.sampling_seed(stages.sample_seed(run.profile), person.name)
        own = (float(self.sample["image_guidance_scale"]), float(self.sample["pose_guidance_scale"]))
        self.grid_image = tuple(sorted({*GRID, own[0], PAPER_DEMO[0]}))
        self.grid_pose = tuple(sorted({*GRID, own[1], PAPER_DEMO[1]}))
        self._clips: dict = {}
        self._renderer = None
        self.last_source = None  # "memory", "grid" or "live": where the last clip came from

    def __len__(self) -> int:
        return len(self.frames)

    @property
    def renderer(self):
        """The live FrameRenderer (loads the model on first use)."""
        if self._renderer is None:
            from .widgets import FrameRenderer

            h, w = self.person.images.shape[1:3]
            self._renderer = FrameRenderer(self.model.load(), list(self.person.images), self.iuv, seed=self.seed,
                                           height=h, width=w)
        return self._renderer

    def on_grid(self, s_image: float, s_pose: float, steps: int, scheduler: str) -> bool:
        return (s_image in self.grid_image and s_pose in self.grid_pose and steps == self.sample["steps"]
                and scheduler == self.sample["scheduler"])

    def clip(self, s_image: float, s_pose: float, steps: int | None = None, scheduler: str | None = None) -> np.ndarray:
        """All frames of the clip at these settings: (len(self), H, W, 3) uint8."""
        s_image, s_pose = check_scale("s_I", s_image), check_scale("s_p", s_pose)
        steps, scheduler = int(steps or self.sample["steps"]), scheduler or self.sample["scheduler"]
        key = (s_image, s_pose, steps, scheduler)
        if key in self._clips:
            self.last_source = "memory"
        elif self.on_grid(*key):
            sample = {**self.sample, "image_guidance_scale": s_image, "pose_guidance_scale": s_pose}
            self._clips[key] = stages.frames(self.run, self.model, self.person, self.iuv, self.frames, sample)
            self.last_source = "grid"
        else:
            self._clips[key] = self.renderer(self.frames, s_image, s_pose, steps, scheduler)
            self.last_source = "live"
        return self._clips[key]

    def __call__(self, positions, s_image: float, s_pose: float, steps: int | None = None,
                 scheduler: str | None = None) -> np.ndarray:
        """Frames at ``positions`` of the clip (0 .. len - 1), as ``FrameRenderer`` takes pose indices."""
        positions = [int(k) for k in np.atleast_1d(positions)]
        bad = [k for k in positions if not 0 <= k < len(self)]
        if bad:
            raise IndexError(f"positions {bad} outside the clip's {len(self)} frames")
        return self.clip(s_image, s_pose, steps, scheduler)[positions]

    def precompute(self) -> None:
        """Render (or read) every grid setting once, so that each answers from memory."""
        for s_image in self.grid_image:
            for s_pose in self.grid_pose:
                self.clip(s_image, s_pose)

    def input_image(self) -> np.ndarray:
        return self.person.images[0]

    def pose_image(self, position: int) -> np.ndarray:
        from .figures import iuv_to_rgb

        return iuv_to_rgb(self.iuv[self.frames[position]])


def subject_clips(run: stages.Run, video, n_frames: int = 5) -> Clips:
    """``n_frames`` of ``video``'s target poses animated by DreamPose Full for its subject, trained
    as the evaluation trains it (``reproduce.trained``: stage 1, subject and decoder finetuning;
    cached, so only a new subject trains)."""
    from .evaluate.experiments import FULL, targets_of
    from .reproduce import trained

    method = trained(run, FULL, [video])
    frames = spread(targets_of(run.profile, video)[1], n_frames)
    return Clips(run, method.models[video.name], method.subjects[video.name], video.iuv, frames, method.sample,
                 truth=video.frames[frames], name=video.name)
