"""Whether to draw a progress bar: asked for (``progress=True``) and not switched off by
``TQDM_DISABLE`` (which ``dreampose.run_notebooks`` sets: in a saved notebook a bar is a dead
widget stuck at 0 %). tqdm reads that variable only where ``disable`` is not passed."""
from __future__ import annotations

import os


def shown(progress: bool) -> bool:
    return bool(progress) and os.environ.get("TQDM_DISABLE", "").lower() not in ("1", "true", "yes")
