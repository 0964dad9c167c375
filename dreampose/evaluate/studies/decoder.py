"""Decoder-stage study (notebook 05): D(E(x)) before and after decoder finetuning."""
from __future__ import annotations

import numpy as np
import torch

from ...cache import Artifact
from ..metrics import l1, psnr


def _vae_roundtrip(vae, frames: np.ndarray) -> np.ndarray:
    x = torch.from_numpy(frames).permute(0, 3, 1, 2).float() / 127.5 - 1
    with torch.no_grad():
        z = vae.encode(x).latent_dist.mean
        y = vae.decode(z).sample.clamp(-1, 1)
    return ((y + 1) * 127.5).round().byte().permute(0, 2, 3, 1).numpy()


def decoder_reconstruction(before: Artifact, after: Artifact, video, images: list[int], targets: list[int]) -> dict:
    """D(E(x)) with the VAE of ``before`` (the subject stage) and of ``after`` (decoder finetuned),
    on the subject image(s) (frames ``images`` of ``video``) and on the unseen ``targets``.

    Returns {"images", "targets", "before"/"after": {"subject"/"targets": frames},
    "psnr": {(version, split): mean PSNR}, "l1": same}."""
    from diffusers import AutoencoderKL

    from ...stages import vae_path

    out = {"images": list(images), "targets": list(targets), "psnr": {}, "l1": {}}
    for version, art in (("before", before), ("after", after)):
        vae = AutoencoderKL.from_pretrained(vae_path(art)).eval()  # the VAE alone
        out[version] = {}
        for split, idx in (("subject", images), ("targets", targets)):
            rec = _vae_roundtrip(vae, video.frames[idx])
            out[version][split] = rec
            out["psnr"][(version, split)] = float(np.mean(psnr(rec, video.frames[idx])))
            out["l1"][(version, split)] = float(np.mean(l1(rec, video.frames[idx])))
    return out
