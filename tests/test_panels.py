"""Figure panels on synthetic arrays: shapes, the numbers they plot, and files written."""
import matplotlib.pyplot as plt
import numpy as np
import pytest
from PIL import Image

from dreampose import figures, panels
from dreampose.evaluate.failures import FrameCase
from dreampose.evaluate.metrics import temporal_l1
from dreampose.evaluate.protocol import Result
from dreampose.figures import save
from dreampose.provenance import machine_line

rng = np.random.default_rng(0)


def frames(t=5, h=16, w=12):
    return rng.integers(0, 256, (t, h, w, 3), dtype=np.uint8)


def person_iuv(t=5, h=16, w=12):
    iuv = np.zeros((t, h, w, 3), np.uint8)
    iuv[:, 4:10, 3:7, 0] = 2  # torso front
    iuv[:, 10:14, 3:7, 0] = 9  # upper leg
    iuv[:, 4:8, 8:9, 0] = 15  # an arm
    iuv[..., 1:] = 128
    return iuv


def test_garment_box_covers_the_garment_parts_with_padding():
    iuv = person_iuv()[0]
    assert panels.garment_box(iuv, pad=0.0, min_size=1) == (4, 3, 10, 4)
    assert panels.garment_box(iuv, pad=0.0, min_size=8) == (4, 3, 10, 8)  # small boxes are widened
    padded = panels.garment_box(iuv, pad=0.25)
    assert padded[0] < 4 and padded[1] < 3 and padded[2] > 10
    assert padded[0] + padded[2] <= 16 and padded[1] + padded[3] <= 12  # inside the frame
    assert panels.garment_box(np.zeros_like(iuv)) == (0, 0, 16, 12)  # nobody: the whole frame


def test_temporal_curves_match_the_temporal_metric():
    truth, gen = frames(), frames()
    curves = panels.temporal_curves(truth, {"m": gen})
    assert curves["m"]["error"].shape == (4,) and np.all(curves["ground truth"]["error"] == 0)
    assert curves["m"]["error"].mean() == pytest.approx(temporal_l1(gen, truth), abs=1e-6)
    still = np.repeat(truth[:1], 5, 0)
    assert np.all(panels.temporal_curves(truth, {"still": still})["still"]["change"] == 0)


def test_xt_slice_and_body_row():
    seq = frames()
    assert panels.xt_slice(seq, 3).shape == (5, 12, 3)
    assert np.array_equal(panels.xt_slice(seq, 3)[2], seq[2, 3])
    assert 4 <= panels.body_row(person_iuv()) < 14


def test_smooth_and_read_loss(tmp_path):
    assert np.allclose(panels.smooth([1, 2, 3, 4], 1), [1, 2, 3, 4])
    assert np.allclose(panels.smooth([1, 3, 5, 7], 2), [1, 2, 4, 6])
    assert np.allclose(panels.smooth(np.full(9, 0.5), 4), 0.5)
    path = tmp_path / "loss.csv"
    path.write_text("step,loss,lr,seconds\n1,0.5,0.1,0.1\n2,0.25,0.1,0.2\n")
    steps, loss = panels.read_loss(path)
    assert steps.tolist() == [1, 2] and loss.tolist() == [0.5, 0.25]


def _result(label, values):
    per_video = {f"v{k}": {"L1": v, "SSIM": 1 - v, "VGG": "n/a"} for k, v in enumerate(values)}
    return Result(label, ["L1", "SSIM", "VGG"], per_video, {})


def test_every_panel_draws_and_saves(tmp_path):
    truth, iuv = frames(), person_iuv()
    methods = {"a": frames(), "b": frames()}
    figs = {
        "comparison": panels.comparison_panel(truth[0], truth, methods, iuv=iuv, frames=list(range(10, 15)), n_cols=3),
        "several_inputs": panels.comparison_panel([truth[0], truth[1], truth[2], truth[3]], truth, methods),
        "crops": panels.crops_panel(truth[:2], {"before": methods["a"][:2], "after": methods["b"][:2]},
                                    [panels.garment_box(iuv[0])] * 2, frames=[3, 4]),
        "temporal": panels.temporal_panel(truth, methods, iuv, frames=list(range(5))),
        "loss": panels.loss_curves({"stage 1": (np.arange(1, 41), np.linspace(1, 0.1, 40))}, marks={"sample": 10}),
        "bars": panels.metric_bars({"x": _result("x", [0.1, 0.2]), "y": _result("y", [0.3, 0.2])},
                                   ["L1", "SSIM", "VGG"]),
        "guidance": panels.guidance_panel({"scales": [1.0, 3.0], "iou": np.eye(2), "appearance": np.ones((2, 2)),
                                           "frames": {(a, b): truth for a in (1.0, 3.0) for b in (1.0, 3.0)},
                                           "ground_truth": truth}),
        "failure": panels.failure_panel([FrameCase("v", 3, "worst L1", {}, truth[0], iuv[0], truth[1], truth[2])]),
        "groups": panels.group_bars({"front": np.array([0.1, 0.2]), "back": np.array([0.3])}, "L1"),
    }
    assert len(figs["comparison"].axes) == 4 * 4  # (pose, truth, a, b) x (input + 3 frames)
    assert len(figs["several_inputs"].axes) == 4 * 6  # 4 input images need 4 rows
    assert len(figs["bars"].axes) == 2  # VGG (n/a) is skipped
    for name, fig in figs.items():
        assert save(fig, tmp_path / f"{name}.png").stat().st_size > 1000


