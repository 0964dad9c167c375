"""What a notebook says beside its figures: verdicts as rendered Markdown, clips and code inline.

    say("**What this run shows**", bullets([...]))   # Markdown in a notebook, plain text elsewhere
    either(a < b, "falls", "does **not** fall")      # a verdict's words from a measured comparison
    show_clip(clip, out / "name.gif", fps)           # write a GIF (panels.video) and show it
    methods_clip(res, profile, video)                # truth | stage 1 | Ours_Full | Ours_1-pose | texture transfer
    show_source(expand_conv_in)                      # the code itself, as a Markdown code block
"""
from __future__ import annotations

import inspect
import textwrap
from pathlib import Path

from .notebook import in_notebook


def say(*parts: str) -> None:
    """Display the parts, joined by blank lines, as Markdown (printed outside a notebook). Returns
    nothing, so that a cell ending in ``say(...)`` does not show the text a second time as a string."""
    text = "\n\n".join(p for p in parts if p)
    if in_notebook():
        from IPython.display import Markdown, display

        display(Markdown(text))
    else:
        print(text)


def bullets(lines) -> str:
    """A Markdown list, one item per non-empty line."""
    return "\n".join(f"- {line}" for line in lines if line)


def either(condition, yes: str, no: str) -> str:
    """``yes`` if the measured ``condition`` holds, else ``no`` (so prose follows the numbers)."""
    return yes if condition else no


def show_clip(clip, path: str | Path, fps: float) -> Path:
    """Write ``clip`` (T, H, W, 3) uint8 to ``path`` (.gif) and show it inline in a notebook."""
    from .panels.video import write_clip

    path = write_clip(clip, path, fps)
    if in_notebook():
        from IPython.display import Image, display

        display(Image(data=Path(path).read_bytes(), format="gif"))
    return Path(path)


CLIP_FPS_DIVISOR = 3  # clips play at a third of the videos' frame rate, slow enough to follow one garment


def methods_clip(res, profile, video):
    """One test video's evaluation frames side by side, titled: ground truth | stage 1 only |
    Ours_Full | Ours_1-pose | DensePose texture transfer (``reproduce.Results``: the frames come
    from the evaluation's frame cache)."""
    from .evaluate.baselines import texture_transfer
    from .evaluate.experiments import FULL, ONE_POSE, STAGE1_ONLY, targets_of
    from .panels.video import clip_grid

    i, targets = targets_of(profile, video)
    columns = {"ground truth": video.frames[targets]}
    columns.update({label: res.methods[label](video, i, targets) for label in (STAGE1_ONLY, FULL, ONE_POSE)})
    columns["texture transfer"] = texture_transfer(video, i, targets)
    return clip_grid(columns)


def paper_tables_mismatch() -> str:
    """The paper's Table 1 and Table 2 disagree on one method: a sentence built from the quoted rows."""
    from .evaluate.tables import PAPER_TABLE1, PAPER_TABLE2

    ours_full = next(r for r in PAPER_TABLE2 if r["method"] == "Ours_Full")
    dreampose = next(r for r in PAPER_TABLE1 if r["method"] == "DreamPose")
    metrics = [m for m in ("L1", "SSIM", "VGG", "LPIPS") if m in ours_full and m in dreampose]
    return ("**The paper's two tables disagree.** Ours_Full of its Table 2 and DreamPose of its Table 1 are the "
            "same method on the same test set, yet Table 2 prints " + ", ".join(f"{m} {ours_full[m]}" for m in metrics)
            + " and Table 1 " + ", ".join(f"{m} {dreampose[m]}" for m in metrics) + ". The paper does not say why "
            "(perhaps another frame subset or checkpoint); we quote both as printed, and compare our rows only "
            "with the table they belong to.")


def show_source(*objects) -> None:
    """The source of functions or methods, shown as Python code blocks."""
    return say(*(f"```python\n{textwrap.dedent(inspect.getsource(o))}```" for o in objects))
