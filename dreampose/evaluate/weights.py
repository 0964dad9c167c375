"""Pretrained metric weights: a file in the torch hub cache, downloaded only when online.

Every pretrained metric network (VGG-19, LPIPS, the FID Inception, the FVD I3D) is looked up
as ``<torch.hub.get_dir()>/checkpoints/<file name of its URL>``. With HF_HUB_OFFLINE or
TRANSFORMERS_OFFLINE set nothing is downloaded: the metric is reported as ``NA`` with the
path to copy the file to, never replaced by another network under the same name.
"""
from __future__ import annotations

import os
import socket
from pathlib import Path

import torch

NA = "n/a: pretrained weights unavailable offline"


def offline() -> bool:
    """True when downloads are off (HF_HUB_OFFLINE or TRANSFORMERS_OFFLINE)."""
    return any(os.environ.get(k, "").lower() in {"1", "true", "yes", "on"}
               for k in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE"))


def hub_weights(url: str) -> tuple[Path | None, str]:
    """Local path of a torch-hub checkpoint (downloading only when online), or (None, reason)."""
    path = Path(torch.hub.get_dir()) / "checkpoints" / url.rsplit("/", 1)[-1]
    if path.is_file():
        return path, ""
    if offline():
        return None, f"{path} is missing and downloads are off (HF_HUB_OFFLINE); copy it there to enable"
    path.parent.mkdir(parents=True, exist_ok=True)
    old = socket.getdefaulttimeout()
    socket.setdefaulttimeout(20)  # a dead network fails fast instead of hanging
    try:
        torch.hub.download_url_to_file(url, str(path), progress=False)
        return path, ""
    except Exception as err:  # noqa: BLE001 -- any download failure means "unavailable"
        return None, f"cannot download {url} ({type(err).__name__}: {err})"
    finally:
        socket.setdefaulttimeout(old)


def hub_state(url: str) -> tuple[dict | None, str]:
    """The state dict of a torch-hub checkpoint (``hub_weights``), loaded on the CPU, or (None, reason)."""
    path, reason = hub_weights(url)
    return (torch.load(path, map_location="cpu", weights_only=True), "") if path is not None else (None, reason)
