"""Progress bars: ``shown`` says whether to draw one: asked for (``progress=True``) and not
switched off by ``TQDM_DISABLE`` (which ``dreampose.run_notebooks`` sets: in a saved notebook a
bar is a dead widget stuck at 0 %; tqdm reads that variable only where ``disable`` is not
passed). ``quiet_libraries`` silences the libraries' own bars, for the CLI, its worker processes
and the notebooks alike."""
from __future__ import annotations

import logging
import os
import sys


def shown(progress: bool) -> bool:
    return bool(progress) and os.environ.get("TQDM_DISABLE", "").lower() not in ("1", "true", "yes")


def quiet_libraries() -> None:
    """No weight-loading or shard-writing progress bars from transformers / diffusers (the stages
    draw their own), and no advice to install torchvision, which this project must not have."""
    os.environ["HF_HUB_DISABLE_PROGRESS_BARS"] = "1"  # read by transformers at import
    if "transformers" in sys.modules:
        sys.modules["transformers"].utils.logging.disable_progress_bar()
    from diffusers.utils import logging as diffusers_logging

    diffusers_logging.disable_progress_bar()
    logging.getLogger("transformers.utils.import_utils").addFilter(_no_torchvision_advice)  # added once


def _no_torchvision_advice(record: logging.LogRecord) -> bool:
    return "requires torchvision" not in record.getMessage()
