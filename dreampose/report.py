"""What a notebook says beside its figures: verdicts as rendered Markdown, clips and code inline.

    say("**What this run shows**", bullets([...]))   # Markdown in a notebook, plain text elsewhere
    either(a < b, "falls", "does **not** fall")      # a verdict's words from a measured comparison
    show_clip(clip, out / "name.gif", fps)           # write a GIF (panels.video) and show it
    show_source(expand_conv_in)                      # the code itself, as a Markdown code block
"""
from __future__ import annotations

import inspect
import textwrap
from pathlib import Path

from .notebook import in_notebook


def say(*parts: str) -> str:
    """Display the parts, joined by blank lines, as Markdown (printed outside a notebook); returns the text."""
    text = "\n\n".join(p for p in parts if p)
    if in_notebook():
        from IPython.display import Markdown, display

        display(Markdown(text))
    else:
        print(text)
    return text


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


def show_source(*objects) -> str:
    """The source of functions or methods, shown as Python code blocks."""
    return say(*(f"```python\n{textwrap.dedent(inspect.getsource(o))}```" for o in objects))
