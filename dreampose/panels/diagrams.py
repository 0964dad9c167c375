"""The model drawn from the shapes that flow through it: Fig. 2 (the whole model), Fig. 3 (the
split CLIP-VAE encoder and adapter), Fig. 4 (the modified UNet and the pose window), and two
views of the tensors at initialisation (notebook 02).

The diagrams take ``dims``: per-example shapes (no batch axis) by name, as notebook 02 records
them from one forward pass: ``x0``, ``pixels`` (CLIP input), ``c_clip``, ``c_vae``, ``c_I``,
``iuv`` (H, W), ``c_p``, ``z_t``, ``x_in`` ([z_t, c_p]), ``eps``, ``frame`` (decoded), and the
UNet's ``conv_in``, ``down0`` ..., ``mid``, ``up0`` ... outputs.
"""
from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np

from ..figures import apply_style, block_diagram, image_grid, iuv_to_rgb, uv_to_rgb

LEGEND = {"frozen": "frozen", "trained": "pretrained, finetuned", "new": "new, zero-initialised", "data": "tensor"}


def _s(shape) -> str:
    """A shape as "4×16×16"."""
    return "×".join(map(str, shape))


def architecture_diagram(dims: dict, grid: int, factor: int, steps: int, scheduler: str, name: str = ""):
    """Fig. 2: input image -> CLIP and VAE encoders -> adapter -> c_I; poses -> c_p; [z_t, c_p] ->
    UNet -> sampler -> VAE decoder -> frame. ``grid``: CLIP patches per side; ``factor``: the VAE's
    downsampling; ``steps`` and ``scheduler`` of sampling; ``name`` (the profile) goes in the title."""
    d = {k: _s(v) for k, v in dims.items()}
    boxes = {
        "img": (0.07, 0.78, f"input image x0\n{d['x0']}", "data"),
        "clip": (0.25, 0.9, f"CLIP image encoder\n{grid}×{grid} patches + CLS", "frozen"),
        "vae_e": (0.25, 0.64, f"VAE encoder E\n÷{factor}", "frozen"),
        "adapter": (0.45, 0.78, f"adapter A\nc_CLIP {d['c_clip']}\nc_VAE {d['c_vae']}", "new"),
        "c_I": (0.63, 0.9, f"c_I\n{d['c_I']} tokens", "data"),
        "poses": (0.07, 0.3, f"poses p(i-2) … p(i+2)\nDensePose IUV {d['iuv']}", "data"),
        "c_p": (0.27, 0.3, f"c_p: {dims['c_p'][0] // 2} UV maps\n{d['c_p']}", "data"),
        "z_t": (0.27, 0.08, f"noisy latent z_t\n{d['z_t']}", "data"),
        "cat": (0.45, 0.2, f"concatenate\n{d['x_in']}", "op"),
        "unet": (0.63, 0.45, f"UNet eps_theta\nconv_in {dims['x_in'][0]}→{dims['conv_in'][0]}\n"
                             "cross-attention reads c_I", "trained"),
        "sched": (0.82, 0.45, f"sampler step, dual guidance\nrepeated {steps}× ({scheduler})", "op"),
        "vae_d": (0.8, 0.1, "VAE decoder D\n(finetuned per subject)", "trained"),
        "out": (0.95, 0.1, f"frame x'_i\n{d['frame']}", "data"),
    }
    arrows = [("img", "clip"), ("img", "vae_e"), ("clip", "adapter"), ("vae_e", "adapter"), ("adapter", "c_I"),
              ("c_I", "unet"), ("poses", "c_p"), ("c_p", "cat"), ("z_t", "cat"), ("cat", "unet"), ("unet", "sched"),
              ("sched", "vae_d", "z'_i"), ("vae_d", "out")]
    title = f"DreamPose (paper Fig. 2), shapes of this run ({name})" if name else "DreamPose (paper Fig. 2)"
    return block_diagram(boxes, arrows, size=(10, 4.2), title=title, legend=LEGEND)


