"""What a larger tiny VAE or UNet costs per training step, as ratios to today's sizes.

    python -m benchmarks.model_sizes [--repeats 5]

One training step (forward, backward, AdamW) at the tiny profile's shapes and batch: the VAE on
32 px person crops (batch 16), the stage-1 UNet on 16 x 16 latents with 14 input channels
(batch 16) and the subject-stage UNet at its batch of 4. Random weights; the variants run
interleaved (``common.interleaved``), so other load on the machine hits all alike. Quality is
not measured here (that needs training: ``benchmarks.fidelity``); this is what a size costs in
the budgets of BENCHMARKS.md.
"""
from __future__ import annotations

import argparse

import torch
import torch.nn.functional as F

VAE_WIDTHS = [[32, 64, 64], [48, 96, 96], [64, 128, 128]]
UNET_WIDTHS = [[32, 64], [64, 128], [96, 192]]


def _step(model, loss_of):
    opt = torch.optim.AdamW(model.parameters(), lr=1e-4)

    def step():
        opt.zero_grad()
        loss_of().backward()
        opt.step()
    return step


def variants(profile) -> dict[str, tuple[str, int, object]]:
    """{name: (group, parameters, one training step)} for every width of both parts; a group is
    one part at one batch, whose first width is today's tiny size."""
    from diffusers import AutoencoderKL, UNet2DConditionModel

    from dreampose.models.base import component_configs

    b, out = profile.base, {}
    torch.manual_seed(0)
    for channels in VAE_WIDTHS:
        cfg = component_configs(type(b)(**{**vars(b), "vae_channels": channels}), profile.data.height, 64)["vae"]
        vae, x = AutoencoderKL(**cfg), torch.randn(16, 3, profile.data.height // 2, profile.data.width // 2)
        def recon_loss(v=vae, x=x):
            return F.l1_loss(v.decode(v.encode(x).latent_dist.sample()).sample, x)

        out[f"VAE {channels}"] = ("VAE", sum(p.numel() for p in vae.parameters()), _step(vae, recon_loss))
    for channels in UNET_WIDTHS:
        cfg = component_configs(type(b)(**{**vars(b), "unet_channels": channels}), profile.data.height, 64)["unet"]
        unet = UNet2DConditionModel(**{**cfg, "in_channels": 4 + 2 * profile.model.n_poses})
        for batch in (16, 4):
            z = torch.randn(batch, unet.config.in_channels, cfg["sample_size"], cfg["sample_size"])
            cond, t = torch.randn(batch, 5, b.cross_attention_dim), torch.randint(0, 1000, (batch,))
            out[f"UNet {channels}, batch {batch}"] = (
                f"UNet, batch {batch}", sum(p.numel() for p in unet.parameters()),
                _step(unet, lambda u=unet, z=z, c=cond, t=t: u(z, t, encoder_hidden_states=c).sample.pow(2).mean()))
    return out


def main(argv: list[str] | None = None) -> int:
    from dreampose.config import load_profile
    from dreampose.provenance import machine_line

    from .common import interleaved

    parser = argparse.ArgumentParser(prog="python -m benchmarks.model_sizes", description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args(argv)
    found = variants(load_profile("tiny"))
    times = interleaved({name: step for name, (_, _, step) in found.items()}, repeats=args.repeats)
    print(f"`python -m benchmarks.model_sizes --repeats {args.repeats}` on {machine_line()}\n")
    print("| part | parameters | s / step | vs the smallest |\n|---|---|---|---|")
    smallest: dict[str, float] = {}
    for name, (group, params, _) in found.items():
        median = times[name]["median"]
        smallest.setdefault(group, median)
        print(f"| {name} | {params / 1e6:.2f}M | {median:.3f} | {median / smallest[group]:.2f}x |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
