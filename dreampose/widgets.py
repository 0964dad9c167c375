"""The guidance explorer: choose a test subject, drag s_I and s_p (paper 4.4), watch its clip change.

    explorer = subject_explorer(run, videos)            # last line of a cell: DreamPose Full per subject
    explorer = guidance_explorer(pipe, image, iuv_poses, frames=[0, 8])   # any pipeline, any input
    fig = static_grid(explorer, rows="s_image", cols="s_pose")            # the same, headless

The guided eps is eps(∅,∅) + s_I (eps(c_I,∅) - eps(∅,∅)) + s_p (eps(c_I,c_p) - eps(c_I,∅)); the
explorer shows the branch weights (1 - s_I, s_I - s_p, s_p) live. ``FrameRenderer`` samples
chosen frames of one input with the pipeline's own stages (same initial noise per frame for a
seed, ``denoise_step`` with its dual guidance, ``decode``), encodes c_I and the pose windows c_p
once and remembers rendered frames; ``explorer.Clips`` adds the cached s_I x s_p grid of a subject.
"""
from __future__ import annotations

import copy
import io
import time
from collections import OrderedDict

import numpy as np
import torch

from .data.images import as_image_batch
from .explorer import PAPER_DEMO, Clips, weights_text
from .pipeline import SCHEDULERS, make_scheduler

LABELS = {"s_image": "s_I (image)", "s_pose": "s_p (pose)", "steps": "steps", "scheduler": "sampler",
          "frame": "frame"}


class FrameRenderer:
    """Frames of ``pipe(image, poses, generator=manual_seed(seed))`` for any guidance settings.

    ``scheduler=None`` uses the pipeline's own scheduler; a name (pndm | ddim | dpm++ | euler) builds
    that scheduler from the pipeline's scheduler config.
    """

    def __init__(self, pipe, image, poses, seed: int = 0, height: int | None = None, width: int | None = None,
                 memo: int = 256):
        self.pipe = pipe
        h, w = height or pipe.image_size[0], width or pipe.image_size[1]
        self.images = as_image_batch(image, (h, w))
        with torch.no_grad():
            self.c_image = pipe.encode_image(self.images)
        windows, frames = pipe.prepare_poses(poses, h, w)
        self.c_pose = windows.to(pipe.unet.device, pipe.unet.dtype)
        self.noise = pipe.prepare_latents(frames, len(frames), h, w, torch.Generator().manual_seed(seed))
        self.poses, self.size, self.calls = poses, (h, w), 0
        self._memo: OrderedDict = OrderedDict()
        self._memo_size = memo

    def __len__(self) -> int:
        return len(self.c_pose)

    def scheduler(self, name: str | None):
        if name is None:
            return copy.deepcopy(self.pipe.scheduler)
        return make_scheduler(name, self.pipe.scheduler.config)

    @torch.no_grad()
    def __call__(self, frames, s_image: float, s_pose: float, steps: int, scheduler: str | None = None) -> np.ndarray:
        """The frames (indices) at these settings: (n, H, W, 3) uint8, sampled in one batch."""
        frames = [int(i) for i in np.atleast_1d(frames)]
        bad = [i for i in frames if not 0 <= i < len(self)]
        if bad:
            raise IndexError(f"frames {bad} outside the {len(self)} poses")
        keys = {i: (i, float(s_image), float(s_pose), int(steps), scheduler) for i in frames}
        todo = sorted({i for i in frames if keys[i] not in self._memo})
        if todo:
            for i, image in zip(todo, self._sample(todo, float(s_image), float(s_pose), int(steps), scheduler)):
                self._memo[keys[i]] = image
                while len(self._memo) > self._memo_size:
                    self._memo.popitem(last=False)
        for i in frames:
            self._memo.move_to_end(keys[i])
        return np.stack([self._memo[keys[i]] for i in frames])

    def _sample(self, frames: list[int], s_image: float, s_pose: float, steps: int, scheduler: str | None):
        pipe, self.calls = self.pipe, self.calls + 1
        sched = self.scheduler(scheduler)
        sched.set_timesteps(steps, device=pipe.unet.device)
        z, pose = self.noise[frames] * sched.init_noise_sigma, self.c_pose[frames]
        for t in sched.timesteps:  # pipe.denoise without its progress bar
            z = pipe.denoise_step(z, t, self.c_image, pose, sched, s_image, s_pose, frames_per_batch=len(frames))
        x = pipe.decode(z, frames_per_batch=len(frames), output_type="np")
        return list((x * 255).round().astype(np.uint8))

    def input_image(self) -> np.ndarray:
        """The first input image as (H, W, 3) uint8."""
        return ((self.images[0].permute(1, 2, 0).numpy() + 1) * 127.5).round().clip(0, 255).astype(np.uint8)

    def pose_image(self, frame: int) -> np.ndarray:
        """The target pose of ``frame`` as a picture (IUV colours, or U red / V green for UV maps)."""
        poses = self.poses
        if isinstance(poses, torch.Tensor):
            poses = poses.cpu().numpy()
        from .figures import iuv_to_rgb, uv_to_rgb

        return iuv_to_rgb(poses[frame]) if poses.dtype == np.uint8 else uv_to_rgb(poses[frame])


