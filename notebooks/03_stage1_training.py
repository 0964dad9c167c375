# ---
# jupyter:
#   jupytext:
#     text_representation:
#       extension: .py
#       format_name: percent
#       format_version: '1.3'
#       jupytext_version: 1.19.6
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # 03 · Stage 1: learning to read a pose and a picture
#
# - **Paper:** section 4.2.3 (stage 1)
# - **Runtime** on 2 CPU cores (AMD EPYC, tiny profile, measured 2026-12-03): 36 s warm (every
#   stage cached), 58 s as the last step of a fresh `make reproduce`; cold (alone, on an empty
#   cache) about the same (it trains nothing: the base and its five stage-1 models are shipped)
# - [← 02 Architecture](02_architecture.ipynb) · [04 Subject finetuning →](04_subject_finetuning.ipynb)
#
# After the surgery of notebook 02 the network computes exactly what the base model computes,
# and that is the problem: the ten new pose channels of the UNet's first convolution have zero
# weights and the adapter's VAE branch is zero, so the model still has no idea what a pose is.
# Stage 1 (paper 4.2.3) teaches it on every training video at once. A training sample is two
# frames of one video: one plays the input image x0, the other is the target to denoise, given
# the target's window of five poses. Only the UNet and the adapter learn; the VAE and the CLIP
# image tower stay frozen.
#
# A small share of samples loses its image, its pose or both (replaced by the null condition),
# so the same network also learns the three branches that dual classifier-free guidance mixes
# at sampling time. This notebook shows the data, trains (or loads) stage 1, follows its loss,
# samples along the way, and checks what the dropout is for.

# %% tags=["parameters"]
profile = "tiny"
seed = 0
output_dir = ""  # "": figures/ for tiny, figures/<profile>/ otherwise
device = "cpu"
overrides = []

# %%
from dreampose.notebook import setup

nb = setup(profile, seed=seed, output_dir=output_dir, device=device, overrides=overrides)
p, run, world, out = nb.profile, nb.run, nb.world, nb.output_dir

# %%
# every file this notebook writes into output_dir (the tests check this list)
nb.expect(
    ["stage1_data.png", "stage1_sample.png"],           # training videos; one training pair
    ["pose_errors.png"] * (p.data.source == "synthetic"),  # exact IUV beside its DensePose-like estimate
    [f"stage1_samples_{k}.png" for k in range(2)],      # samples along training, two test subjects
    ["stage1_loss.png", "stage1_loss_dropout.png"],     # loss curves, with and without dropout
    "stage1_dropout.png",                               # samples with and without dropout
)

# %%
from dreampose import panels, stages
from dreampose.data.images import tensor_to_uint8
from dreampose.data.pairs import PairDataset
from dreampose.evaluate.experiments import metric_suite, targets_of
from dreampose.evaluate.protocol import protocol_subject
from dreampose.evaluate.studies import subject as subject_study
from dreampose.evaluate.studies import training
from dreampose.evaluate.tables import markdown_table
from dreampose.figures import image_grid, preview_world
from dreampose.reproduce import trained
from dreampose.report import bullets, either, say
from dreampose.train.finetune import latent_size

s1 = p.stage1
print(f"profile {p.name}: {len(world.train)} training videos, {sum(len(v) for v in world.train)} frames, "
      f"{p.data.height}x{p.data.width} px")
print(f"stage 1 here:  {s1.steps} steps, lr {s1.lr:g}, batch {s1.batch_size} x {s1.grad_accum} accumulation, "
      f"dropout image {s1.image_dropout:.0%} / pose {s1.pose_dropout:.0%} / both {s1.both_dropout:.0%}")
print("stage 1 paper: 5 epochs of UBC Fashion (339 videos), lr 5e-6, batch 16 (4 x 4), 5% image and 5% pose dropout")

# %% [markdown]
# ## The training data
#
# Each row below is one training video: frames spread over its length, with the DensePose-style
# IUV under them (hue = body part, shade = position on the part). The people turn through
# front, side and back views, and skirts and long hair swing behind the body's motion.

# %%
nb.show(preview_world(world.train, n_videos=3, n_frames=6), "stage1_data.png")

# %% [markdown]
# The renderer knows every pixel's body part, so it could hand the model exact IUV. UBC Fashion's
# poses are DensePose estimates instead, with ragged part boundaries, jittered UV, a box that
# wanders from frame to frame and hands or feet that go missing; the paper's 5-pose window is
# there "to account for noise in the estimated poses". So the tiny profile conditions every
# method on such estimates (`data.pose_estimate: densepose`; `docs/pose_errors.md` grounds each
# error's size), and the IUV rows above are estimates too; the frames stay exact. Below, one
# test video's exact IUV, its estimate and their difference: look for red at part edges, blue
# where a hand was lost, and grey UV jitter inside the parts.