def test_pose_errors_panel_draws_exact_estimate_and_difference(tmp_path):
    exact = person_iuv()
    estimated = exact.copy()
    estimated[:, 4, 3, 0] = 0  # body lost
    estimated[:, 3, 3] = (2, 128, 128)  # body gained
    estimated[:, 10, 3, 0] = 2  # another part
    estimated[:, 12, 4, 1] = 192  # U moved by a quarter
    diff = panels.iuv_difference(exact, estimated)
    colours = panels.poses.LABEL_CHANGES
    for (y, x), kind in {(4, 3): "body lost", (3, 3): "body gained", (10, 3): "other part"}.items():
        assert np.allclose(diff[:, y, x], colours[kind])
    assert np.allclose(diff[0, 12, 4], 64 / 255 / panels.poses.UV_FULL_SCALE) and not diff[0, 0, 0].any()
    fig = panels.pose_errors_panel(exact, estimated, frames=list(range(10, 15)), n_cols=3)
    assert len(fig.axes) == 3 * 3 and fig.axes[0].get_title() == "frame 10"
    assert save(fig, tmp_path / "pose_errors.png").stat().st_size > 1000


def test_error_map():
    a = np.zeros((2, 2, 3), np.uint8)
    b = np.full((2, 2, 3), 255, np.uint8)
    assert np.allclose(panels.error_map(a, b), 1.0) and np.allclose(panels.error_map(a, a), 0.0)


# per-example shapes as notebook 02 records them on the tiny model (no batch axis)
DIMS = {"x0": (3, 64, 64), "pixels": (3, 64, 64), "c_clip": (65, 64), "c_vae": (4, 8, 8), "c_I": (65, 64),
        "iuv": (64, 64), "c_p": (10, 8, 8), "z_t": (4, 8, 8), "x_in": (14, 8, 8), "eps": (4, 8, 8),
        "frame": (3, 64, 64), "conv_in": (32, 8, 8), "down0": (32, 4, 4), "down1": (64, 4, 4), "mid": (64, 4, 4),
        "up0": (64, 8, 8), "up1": (32, 8, 8)}


def _texts(fig) -> str:
    return " | ".join(t.get_text() for ax in fig.axes for t in ax.texts)


def test_diagrams_draw_the_shapes_they_are_given(tmp_path):
    fig2 = panels.architecture_diagram(DIMS, grid=8, factor=8, steps=20, scheduler="ddim", name="tiny")
    assert "14×8×8" in _texts(fig2) and "conv_in 14→32" in _texts(fig2) and "repeated 20×" in _texts(fig2)
    fig3 = panels.adapter_diagram(DIMS, grid=8, cell=2, latent_channels=4, clip_layers=2, clip_width=64)
    assert "W_p: Linear 16→64" in _texts(fig3)
    clip_only = panels.adapter_diagram(DIMS, grid=8, cell=2, latent_channels=4, clip_layers=2, clip_width=64,
                                       mode="clip")
    assert "W_p" not in _texts(clip_only) and "P: Linear 64→64" in _texts(clip_only)
    fig4 = panels.unet_diagram(DIMS, ["CrossAttnDownBlock2D", "DownBlock2D"], ["UpBlock2D", "CrossAttnUpBlock2D"])
    assert "CrossAttnDownBlock2D 32×4×4" in _texts(fig4) and "mid block 64×4×4" in _texts(fig4)
    window = rng.uniform(-1, 1, (5, 2, 8, 8)).astype(np.float32)
    pose = panels.pose_window_panel(frames(t=6), person_iuv(t=6), window, [0, 0, 1, 2, 3], 1)
    assert [ax.get_title() for ax in pose.axes[:3]] == ["p(i-1) = frame 0", "p(i-1) = frame 0",
                                                          "p(i) = frame 1 (target)"]
    tensors = panels.adapter_tensors_panel(frames()[0], rng.normal(size=(3, 16, 16)), rng.normal(size=(4, 8, 8)),
                                           rng.normal(size=(65, 64)), rng.normal(size=(65, 64)))
    assert len(tensors.axes) == 4 + 4
    weight = np.zeros((32, 14, 3, 3))
    weight[:, :4] = 1.0
    bars = panels.conv_in_weights_panel(weight, 4, 5)
    heights = [patch.get_height() for patch in bars.axes[0].patches]
    assert heights == [32 * 9] * 4 + [0.0] * 10
    for k, fig in enumerate([fig2, fig3, clip_only, fig4, pose, tensors, bars]):
        assert save(fig, tmp_path / f"{k}.png").stat().st_size > 1000