def _hstack(images: list[np.ndarray], zoom: int, gap: int = 4) -> np.ndarray:
    h = max(i.shape[0] for i in images)
    parts = []
    for k, image in enumerate(images):
        image = np.repeat(np.repeat(image, zoom, 0), zoom, 1)
        pad = np.full((h * zoom - image.shape[0], image.shape[1], 3), 255, np.uint8)
        parts.append(np.concatenate([image, pad]))
        if k < len(images) - 1:
            parts.append(np.full((h * zoom, gap, 3), 255, np.uint8))
    return np.concatenate(parts, 1)


def _png(image: np.ndarray) -> bytes:
    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(image).save(buf, format="PNG")
    return buf.getvalue()


class GuidanceExplorer:
    """Subject menu, s_I and s_p sliders, steps, sampler, a paper-demo preset, the live branch
    weights and the clip; re-renders on every change.

    ``subjects``: {name: a Clips or FrameRenderer, or a zero-argument function building one (run
    when the subject is first chosen)}. A FrameRenderer shows the pose indices ``frames``.
    The guided eps weights eps(∅,∅), eps(c_I,∅), eps(c_I,c_p) by (1 - s_I, s_I - s_p, s_p).
    """

    def __init__(self, subjects: dict, truth=None, s_image: float = 3.0, s_pose: float = 3.0, steps: int = 25,
                 scheduler: str = "ddim", frames=(0,), max_scale: float = 10.0, max_steps: int = 100,
                 zoom: int | None = None, precompute: bool = False):
        import ipywidgets as w

        if not subjects:
            raise ValueError("the explorer needs at least one subject")
        self.subjects, self.truths, self.frames, self.precompute = dict(subjects), {}, list(frames), precompute
        self.zoom_setting = zoom
        slider = dict(continuous_update=False, style={"description_width": "initial"})
        scale = dict(min=0.0, max=max_scale, step=0.5, **slider)
        self.controls = {
            "subject": w.Dropdown(options=list(self.subjects), description="subject"),
            "s_image": w.FloatSlider(value=s_image, description=LABELS["s_image"], **scale),
            "s_pose": w.FloatSlider(value=s_pose, description=LABELS["s_pose"], **scale),
            "steps": w.IntSlider(value=steps, min=2, max=max(max_steps, steps), description=LABELS["steps"], **slider),
            "scheduler": w.Dropdown(value=scheduler, options=list(SCHEDULERS), description=LABELS["scheduler"]),
        }
        self.preset = w.Button(description=f"paper demo: s_I = {PAPER_DEMO[0]:g}, s_p = {PAPER_DEMO[1]:g}",
                               layout=w.Layout(width="auto"))
        self.preset.on_click(lambda _: self.set(s_image=PAPER_DEMO[0], s_pose=PAPER_DEMO[1]))
        self.weights = w.HTML()
        self.header = w.HTML()
        self.view = w.Image(format="png")
        self.status = w.HTML()
        for control in self.controls.values():
            control.observe(self._changed, names="value")
        self.widget = w.VBox([w.HBox([self.controls["subject"], self.controls["steps"], self.controls["scheduler"]]),
                              w.HBox([self.controls["s_image"], self.controls["s_pose"], self.preset]),
                              self.weights, self.header, self.view, self.status])
        self.renders, self.last, self.panel, self._hold = 0, None, None, False
        if truth is not None:
            self.truths[self.controls["subject"].value] = truth
        self.render()

    @property
    def state(self) -> dict:
        return {k: c.value for k, c in self.controls.items()}

    @property
    def renderer(self):
        """The chosen subject's Clips or FrameRenderer (built, and its grid precomputed, on first use)."""
        name = self.controls["subject"].value
        source = self.subjects[name]
        if callable(source) and not isinstance(source, FrameRenderer) and not hasattr(source, "clip"):
            self.status.value = f"preparing {name} (its finetuned model is trained if it is not in the cache) ..."
            source = self.subjects[name] = source()
            if self.precompute and hasattr(source, "precompute"):
                self.status.value = f"rendering the s_I x s_p grid of {name} once ..."
                source.precompute()
        return source

    @property
    def truth(self):
        return self.truths.get(self.controls["subject"].value, getattr(self.renderer, "truth", None))

    def positions(self) -> list[int]:
        source = self.renderer
        return list(range(len(source))) if hasattr(source, "clip") else self.frames

    def set(self, **values) -> np.ndarray:
        """Set several controls at once (one render), e.g. ``set(s_image=8, s_pose=3)``."""
        unknown = set(values) - set(self.controls)
        if unknown:
            raise ValueError(f"unknown controls {sorted(unknown)}; the explorer has {', '.join(self.controls)}")
        self._hold = True
        try:
            for name, value in values.items():
                self.controls[name].value = value
        finally:
            self._hold = False
        return self.render()

    def _changed(self, change) -> None:
        if not self._hold:
            self.render()

    def render(self) -> np.ndarray:
        """Sample the clip at the controls' settings and show it above its target poses."""
        s = self.state
        self.weights.value = weights_text(s["s_image"], s["s_pose"]).replace("Note:", "<b>Note:</b>")
        start = time.perf_counter()
        try:
            source, positions = self.renderer, self.positions()
            clip = source(positions, s["s_image"], s["s_pose"], s["steps"], s["scheduler"])
        except Exception as err:  # a bad setting must not kill the widget
            self.status.value = f"<span style='color:#b00'>{type(err).__name__}: {err}</span>"
            return self.last
        seconds = time.perf_counter() - start
        self.last, self.renders = clip, self.renders + 1
        self.panel = self._panel(source, positions, clip)
        self.view.value = _png(self.panel)
        where = {"grid": "from the precomputed grid", "memory": "remembered", "live": "rendered live"}
        origin = where.get(getattr(source, "last_source", None), "rendered")
        self.status.value = (f"{s['subject']}: s_I = {s['s_image']:g}, s_p = {s['s_pose']:g}, {s['steps']} "
                             f"{s['scheduler']} steps, {len(positions)} frames {origin} in {seconds:.2f} s")
        return clip

    def _panel(self, source, positions, clip) -> np.ndarray:
        """Rows: input image + generated frames; (ground truth); target poses."""
        zoom = self.zoom_setting or max(1, 256 // (2 * clip.shape[1]))
        blank = np.full_like(clip[0], 255)
        rows = [[source.input_image()] + list(clip)]
        truth = self.truth
        if truth is not None:
            rows.append([blank] + [np.asarray(truth[k if hasattr(source, "clip") else p])
                                   for k, p in enumerate(positions)])
        rows.append([blank] + [source.pose_image(p) for p in positions])
        self.header.value = ("<i>rows: the input image and the generated frames" +
                             (" · ground truth" if truth is not None else "") + " · target poses</i>")
        strips = [_hstack(r, zoom) for r in rows]
        gap = np.full((4, strips[0].shape[1], 3), 255, np.uint8)
        return np.concatenate([x for s in strips for x in (s, gap)][:-1])

    def _repr_mimebundle_(self, **kwargs):
        """The live widget in Jupyter, the current picture where widgets cannot run (static copies)."""
        bundle = self.widget._repr_mimebundle_(**kwargs)
        if isinstance(bundle, tuple):
            bundle = bundle[0]
        bundle = dict(bundle or {})
        if self.panel is not None:
            bundle["image/png"] = self.panel_png()
        bundle["text/plain"] = f"GuidanceExplorer({self.state}) - open in JupyterLab to drag the sliders"
        return bundle

    def panel_png(self) -> bytes:
        return _png(self.panel)


def guidance_explorer(pipe, image, poses, truth=None, s_image: float = 3.0, s_pose: float = 3.0, steps: int = 25,
                      scheduler: str = "ddim", frames=(0,), seed: int = 0, **kwargs) -> GuidanceExplorer:
    """An explorer for any ``pipe`` animating ``image`` with ``poses`` (IUV uint8 or UV maps) at the
    pose indices ``frames``. ``truth``: optional ground-truth frames (all poses), shown under the
    generated ones. Display the returned object (last line of a cell) to get the sliders."""
    return GuidanceExplorer({"input": FrameRenderer(pipe, image, poses, seed=seed)}, truth, s_image, s_pose, steps,
                            scheduler, frames, **kwargs)


def subject_explorer(run, videos, n_frames: int = 5, s_image: float | None = None, s_pose: float | None = None,
                     **kwargs) -> GuidanceExplorer:
    """The explorer over test ``videos``: each subject's DreamPose Full model (stage 1, subject and
    decoder finetuning, as the evaluation trains it), a clip of ``n_frames`` of its target poses,
    the paper's grid {0, 3, 5, 7, 9}^2 precomputed through the stage cache. Sliders start at the
    profile's s_I and s_p, sampler and steps are the profile's."""
    from .explorer import subject_clips

    sample = run.profile.sample
    subjects = {v.name: (lambda v=v: subject_clips(run, v, n_frames)) for v in videos}
    return GuidanceExplorer(subjects, None, sample.image_guidance_scale if s_image is None else s_image,
                            sample.pose_guidance_scale if s_pose is None else s_pose, sample.steps, sample.scheduler,
                            precompute=True, **kwargs)


def _renderer_of(source, image, poses, seed: int, truth):
    """(renderer, ground truth) of a GuidanceExplorer, a FrameRenderer, a Clips or a pipeline."""
    if isinstance(source, GuidanceExplorer):
        return source.renderer, source.truth if truth is None else truth
    if isinstance(source, Clips):  # frames are positions in the clip, and so is its ground truth
        return source, source.truth if truth is None else truth
    if isinstance(source, FrameRenderer):
        return source, truth
    if image is None or poses is None:
        raise ValueError("static_grid(pipe, image, poses, ...): a pipeline needs the input image and the poses")
    return FrameRenderer(source, image, poses, seed=seed), truth


def _side_column(axes, renderer, frame: int | None, truth) -> None:
    """The grid's left column: the input image, then (for one fixed frame) its pose and ground truth."""
    side = [("input", renderer.input_image())]
    if frame is not None:
        side.append(("target pose", renderer.pose_image(frame)))
        if truth is not None:
            side.append(("ground truth", np.asarray(truth[frame])))
    for a, ax in enumerate(axes):
        ax.axis("off")
        if a < len(side):
            ax.imshow(side[a][1])
            ax.set_title(side[a][0], fontsize=7)


def static_grid(source, image=None, poses=None, rows: str = "s_image", row_values=(1.0, 3.0, 6.0),
                cols: str = "s_pose", col_values=(1.0, 3.0, 6.0), frame: int = 0, s_image: float = 3.0,
                s_pose: float = 3.0, steps: int = 25, scheduler: str | None = "ddim", truth=None, seed: int = 0,
                title: str = "", scales_i=None, scales_p=None):
    """The explorer's picture over a grid of two settings (headless): one frame per cell.

    ``source``: a GuidanceExplorer (its renderer and ground truth are reused), a FrameRenderer, or
    a DreamPosePipeline (then ``image`` and ``poses`` are required). ``rows`` and ``cols`` name two
    of s_image, s_pose, steps, scheduler, frame; the others stay at the given values. The left
    column shows the input image, the target pose and (if given) the ground truth.

    The s_I x s_p grid has a shorthand: ``static_grid(pipe, image, poses, scales_i, scales_p)``
    (two sequences in place of ``rows`` and ``row_values``), or ``scales_i=..., scales_p=...``.
    """
    if not isinstance(rows, str):  # static_grid(pipe, image, poses, scales_i, scales_p)
        scales_i, scales_p, rows, cols = rows, row_values, "s_image", "s_pose"
    if scales_i is not None or scales_p is not None:
        rows, cols = "s_image", "s_pose"
        row_values = tuple(scales_i) if scales_i is not None else (s_image,)
        col_values = tuple(scales_p) if scales_p is not None else (s_pose,)
    import matplotlib.pyplot as plt

    from .figures import apply_style

    renderer, truth = _renderer_of(source, image, poses, seed, truth)
    fixed = {"s_image": s_image, "s_pose": s_pose, "steps": steps, "scheduler": scheduler, "frame": frame}
    for name in (rows, cols):
        if name not in fixed:
            raise ValueError(f"rows and cols must name one of {', '.join(fixed)}, got {name!r}")
    if rows == cols:
        raise ValueError("rows and cols must name two different settings")
    apply_style()
    n_rows, n_cols = len(row_values), len(col_values)
    fig, axes = plt.subplots(n_rows, n_cols + 1, figsize=(1.2 * (n_cols + 1), 1.25 * n_rows + 0.3), squeeze=False)
    for a, rv in enumerate(row_values):
        for b, cv in enumerate(col_values):
            s = {**fixed, rows: rv, cols: cv}
            img = renderer([s["frame"]], s["s_image"], s["s_pose"], s["steps"], s["scheduler"])[0]
            ax = axes[a, b + 1]
            ax.imshow(img)
            ax.set_xticks([])
            ax.set_yticks([])
            ax.spines[:].set_visible(False)  # the style draws left and bottom spines; a picture needs none
            if a == 0:
                ax.set_title(f"{LABELS[cols]} = {cv:g}" if not isinstance(cv, str) else f"{cv}", fontsize=7)
            if b == 0:
                ax.set_ylabel(f"{LABELS[rows]} = {rv:g}" if not isinstance(rv, str) else f"{rv}", fontsize=7)
    _side_column(axes[:, 0], renderer, None if "frame" in (rows, cols) else fixed["frame"], truth)
    others = ", ".join(f"{LABELS[k]} = {v if isinstance(v, str) else format(v, 'g')}" for k, v in fixed.items()
                       if k not in (rows, cols) and v is not None)
    fig.suptitle(title or others, fontsize=8)
    fig.tight_layout()
    return fig