def adapter_diagram(dims: dict, grid: int, cell: int, latent_channels: int, clip_layers: int, clip_width: int,
                    mode: str = "clip+vae"):
    """Fig. 3: the CLIP tokens through P (identity init) plus the VAE latent pooled onto the
    ``grid`` × ``grid`` patch cells of ``cell`` × ``cell`` latents through W_p and W_g (zero init);
    ``mode`` "clip" (the Ours_CLIP ablation) draws the CLIP branch only."""
    d = {k: _s(v) for k, v in dims.items()}
    features, width_in, width = latent_channels * cell * cell, dims["c_clip"][-1], dims["c_I"][-1]
    clip_branch = {
        "pix": (0.25, 0.85, f"CLIP preprocessing\n{d['pixels']}", "op"),
        "clip": (0.45, 0.85, f"CLIP image tower\n{clip_layers} layers, width {clip_width}", "frozen"),
        "cclip": (0.65, 0.85, f"c_CLIP\n{d['c_clip']}", "data"),
        "P": (0.8, 0.85, f"P: Linear {width_in}→{width}\non every token\n(identity init)", "trained"),
    }
    vae_branch = {} if mode == "clip" else {
        "vae": (0.25, 0.25, "VAE encoder E\n(posterior mean)", "frozen"),
        "cvae": (0.45, 0.25, f"c_VAE\n{d['c_vae']}", "data"),
        "pool": (0.63, 0.45, f"pool onto {grid}×{grid} cells\nof {cell}×{cell} latents: {grid * grid}×{features}",
                 "op"),
        "gpool": (0.63, 0.1, f"global pool {cell}×{cell}\n1×{features}", "op"),
        "Wp": (0.8, 0.45, f"W_p: Linear {features}→{width}\nto the patch tokens\n(zero init)", "new"),
        "Wg": (0.8, 0.1, f"W_g: Linear {features}→{width}\nto the CLS token\n(zero init)", "new"),
    }
    boxes = {"img": (0.08, 0.55, f"input image\n{d['x0']}", "data"), **clip_branch, **vae_branch,
             "sum": (0.96, 0.5, f"sum\nc_I\n{d['c_I']}", "data")}
    arrows = [("img", "pix"), ("pix", "clip"), ("clip", "cclip"), ("cclip", "P"), ("img", "vae"), ("vae", "cvae"),
              ("cvae", "pool"), ("cvae", "gpool"), ("pool", "Wp"), ("gpool", "Wg"), ("P", "sum"), ("Wp", "sum"),
              ("Wg", "sum")]
    arrows = [a for a in arrows if a[0] in boxes and a[1] in boxes]  # the CLIP-only adapter has no VAE branch
    return block_diagram(boxes, arrows, size=(10, 3.6), title="split CLIP-VAE encoder and adapter (paper Fig. 3)",
                         legend={**LEGEND, "trained": "trained"})


def unet_diagram(dims: dict, down_blocks: list[str], up_blocks: list[str]):
    """Fig. 4 (right): the UNet as a U, down blocks on the left, the mid block at the bottom, up
    blocks on the right, with conv_in's pretrained and zero parts and c_I into every
    cross-attention block; ``down_blocks`` / ``up_blocks`` are the UNet config's block types."""
    d = {k: _s(v) for k, v in dims.items()}
    downs = [f"{b} {d[f'down{k}']}" for k, b in enumerate(down_blocks)]
    ups = [f"{b} {d[f'up{k}']}" for k, b in enumerate(up_blocks)]
    ys = np.linspace(0.85, 0.3, len(downs))
    boxes = {
        "z": (0.07, 0.88, f"z_t\n{d['z_t']}", "data"),
        "p": (0.07, 0.12, f"c_p\n{d['c_p']}", "data"),
        "conv": (0.13, 0.5, f"conv_in {dims['x_in'][0]}→{dims['conv_in'][0]}\nlatent weights: pretrained\n"
                            "pose weights: zero", "new"),
        **{f"d{k}": (0.36, y, n, "trained") for k, (n, y) in enumerate(zip(downs, ys))},
        "mid": (0.56, 0.08, f"mid block {d['mid']}", "trained"),
        **{f"u{k}": (0.76, y, n, "trained") for k, (n, y) in enumerate(zip(ups, ys[::-1]))},
        "eps": (0.94, 0.62, f"eps\n{d['eps']}", "data"),
        "cI": (0.56, 0.6, f"c_I {d['c_I']}\n(cross-attention\nkeys and values)", "data"),
    }
    chain = ["conv", *[f"d{k}" for k in range(len(downs))], "mid", *[f"u{k}" for k in range(len(ups))], "eps"]
    arrows = [("z", "conv"), ("p", "conv"), *zip(chain, chain[1:])]
    arrows += [("cI", f"{side}{k}") for side, names in (("d", downs), ("u", ups))
               for k, n in enumerate(names) if "CrossAttn" in n]
    return block_diagram(boxes, arrows, size=(10, 3.6), title="modified UNet (paper Fig. 4), shapes of this run",
                         legend={"new": "modified, zero-init part", "trained": "pretrained, finetuned",
                                 "data": "tensor"})


def pose_window_panel(frames: np.ndarray, iuv: np.ndarray, window: np.ndarray, idx: list[int], target: int):
    """Fig. 4 (left): the frames ``idx`` of the window around frame ``target``, their IUV, and the
    pose window ``window`` (n_poses, 2, h, w) the UNet reads, U red and V green."""
    titles = [f"p(i) = frame {k} (target)" if k == target else f"p(i{k - target:+d}) = frame {k}" for k in idx]
    return image_grid({"frame": [frames[k] for k in idx], "IUV": [iuv_to_rgb(iuv[k]) for k in idx],
                       "c_p (U red, V green)": [uv_to_rgb(uv) for uv in window]}, titles=titles)