def test_uv_to_rgb_has_one_home():
    uv = np.array([[[-1.0, 1.0]], [[1.0, 0.0]]])  # (2, 1, 2): U then V
    assert panels.uv_to_rgb is figures.uv_to_rgb
    assert figures.uv_to_rgb(uv).tolist() == [[[0, 255, 0], [255, 128, 0]]]


def test_saved_figures_name_the_machine_below_everything(tmp_path):
    fig, ax = plt.subplots(figsize=(3, 2))
    ax.set_xlabel("x label")
    figures.write(fig, tmp_path / "a.png")
    figures.write(fig, tmp_path / "a.png")  # written twice: still one footer
    footers = [t for t in fig.texts if t.get_gid() == figures.FOOTER_GID]
    assert len(footers) == 1 and footers[0].get_text() == f"made on {machine_line()}"
    renderer = fig.canvas.get_renderer()
    footer, label = footers[0].get_window_extent(renderer), ax.xaxis.label.get_window_extent(renderer)
    assert footer.y1 < label.y0  # under the axis label, overlapping nothing
    plain, _ = plt.subplots(figsize=(3, 2))
    plain.axes[0].set_xlabel("x label")
    plain.savefig(tmp_path / "plain.png", bbox_inches="tight")
    assert Image.open(tmp_path / "a.png").size != Image.open(tmp_path / "plain.png").size
    plt.close("all")
    assert sorted(q.name for q in tmp_path.iterdir()) == ["a.png", "plain.png"]  # no temporary file left


def test_notebook_show_writes_through_the_same_writer(tmp_path):
    from dreampose.notebook import show

    fig, _ = plt.subplots()
    path = show(fig, tmp_path / "sub" / "shown.png")
    assert path.exists() and any(t.get_gid() == figures.FOOTER_GID for t in fig.texts)


def test_diagnosis_panel_plots_each_study_and_the_guidance_grid():
    def r(setting, gap, **kw):
        return {"setting": setting, "L1 gap to copy": gap, "SE": 0.001, **kw}

    results = {
        "vae": {"rows": [{"setting": "vae", "vae_psnr_db": 28.0, "vae_l1": 0.03, "vae_garment_l1": 0.09}]},
        "stage1": {"rows": [r("125 steps", 0.02, steps=125), r("500 steps", 0.01, steps=500)]},
        "subject": {"rows": [r("stage 1 only", 0.01), r("lr 1e-5", -0.005)]},
        "vae_branch": {"rows": [r("Ours_CLIP", 0.0, scale=0.0),
                                r("x 10", 0.0, scale=10.0, **{"VAE share": 0.08, "L1 gap to CLIP": -1e-4,
                                                              "CLIP SE": 1e-4})]},
        "images": {"rows": [r("1 image", 0.0, images=1, steps=100),
                            r("3 images", 0.0, images=3, steps=100,
                              **{"L1 gap to 1 image": -1e-3, "1-image SE": 1e-4, "SSIM gap to 1 image": 0.017,
                                 "SSIM SE": 0.004})]},
        "guidance": {"rows": [r("g", 0.01 * (a - b), image_guidance_scale=a, pose_guidance_scale=b)
                              for a in (1.0, 8.0) for b in (1.0, 3.0)]},
    }
    fig = panels.diagnosis_panel(results)
    drawn = [ax for ax in fig.axes if ax.get_title()]
    assert [ax.get_title() for ax in drawn][:5] == ["stage 1 along training", "subject finetuning",
                                                    "VAE branch lr in the subject stage", "more input images",
                                                    "guidance (L1 gap; paper demo boxed)"]
    assert len(drawn[2].patches) == 1 and "8%" in [t.get_text() for t in drawn[2].texts]  # scales only, share on top
    assert drawn[3].patches[0].get_height() == pytest.approx(-1e-3)  # the paired gap, not the gap to copy
    assert "SSIM +0.017\n± 0.004" in [t.get_text() for t in drawn[3].texts]
    heat = drawn[4].images[0].get_array()
    assert heat.shape == (2, 2) and heat[1, 1] == pytest.approx(0.05)  # s_I 8 (row 1), s_p 3 (column 1)
    assert "28.0 dB" in fig._suptitle.get_text()
    plt.close(fig)


