"""Paper-scale ESTIMATES (nothing here runs at paper scale): FLOPs, A100 time, training memory.
Measurements on a GPU: ``python -m benchmarks.gpu`` (``make gpu-check``).

The SD 1.x UNet (SD 1.4's, the paper profile's; SD 1.5 has the same) is built from its config
in benchmarks/configs/sd14 on the meta device (no weights, no memory), with DreamPose's conv_in
surgery (4 + 2 x 5 pose channels) and 768-d conditioning tokens;
torch.utils.flop_counter.FlopCounterMode counts one call at 512x640 (a 64x80 latent), with
explicit attention so its matmuls are counted. Activation memory for training
is the sum of the tensors autograd saves in one forward pass (saved_tensors_hooks), with and
without gradient checkpointing.
"""
from __future__ import annotations

import torch
from torch.utils.flop_counter import FlopCounterMode

LATENT = (64, 80)  # 512 x 640 px / 8
TOKENS = 50 + 64  # c_I: CLIP's 257 tokens are pooled by the adapter; ~50-120 tokens, FLOP share is tiny
A100_BF16_PEAK = 312e12
PAPER_S_PER_FRAME = 18.0  # paper: ~18 s per frame on an A100
PAPER_EVALS = 101 * 3  # PNDM 100 (101 UNet evaluations) x 3 guidance branches


def sd_unet():
    from diffusers import UNet2DConditionModel
    from diffusers.models.attention_processor import AttnProcessor

    from .paper_models import configs

    with torch.device("meta"):
        unet = UNet2DConditionModel.from_config({**configs()["unet"], "in_channels": 4 + 2 * 5})
    unet.set_attn_processor(AttnProcessor())  # explicit matmuls: counted by FlopCounterMode
    return unet


def unet_flops(unet, batch: int = 1) -> int:
    x = torch.empty(batch, unet.config.in_channels, *LATENT, device="meta")
    c = torch.empty(batch, TOKENS, unet.config.cross_attention_dim, device="meta")
    counter = FlopCounterMode(display=False)
    with counter, torch.no_grad():
        unet(x, torch.tensor([500], device="meta"), encoder_hidden_states=c)
    return counter.get_total_flops()


def activation_bytes(unet, batch: int, checkpointing: bool) -> int:
    """Bytes autograd keeps for backward after one training forward pass (fp32)."""
    saved = {}

    def pack(t):
        saved[(t.data_ptr() if t.device.type != "meta" else id(t))] = t.numel() * t.element_size()
        return t

    unet.train()
    if checkpointing:
        unet.enable_gradient_checkpointing()
    else:
        unet.disable_gradient_checkpointing()
    x = torch.empty(batch, unet.config.in_channels, *LATENT, device="meta")
    c = torch.empty(batch, TOKENS, unet.config.cross_attention_dim, device="meta")
    unet.requires_grad_(True)
    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        unet(x, torch.tensor([500] * batch, device="meta"), encoder_hidden_states=c)
    unet.disable_gradient_checkpointing()
    return sum(saved.values())


def estimate(our_evals_per_frame: int, our_label: str, micro_batch: int = 4) -> dict:
    unet = sd_unet()
    n_params = sum(p.numel() for p in unet.parameters())
    flops = unet_flops(unet)
    throughput = PAPER_EVALS * flops / PAPER_S_PER_FRAME  # effective FLOP/s implied by the paper's 18 s
    gb = 1e9
    weights, grads = 4 * n_params, 4 * n_params
    adam32, adam8 = 8 * n_params, 2 * n_params
    act = {}
    for ckpt in (False, True):
        try:
            act[ckpt] = activation_bytes(unet, micro_batch, ckpt)
        except Exception as err:  # noqa: BLE001 - an estimate; say why it is missing
            act[ckpt] = None
            act[f"error_{ckpt}"] = repr(err)[:200]
    memory = {}
    for ckpt in (False, True):
        for opt, ob in (("AdamW fp32", adam32), ("8-bit Adam", adam8)):
            a = act[ckpt]
            memory[f"{'checkpointing' if ckpt else 'no checkpointing'}, {opt}"] = (
                None if a is None else round((weights + grads + ob + a) / gb, 1))
    return {
        "label": "ESTIMATES, not measurements",
        "unet_params": n_params,
        "gflops_per_unet_call_512x640": flops / 1e9,
        "paper_unet_evals_per_frame": PAPER_EVALS,
        "paper_tflops_per_frame": PAPER_EVALS * flops / 1e12,
        "implied_effective_tflops_per_s_from_paper_18s": throughput / 1e12,
        "implied_utilisation_of_a100_bf16_peak": throughput / A100_BF16_PEAK,
        "ours": our_label, "our_unet_evals_per_frame": our_evals_per_frame,
        "our_estimated_a100_s_per_frame": our_evals_per_frame * flops / throughput,
        "paper_a100_s_per_frame": PAPER_S_PER_FRAME,
        "a100_s_per_frame_at_40pct_of_peak": {"paper": PAPER_EVALS * flops / (0.4 * A100_BF16_PEAK),
                                              "ours": our_evals_per_frame * flops / (0.4 * A100_BF16_PEAK)},
        "training_micro_batch": micro_batch,
        "training_memory_gb_fp32_weights": memory,
        "memory_parts_gb": {"weights": weights / gb, "grads": grads / gb, "adamw_fp32_states": adam32 / gb,
                            "adam_8bit_states": adam8 / gb,
                            "activations_no_checkpointing": None if act[False] is None else act[False] / gb,
                            "activations_checkpointing": None if act[True] is None else act[True] / gb},
        "notes": "UNet only (the VAE and CLIP are frozen: ~0.3 GB more in fp16, no grads). Time scales the "
                 "paper's own 18 s/frame by UNet evaluations (same effective throughput, so batching gains "
                 "on the GPU are not counted).",
    }
