"""The subject explorer without a browser: branch weights, preset, cached grid, subjects, clips."""
import numpy as np
import pytest
from dummies import dummy_pipeline

from dreampose import stages
from dreampose.cache import Cache
from dreampose.config import load_profile
from dreampose.explorer import EQUAL_NOTE, GRID, PAPER_DEMO, Clips, spread, weights_text
from dreampose.widgets import GuidanceExplorer, static_grid

SAMPLE = {"scheduler": "ddim", "steps": 2, "image_guidance_scale": 3.0, "pose_guidance_scale": 5.0,
          "frames_per_batch": 4}


class UNetCalls:
    """Counts forward calls of a pipeline's UNet."""

    def __init__(self, pipe):
        self.n = 0
        pipe.unet.register_forward_hook(lambda *_: setattr(self, "n", self.n + 1))


@pytest.fixture(scope="module")
def pipe():
    return dummy_pipeline()


@pytest.fixture
def run(tmp_path):
    return stages.Run(load_profile("smoke"), Cache(tmp_path), progress=False)


def person_and_poses(seed: int):
    rng = np.random.default_rng(seed)
    image = rng.integers(0, 256, (1, 32, 32, 3), dtype=np.uint8)
    iuv = np.zeros((12, 32, 32, 3), np.uint8)
    iuv[:, 8:24, 10:22, 0] = 2
    iuv[:, 8:24, 10:22, 1:] = rng.integers(0, 256, (12, 16, 12, 2), dtype=np.uint8)
    return stages.Subject(f"person{seed}", image, np.stack([iuv[:5]])), iuv


def clips_of(run, pipe, seed=0, frames=(1, 4, 7, 10), key="dummy/model"):
    person, iuv = person_and_poses(seed)
    return Clips(run, stages.Model(key, lambda: pipe), person, iuv, list(frames), SAMPLE)


def test_weights_text_and_equal_note():
    assert weights_text(8, 3) == "branch weights: eps(∅,∅) × -7, eps(c_I,∅) × 5, eps(c_I,c_p) × 3"
    assert EQUAL_NOTE not in weights_text(8, 3)
    text = weights_text(3, 3)
    assert "eps(c_I,∅) × 0" in text and text.endswith("Note: the image-only branch has weight 0: this is single CFG "
                                                      "on (c_I, c_p)")
    with pytest.raises(ValueError, match="finite"):
        weights_text(float("nan"), 3)


def test_spread():
    assert spread(range(16), 5) == [0, 4, 8, 11, 15]
    assert spread([3, 9], 5) == [3, 9]
    for bad in (0, -1, 2.5):
        with pytest.raises(ValueError):
            spread(range(4), bad)


def test_grid_hit_reads_the_cache_without_the_unet(run, pipe):
    calls = UNetCalls(pipe)
    first = clips_of(run, pipe)
    first.precompute()
    cells = len(first.grid_image) * len(first.grid_pose)
    assert set(GRID) <= set(first.grid_image) and set(GRID) <= set(first.grid_pose)
    assert PAPER_DEMO[0] in first.grid_image and PAPER_DEMO[1] in first.grid_pose  # the preset answers from the cache
    assert calls.n == cells * SAMPLE["steps"]  # one batched UNet call per step and setting
    fresh = clips_of(run, pipe)  # a new explorer: nothing in memory, the grid in the stage cache
    before = calls.n
    clip = fresh.clip(5.0, 7.0)
    assert calls.n == before and fresh.last_source == "grid" and clip.shape == (4, 32, 32, 3)
    np.testing.assert_array_equal(clip, first.clip(5.0, 7.0))
    assert len(list((run.cache.root / "frames").glob("*.npy"))) == cells
    # off the grid (or at another sampler) it is sampled live, from the same noise as the cache
    fresh.clip(4.5, 3.0)
    assert fresh.last_source == "live" and calls.n == before + SAMPLE["steps"]
    live = fresh.renderer(fresh.frames, 5.0, 7.0, SAMPLE["steps"], SAMPLE["scheduler"])
    assert np.abs(live.astype(int) - clip).max() <= 1
    fresh.clip(5.0, 7.0, steps=3)
    assert fresh.last_source == "live"
    with pytest.raises(IndexError):
        fresh([4], 3.0, 3.0)


def test_explorer_on_clips(run, pipe):
    ex = GuidanceExplorer({"a": clips_of(run, pipe)}, s_image=3.0, s_pose=5.0, steps=2, scheduler="ddim")
    assert ex.last.shape == (4, 32, 32, 3)  # the clip has the asked number of frames
    assert "grid" in ex.status.value and EQUAL_NOTE not in ex.weights.value
    renders = ex.renders
    ex.preset.click()
    assert (ex.state["s_image"], ex.state["s_pose"]) == PAPER_DEMO == (8.0, 3.0)
    assert ex.renders == renders + 1  # one render for both sliders
    assert "eps(∅,∅) × -7" in ex.weights.value and "grid" in ex.status.value  # the preset is cached too
    ex.controls["s_pose"].value = 8.0
    assert "single CFG on (c_I, c_p)" in ex.weights.value
    fig = static_grid(ex, rows="s_image", row_values=(0.0, 3.0), cols="s_pose", col_values=(3.0, 5.0), frame=2,
                      steps=2, scheduler="ddim")
    assert len(fig.axes) == 2 * 3


def test_subject_dropdown_switches_subject(run, pipe):
    built = []

    def build_b():
        built.append("b")
        return clips_of(run, pipe, seed=1, frames=(0, 5), key="dummy/other")

    ex = GuidanceExplorer({"a": clips_of(run, pipe), "b": build_b}, s_image=3.0, s_pose=3.0, steps=2,
                          scheduler="ddim", precompute=True)
    assert built == [] and ex.last.shape[0] == 4
    a_clip = ex.last.copy()
    ex.controls["subject"].value = "b"
    assert built == ["b"] and ex.renderer.name == "person1" and ex.last.shape[0] == 2
    assert ex.renderer.last_source == "memory"  # its grid was precomputed when it was first chosen
    assert "person1" not in ex.status.value and ex.status.value.startswith("b:")
    ex.controls["subject"].value = "a"
    np.testing.assert_array_equal(ex.last, a_clip)
    assert built == ["b"]


def test_the_profiles_own_weights_are_on_the_cached_grid(run, pipe):
    person, iuv = person_and_poses(0)
    clips = Clips(run, stages.Model("dummy/model", lambda: pipe), person, iuv, [1, 4],
                  {**SAMPLE, "image_guidance_scale": 1.0, "pose_guidance_scale": 4.0})
    steps, sampler = SAMPLE["steps"], SAMPLE["scheduler"]
    assert clips.on_grid(1.0, 4.0, steps, sampler) and clips.on_grid(1.0, 9.0, steps, sampler)
    assert clips.on_grid(8.0, 3.0, steps, sampler) and not clips.on_grid(1.5, 3.0, steps, sampler)
    assert not clips.on_grid(1.0, 4.0, steps + 1, sampler)  # another step count is sampled live