def test_clip_grid_titles_every_column_and_repeats_stills(tmp_path):
    clip, still = frames(t=4, h=64, w=64), frames(t=1, h=64, w=64)[0]
    grid = panels.clip_grid({"ground truth": clip, "input": still, "DensePose texture transfer": clip}, gap=2)
    bar = panels.title_bar("DensePose texture transfer", 64)
    assert bar.shape[0] > panels.title_bar("input", 64).shape[0]  # a long title wraps onto more lines
    assert grid.shape == (4, bar.shape[0] + 64, 3 * 64 + 2 * 2, 3) and grid.dtype == np.uint8
    for c in range(3):  # every column's bar is white with dark text in it
        top = grid[0, :bar.shape[0], c * 66:c * 66 + 64]
        assert (top == 255).mean() > 0.5 and (top < 100).any()
    assert all(np.array_equal(grid[k, bar.shape[0]:, 66:130], still) for k in range(4))  # the still repeats
    assert np.array_equal(grid[2, bar.shape[0]:, :64], clip[2])
    path = panels.write_clip(grid, tmp_path / "clip.gif", fps=8)
    with Image.open(path) as gif:
        assert gif.size == (grid.shape[2], grid.shape[1]) and gif.n_frames == 4


def test_small_frames_are_enlarged_so_the_titles_fit():
    grid = panels.clip_grid({"a": frames(t=2, h=32, w=32), "b": frames(t=2, h=32, w=32)})
    bar = panels.title_bar("a", 64).shape[0]
    assert grid.shape == (2, bar + 64, 2 * 64 + 2, 3)  # 32 px frames drawn at 64 px, by whole pixels
    assert np.array_equal(grid[0, bar:bar + 2, :2], np.broadcast_to(grid[0, bar, 0], (2, 2, 3)))


def test_teaser_clip_shows_input_pose_and_output():
    image, iuv, out = frames(t=1, h=64, w=64)[0], person_iuv(t=3, h=64, w=64), frames(t=3, h=64, w=64)
    clip = panels.teaser_clip(image, iuv, out)
    bar = clip.shape[1] - 64
    assert clip.shape == (3, bar + 64, 3 * 64 + 4, 3)
    assert np.array_equal(clip[1, bar:, 66:130], figures.iuv_to_rgb(iuv[1]))
    assert np.array_equal(clip[2, bar:, 132:], out[2])


def test_finetuning_diagram_names_both_phases_and_the_run_steps(tmp_path):
    fig = panels.finetuning_diagram(64, 500, 100, 60, random_crop=False, name="tiny")
    text = _texts(fig)
    for label in ("phase 1: stage-1 finetuning", "500 steps", "phase 2a: subject finetuning", "100 steps",
                  "no crops", "phase 2b: VAE decoder finetuning", "60 steps", "64 subjects"):
        assert label in text, label
    assert "random crops" in _texts(panels.finetuning_diagram(4, 5, 6, 7))
    assert "Fig. 5" in fig.axes[0].get_title()
    assert save(fig, tmp_path / "fig05.png").stat().st_size > 1000


def test_guidance_heat_map_labels_contrast_with_their_cells():
    truth = frames()
    sweep = {"scales": [1.0, 3.0], "iou": np.array([[0.1, 0.9], [0.5, 0.2]]), "appearance": None,
             "frames": {(a, b): truth for a in (1.0, 3.0) for b in (1.0, 3.0)}, "ground_truth": truth}
    fig = panels.guidance_panel(sweep)
    heat = [ax for ax in fig.axes if ax.images and ax.get_title().startswith("foreground")][0]
    colours = {t.get_text(): t.get_color() for t in heat.texts}
    assert colours["0.100"] == "white" and colours["0.900"] == "black"  # dark cell, light cell (viridis)
    plt.close(fig)


def test_comparison_row_labels_are_wrapped_to_fit_a_row():
    truth = frames()
    fig = panels.comparison_panel(truth[0], truth, {"no dropout, s=3/3": truth, "with dropout, s=1/1": truth})
    labels = [ax.get_ylabel() for ax in fig.axes if ax.get_ylabel()]
    assert max(len(line) for label in labels for line in label.split("\n")) <= 12
    plt.close(fig)


def test_report_words_follow_the_numbers(capsys):
    from dreampose import report

    assert report.either(0.1 < 0.2, "falls", "does not fall") == "falls"
    assert report.bullets(["a", "", "b"]) == "- a\n- b"
    assert report.say("**x**", "", report.bullets(["y"])) is None  # a cell ending in say() shows it once
    assert capsys.readouterr().out == "**x**\n\n- y\n"  # outside a notebook the Markdown is printed