# %%
from dreampose.data.world import synthetic_video

if p.data.source == "synthetic":  # UBC Fashion's poses are estimates already
    args = (p.seed, "test", 0, p.data.width, p.data.height, p.data.fps, p.data.min_seconds, p.data.max_seconds)
    exact, estimated = synthetic_video(*args), synthetic_video(*args, "densepose")
    nb.show(panels.pose_errors_panel(exact.iuv, estimated.iuv, n_cols=6, scale=1.6,
                                     title=f"{exact.name}: exact IUV and its DensePose-like estimate "
                                           "(data.pose_estimate=densepose)"), "pose_errors.png")

# %% [markdown]
# The network never sees the part colours: the pose enters as U and V only, two channels per
# frame, resized to the latent grid. One training sample, as the model receives it: the
# target's window of five UV maps (U in red, V in green; the target's own pose in the middle,
# two frames either side), then the input image x0 and the target frame.

# %%
pairs = PairDataset(world.train[:4], p.model.n_poses, latent_size(p), length=16, seed=p.seed)
item = pairs[3]
window = item["pose"].reshape(p.model.n_poses, 2, *item["pose"].shape[-2:])
fig = image_grid({"pose window": [panels.uv_to_rgb(uv) for uv in window.numpy()],
                  "x0 | target": [tensor_to_uint8(item["image"]), tensor_to_uint8(item["target"])]},
                 titles=[f"pose {k - p.model.n_poses // 2:+d}" for k in range(p.model.n_poses)], scale=1.4)
nb.show(fig, "stage1_sample.png")
print(f"video {item['video']}: input x0 = frame {item['input_index']}, target = frame {item['target_index']}; "
      f"pose maps at the latent size {tuple(window.shape[-2:])}")

# %% [markdown]
# ## Training
#
# `stages.stage1` trains and caches the artifact (or loads it when it exists). The loss is the
# usual noise-prediction error of latent diffusion. It is noisy because every step draws new
# timesteps: a step with many nearly clean samples has a small loss whatever the model knows.

# %%
art = stages.stage1(run)
m = art.manifest
print(f"stage 1: {m['steps']} steps in {m['train_seconds']:.0f} s, final loss {m['final_loss']:.4f} "
      f"({'loaded from the cache' if art.loaded else 'trained now'})")

# %% [markdown]
# ## Samples along training
#
# The loop draws every random number from the step index and keeps the learning rate constant,
# so a stage 1 stopped after n steps is exactly the first n steps of the full run. That gives
# the model "during training" without keeping checkpoints. We sample three models on unseen
# test subjects: right after the surgery (step 0), after a fifth of the steps, and at the end.
# At step 0 the pose channels are zero, so the model ignores the pose entirely.

# %%
early = training.early_steps(m["steps"])
videos = world.test[:2]
snapshots = {"step 0 (surgery only)": training.init_method(run, {v.name: protocol_subject(p, v, 1) for v in videos}),
             f"step {early}": trained(training.stage1_at(run, early), "early", videos, finetune=False),
             f"step {m['steps']}": trained(run, "stage 1", videos, finetune=False)}
for k, video in enumerate(videos):
    i, targets = targets_of(p, video)
    rows = {label: method(video, i, targets) for label, method in snapshots.items()}
    nb.show(panels.comparison_panel(video.frames[i], video.frames[targets], rows, iuv=video.iuv[targets],
                                    frames=targets, n_cols=6, title=f"stage-1 samples along training, {video.name}"),
            f"stage1_samples_{k}.png")

# %%
along = {label: subject_study.frame_scores(method, p, videos) for label, method in snapshots.items()}
say(markdown_table([{"method": label, **{k: sc[k] for k in ("IoU with target pose", "L1 to ground truth", "PSNR")}}
                    for label, sc in along.items()]))

# %% [markdown]
# ## Loss curve
#
# The raw loss per step (faint) and its moving average, with the points where we sampled.

# %%
curves = {"stage 1": panels.read_loss(art.path / "loss.csv")}
nb.show(panels.loss_curves(curves, marks={f"step {early}": early}, title="stage 1 training loss"),
        "stage1_loss.png")

# %% [markdown]
# ## What the conditioning dropout is for
#
# At sampling time the dual guidance of paper 4.4 mixes three predictions: no condition,
# image only, image and pose. A model that never saw a missing image or a missing pose has to
# guess the first two. To see the difference we train the same stage 1 with all dropout
# switched off (same data and seeds) and compare, on held-out test pairs, the
# noise-prediction error of each branch. Both runs stop after a fifth of the steps (the
# "early" model above), which keeps this study to minutes; the tiny profile ships both with its
# stage-1 weights, so there it costs nothing. Then we sample both models without guidance
# (s_I = s_p = 1, only the full branch is used) and with the profile's guidance.

