"""The guidance explorer: drag s_I and s_p (paper 4.4) and watch one frame change.

    explorer = guidance_explorer(pipe, image, iuv_poses, truth=frames)   # last line of a cell
    fig = static_grid(explorer, rows="s_image", cols="s_pose")           # the same, headless

``FrameRenderer`` samples chosen frames of one input with the pipeline's own stages (same
initial noise per frame for a seed, ``denoise_step`` with its dual guidance, ``decode``), but
encodes the image condition c_I and the pose windows c_p once, and remembers rendered frames, so
on a CPU a slider change costs one sampling run of one frame and returning to a setting costs
nothing.
"""
from __future__ import annotations

import copy
import io
import time
from collections import OrderedDict

import numpy as np
import torch

from .data.images import as_image_batch
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
    """Sliders for s_I, s_p, steps and frame, a sampler menu, and the rendered frame; re-renders on change."""

    def __init__(self, renderer: FrameRenderer, truth=None, s_image: float = 3.0, s_pose: float = 3.0,
                 steps: int = 25, scheduler: str = "ddim", frame: int = 0, max_scale: float = 10.0,
                 max_steps: int = 100, zoom: int | None = None):
        import ipywidgets as w

        self.renderer, self.truth = renderer, truth
        self.zoom = zoom or max(1, 256 // renderer.size[0])
        slider = dict(continuous_update=False, style={"description_width": "initial"})
        self.controls = {
            "s_image": w.FloatSlider(value=s_image, min=0.0, max=max_scale, step=0.5, description=LABELS["s_image"],
                                     **slider),
            "s_pose": w.FloatSlider(value=s_pose, min=0.0, max=max_scale, step=0.5, description=LABELS["s_pose"],
                                    **slider),
            "steps": w.IntSlider(value=steps, min=2, max=max(max_steps, steps), description=LABELS["steps"], **slider),
            "scheduler": w.Dropdown(value=scheduler, options=list(SCHEDULERS), description=LABELS["scheduler"]),
            "frame": w.IntSlider(value=frame, min=0, max=len(renderer) - 1, description=LABELS["frame"], **slider),
        }
        columns = ["input image", "target pose"] + (["ground truth"] if truth is not None else []) + ["generated"]
        self.header = w.HTML("<b>" + " · ".join(columns) + "</b>")
        self.view = w.Image(format="png")
        self.status = w.HTML()
        for control in self.controls.values():
            control.observe(self._changed, names="value")
        self.widget = w.VBox([w.HBox([self.controls["s_image"], self.controls["s_pose"]]),
                              w.HBox([self.controls["steps"], self.controls["scheduler"], self.controls["frame"]]),
                              self.header, self.view, self.status])
        self.renders, self.last, self.panel = 0, None, None
        self.render()

    @property
    def state(self) -> dict:
        return {k: c.value for k, c in self.controls.items()}

    def _changed(self, change) -> None:
        self.render()

    def render(self) -> np.ndarray:
        """Sample the frame at the controls' settings and show it beside the input and pose."""
        s = self.state
        start = time.perf_counter()
        try:
            frame = self.renderer([s["frame"]], s["s_image"], s["s_pose"], s["steps"], s["scheduler"])[0]
        except Exception as err:  # a bad setting must not kill the widget
            self.status.value = f"<span style='color:#b00'>{type(err).__name__}: {err}</span>"
            return self.last
        seconds = time.perf_counter() - start
        images = [self.renderer.input_image(), self.renderer.pose_image(s["frame"])]
        if self.truth is not None:
            images.append(np.asarray(self.truth[s["frame"]]))
        self.last, self.renders = frame, self.renders + 1
        self.panel = _hstack(images + [frame], self.zoom)
        self.view.value = _png(self.panel)
        self.status.value = (f"s_I = {s['s_image']:g}, s_p = {s['s_pose']:g}, {s['steps']} {s['scheduler']} steps, "
                             f"frame {s['frame']}: rendered in {seconds:.2f} s")
        return frame

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
                      scheduler: str = "ddim", frame: int = 0, seed: int = 0, **kwargs) -> GuidanceExplorer:
    """An explorer for ``pipe`` animating ``image`` with ``poses`` (IUV uint8 or UV maps).

    ``truth``: optional ground-truth frames, shown beside the generated one. Display the returned
    object (last line of a cell) to get the sliders.
    """
    return GuidanceExplorer(FrameRenderer(pipe, image, poses, seed=seed), truth, s_image, s_pose, steps, scheduler,
                            frame, **kwargs)


def _renderer_of(source, image, poses, seed: int, truth):
    """(FrameRenderer, ground truth) of a GuidanceExplorer, a FrameRenderer or a pipeline."""
    if isinstance(source, GuidanceExplorer):
        return source.renderer, source.truth if truth is None else truth
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
