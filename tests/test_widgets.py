"""The guidance explorer without a browser: same frames as the pipeline, re-render on change."""
import numpy as np
import pytest
import torch
from dummies import dummy_pipeline

from dreampose.widgets import FrameRenderer, guidance_explorer, static_grid


@pytest.fixture(scope="module")
def inputs():
    rng = np.random.default_rng(0)
    image = rng.integers(0, 256, (32, 32, 3), dtype=np.uint8)
    iuv = np.zeros((6, 32, 32, 3), np.uint8)
    iuv[:, 8:24, 10:22, 0] = 2
    iuv[:, 8:24, 10:22, 1:] = rng.integers(0, 256, (6, 16, 12, 2), dtype=np.uint8)
    return image, iuv


@pytest.fixture(scope="module")
def pipe():
    return dummy_pipeline()


def test_renderer_matches_pipeline(pipe, inputs):
    image, iuv = inputs
    ref = pipe(image, iuv, num_inference_steps=3, image_guidance_scale=2.5, pose_guidance_scale=1.5,
               generator=torch.Generator().manual_seed(7), output_type="np").frames
    ref = (ref * 255).round().astype(np.uint8)
    renderer = FrameRenderer(pipe, image, iuv, seed=7)
    out = renderer([2, 0], 2.5, 1.5, 3, scheduler=None)  # the pipeline's own (PNDM) scheduler
    np.testing.assert_array_equal(out, ref[[2, 0]])
    assert renderer.calls == 1  # one batched sampling run for both frames
    assert renderer([0], 2.5, 1.5, 3, None).shape == (1, 32, 32, 3) and renderer.calls == 1  # remembered
    renderer([0], 2.5, 1.5, 3, "pndm")
    assert renderer.calls == 2
    with pytest.raises(IndexError):
        renderer([6], 1.0, 1.0, 2)


def test_explorer_rerenders_on_slider_change(pipe, inputs):
    image, iuv = inputs
    truth = np.zeros((6, 32, 32, 3), np.uint8)
    ex = guidance_explorer(pipe, image, iuv, truth=truth, s_image=1.0, s_pose=1.0, steps=2, scheduler="ddim",
                           frames=[0, 3])
    assert ex.renders == 1 and ex.last.shape == (2, 32, 32, 3)
    first = ex.last.copy()
    assert ex.view.value[:8] == b"\x89PNG\r\n\x1a\n"
    ex.controls["s_image"].value = 6.0
    assert ex.renders == 2 and ex.state["s_image"] == 6.0
    assert "s_I = 6" in ex.status.value
    want = FrameRenderer(pipe, image, iuv, seed=0)([0, 3], 6.0, 1.0, 2, "ddim")
    np.testing.assert_array_equal(ex.last, want)
    assert not np.array_equal(ex.last, first)
    ex.controls["scheduler"].value = "euler"
    ex.controls["steps"].value = 3
    assert ex.renders == 4 and ex.state == {"subject": "input", "s_image": 6.0, "s_pose": 1.0, "steps": 3,
                                            "scheduler": "euler"}
    np.testing.assert_array_equal(ex.last, FrameRenderer(pipe, image, iuv)([0, 3], 6.0, 1.0, 3, "euler"))
    # rows: input + generated | ground truth | target poses, zoomed
    assert ex.panel.shape[1] > 2.5 * ex.panel.shape[0] / 3
    bundle = ex._repr_mimebundle_()
    assert "image/png" in bundle and "application/vnd.jupyter.widget-view+json" in bundle
    with pytest.raises(ValueError, match="unknown controls"):
        ex.set(frame=2)


def test_static_grid(pipe, inputs):
    image, iuv = inputs
    ex = guidance_explorer(pipe, image, iuv, steps=2)
    calls = ex.renderer.calls
    fig = static_grid(ex, row_values=(1.0, 3.0), col_values=(0.0, 3.0), steps=2)
    assert len(fig.axes) == 2 * 3
    assert ex.renderer.calls == calls + 3  # (3, 3) at frame 0 was already rendered by the explorer
    fig = static_grid(pipe, image, iuv, rows="scheduler", row_values=("ddim", "euler"), cols="steps",
                      col_values=(2, 3))
    assert [ax.get_title() for ax in fig.axes[1:3]] == ["steps = 2", "steps = 3"]
    fig = static_grid(ex.renderer, None, None, (1.0, 3.0), (0.0, 3.0), steps=2)  # scales_i, scales_p shorthand
    assert ex.renderer.calls == calls + 3 and len(fig.axes) == 6  # the same four settings, remembered
    assert [ax.get_title() for ax in fig.axes[1:3]] == ["s_p (pose) = 0", "s_p (pose) = 3"]
    assert len(static_grid(ex, scales_i=(1.0,), scales_p=(0.0, 3.0, 6.0), steps=2).axes) == 4
    with pytest.raises(ValueError):
        static_grid(ex, rows="s_image", cols="s_image")
    with pytest.raises(ValueError):
        static_grid(pipe)