# %%
runs = training.dropout_runs(run, m["steps"])
losses = {label: training.branch_losses(stages.load_pipeline(stages.stage1(r)), world.test, r.profile, n_pairs=32)
          for label, r in runs.items()}
say("noise-prediction error per branch on held-out test pairs ↓\n\n| branch | " + " | ".join(runs) + " |\n"
    + "|---" * (len(runs) + 1) + "|\n" + "\n".join(
        f"| {branch} | " + " | ".join(f"{losses[label][branch]:.4f}" for label in runs) + " |"
        for branch in training.BRANCHES))

# %% [markdown]
# Both runs see the same pairs, noise and timesteps; the dropout changes the condition of
# under a tenth of the samples, so their training curves lie almost on top of each other. The
# difference is in what the null branches learnt, measured above.

# %%
curves[f"stage 1, no dropout ({early} steps)"] = panels.read_loss(stages.stage1(runs["no dropout"]).path / "loss.csv")
nb.show(panels.loss_curves(curves, title="stage 1 with and without conditioning dropout"),
        "stage1_loss_dropout.png")

# %% [markdown]
# Samples of both models, without guidance (s = 1/1) and with the profile's: look at whether
# the rows of one setting differ between the two models, and how much guidance changes them.

# %%
s_i, s_p = p.sample.image_guidance_scale, p.sample.pose_guidance_scale
settings = {"s=1/1": {"image_guidance_scale": 1.0, "pose_guidance_scale": 1.0}, f"s={s_i:g}/{s_p:g}": {}}
stage1_of = {label: trained(r, label, videos, finetune=False) for label, r in runs.items()}
guided = {f"{label}, {setting}": method.with_sample(**extra)
          for label, method in stage1_of.items() for setting, extra in settings.items()}
video = videos[0]
i, targets = targets_of(p, video)
nb.show(panels.comparison_panel(video.frames[i], video.frames[targets],
                                {label: method(video, i, targets) for label, method in guided.items()},
                                frames=targets, n_cols=6, title="stage 1 with and without dropout, s = s_I/s_p"),
        "stage1_dropout.png")
features = metric_suite(p, stages.base(run)).features
dropout_scores = {label: subject_study.frame_scores(method, p, videos, features) for label, method in guided.items()}
show = ["L1 to ground truth", "PSNR", "IoU with target pose"] + [f.name for f in features]
say(markdown_table([{"method": label, **{k: sc[k] for k in show}} for label, sc in dropout_scores.items()]))

# %% [markdown]
# ## What this run shows

# %%
first, mid, last = along.values()
iou = [s["IoU with target pose"] for s in along.values()]
d, n = losses["with dropout"], losses["no dropout"]
null = [b for b in training.BRANCHES if b != "image + pose"]
better = [b for b in null if d[b] < n[b]]
key = f"s={s_i:g}/{s_p:g}"
a, b = dropout_scores[f"with dropout, {key}"], dropout_scores[f"no dropout, {key}"]
wins = sum((a[k] > b[k]) if k in ("PSNR", "IoU with target pose") else (a[k] < b[k]) for k in show)
say(f"Profile {p.name}, seed {p.seed}; samples on {len(videos)} test videos.", bullets([
    f"Stage 1: {m['steps']} steps in {m['train_seconds']:.0f} s on this machine; final loss {m['final_loss']:.4f}. "
    "The paper trains 5 epochs of UBC Fashion on 2 A100s (no time reported).",
    f"Pose following along training (IoU with the target body): {iou[0]:.3f} -> {iou[1]:.3f} -> {iou[2]:.3f}: "
    + either(iou[2] > iou[0], "it grows as training goes on.", "it does **not** grow on this run."),
    f"L1 to the ground truth: {first['L1 to ground truth']:.4f} at step 0, {last['L1 to ground truth']:.4f} after "
    "stage 1.",
    f"Dropout trains the null branches: with dropout the noise is predicted better in {len(better)} of {len(null)} "
    f"null branches ({', '.join(f'{b} {d[b]:.4f} vs {n[b]:.4f}' for b in null)}); the full branch is "
    f"{d['image + pose']:.4f} with vs {n['image + pose']:.4f} without.",
    f"Guided sampling ({key}): " + "; ".join(f"{k}: {a[k]:.4f} with vs {b[k]:.4f} without dropout" for k in show)
    + f". Dropout helps guided sampling on {wins} of {len(show)} measures here"
    + either(wins == len(show), ". ", ": this run does **not** show that guided samples need the dropout, only that "
             "the null branches it trains are better. ")
    + "The paper does not ablate the dropout; it fixes 5% image and 5% pose dropout.",
]))