def adapter_tensors_panel(image: np.ndarray, pixels: np.ndarray, c_vae: np.ndarray, c_clip: np.ndarray,
                          c_I: np.ndarray):
    """The adapter's tensors as pictures: the input ``image``, the CLIP ``pixels`` (3, H, W), each
    channel of ``c_vae`` (C, h, w), and the token matrices ``c_clip`` and ``c_I`` (tokens × features,
    CLS first) on one colour scale."""
    apply_style()
    n = c_vae.shape[0]
    fig, axes = plt.subplots(1, n + 4, figsize=(1.5 * (n + 4), 1.9),
                             gridspec_kw={"width_ratios": [1] * (n + 2) + [1.4, 1.4]})
    axes[0].imshow(image)
    axes[0].set_title("input image")
    axes[1].imshow(np.transpose((pixels - pixels.min()) / (pixels.max() - pixels.min()), (1, 2, 0)))
    axes[1].set_title("CLIP pixels")
    for k in range(n):
        axes[2 + k].imshow(c_vae[k], cmap="RdBu_r")
        axes[2 + k].set_title(f"c_VAE ch. {k}")
    vmax = float(np.abs(c_clip).max())
    for ax, (name, m) in zip(axes[n + 2:], [("c_CLIP", c_clip), ("c_I = A(c_CLIP, c_VAE)", c_I)]):
        ax.imshow(m, cmap="RdBu_r", vmin=-vmax, vmax=vmax, aspect="auto", interpolation="nearest")
        ax.set_title(name)
        ax.set_xlabel("feature")
    axes[n + 2].set_ylabel("token")
    for ax in axes:
        ax.set_xticks([])
        ax.set_yticks([])
    fig.tight_layout()
    return fig


def conv_in_weights_panel(weight: np.ndarray, latent_channels: int, n_poses: int):
    """conv_in's weights (out, in, k, k), summed in absolute value over outputs and kernel: one bar
    per input channel, the latent ones (from the base) and the pose ones (new) coloured apart."""
    apply_style()
    per_channel = np.abs(weight).sum(axis=(0, 2, 3))
    lat = latent_channels
    fig, ax = plt.subplots(figsize=(6, 2))
    ax.bar(range(lat), per_channel[:lat], color="tab:blue", label="latent z_t (copied from the base)")
    ax.bar(range(lat, len(per_channel)), per_channel[lat:], color="tab:green", label="pose c_p (new)")
    ax.set_xticks(range(len(per_channel)), [f"z{k}" for k in range(lat)] +
                  [f"p{k // 2 - n_poses // 2:+d}{'UV'[k % 2]}" for k in range(len(per_channel) - lat)], fontsize=6)
    ax.set_ylabel("Σ |weight|")
    ax.legend(fontsize=6, frameon=False)
    ax.set_title(f"conv_in weights per input channel ({weight.shape[0]} outputs × "
                 f"{weight.shape[2]} × {weight.shape[3]})")
    return fig


def finetuning_diagram(n_videos: int, stage1_steps: int, subject_steps: int, decoder_steps: int,
                       random_crop: bool = True, name: str = ""):
    """Fig. 5: the two finetuning phases. Stage 1 trains the UNet and adapter on all ``n_videos``
    training videos; then, per subject, the UNet and adapter are finetuned on the subject's
    input image(s) (with random crops) and, separately, the VAE decoder on the same images.
    Step counts are the run's; ``name`` (the profile) goes in the title."""
    crops = "random crops" if random_crop else "no crops"
    boxes = {
        "videos": (0.08, 0.78, f"all training videos\n{n_videos} subjects, frame pairs", "data"),
        "base": (0.08, 0.3, "base model\n(Stable Diffusion + surgery)", "frozen"),
        "stage1": (0.3, 0.55, f"phase 1: stage-1 finetuning\nUNet + adapter, {stage1_steps} steps\n"
                              "image/pose dropout", "trained"),
        "s1model": (0.47, 0.55, "stage-1 model\n(any person)", "data"),
        "x0": (0.7, 0.55, "subject's image(s) x0\n+ their own poses", "data"),
        "subject": (0.7, 0.9, f"phase 2a: subject finetuning\nUNet + adapter, {subject_steps} steps\n"
                               f"{crops}, no dropout", "trained"),
        "decoder": (0.7, 0.18, f"phase 2b: VAE decoder finetuning\ndecoder only, {decoder_steps} steps\n"
                              "D(E(x0)) → x0", "trained"),
        "model": (0.9, 0.55, "subject's model\n→ sample the poses\n(dual guidance)", "new"),
    }
    arrows = [("videos", "stage1"), ("base", "stage1"), ("stage1", "s1model"), ("s1model", "subject"),
              ("s1model", "decoder", "its VAE"), ("x0", "subject"), ("x0", "decoder"), ("subject", "model", "UNet, A"),
              ("decoder", "model", "D")]
    title = "the two finetuning phases (paper Fig. 5)" + (f", steps of this run ({name})" if name else "")
    return block_diagram(boxes, arrows, size=(10, 3.6), title=title,
                         legend={"frozen": "pretrained", "trained": "a finetuning", "data": "data / model",
                                 "new": "result"})
