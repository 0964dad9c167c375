import math

import pytest
import torch
from torch import nn

from dreampose.train.loop import LoopConfig, TrainingError, latest_checkpoint, train


class Regression(nn.Module):
    """y = 3x - 1 with noise drawn from the step's generator (exercises the seeding)."""

    def __init__(self):
        super().__init__()
        torch.manual_seed(0)
        self.lin = nn.Linear(1, 1)

    def forward(self, batch, generator):
        x = batch["x"]
        noise = 0.01 * torch.randn(x.shape, generator=generator)
        return ((self.lin(x) - (3 * x - 1 + noise)) ** 2).mean()


def make_batch(indices):
    g = torch.Generator().manual_seed(indices[0])
    return {"x": torch.rand(len(indices), 1, generator=g)}


def cfg(**kw):
    base = dict(steps=30, lr=0.1, batch_size=4, grad_accum=2, checkpoint_every=10, desc="toy")
    base.update(kw)
    return LoopConfig(**base)


def test_loss_falls_and_log_is_written(tmp_path):
    out = train(Regression(), make_batch, cfg(steps=60), tmp_path, progress=False)
    rows = (tmp_path / "loss.csv").read_text().splitlines()
    assert len(rows) == 61
    first, last = float(rows[1].split(",")[1]), float(rows[-1].split(",")[1])
    assert last < 0.1 * first
    assert latest_checkpoint(tmp_path)[0] == 60
    assert out["resumed_from"] == 0


def test_save_final_false_skips_only_the_last_checkpoint(tmp_path):
    train(Regression(), make_batch, cfg(steps=25, save_final=False), tmp_path, progress=False)
    assert latest_checkpoint(tmp_path)[0] == 20  # the periodic ones stay, the final one is not written
    assert len((tmp_path / "loss.csv").read_text().splitlines()) == 26  # the log has every step


def test_resumed_run_ends_with_the_same_weights(tmp_path):
    full = train(Regression(), make_batch, cfg(), tmp_path / "a", progress=False)["model"]

    calls = {"n": 0}

    def crashing(indices):
        calls["n"] += 1
        if calls["n"] == 2 * 15 + 1:  # during optimizer step 16, after the checkpoint at 10
            raise KeyboardInterrupt
        return make_batch(indices)

    with pytest.raises(KeyboardInterrupt):
        train(Regression(), crashing, cfg(), tmp_path / "b", progress=False)
    assert latest_checkpoint(tmp_path / "b")[0] == 10
    resumed = train(Regression(), make_batch, cfg(), tmp_path / "b", progress=False)
    assert resumed["resumed_from"] == 10
    for p, q in zip(full.parameters(), resumed["model"].parameters()):
        assert torch.equal(p, q)
    rows = (tmp_path / "b" / "loss.csv").read_text().splitlines()
    assert [int(r.split(",")[0]) for r in rows[1:]] == list(range(1, 31))
    seconds = [float(r.split(",")[3]) for r in rows[1:]]
    assert seconds == sorted(seconds)  # the resumed attempt counts on from the first one's time
    assert resumed["train_seconds"] >= seconds[9]


def test_non_finite_loss_stops_and_keeps_the_last_checkpoint(tmp_path):
    class Exploding(Regression):
        def forward(self, batch, generator):
            return super().forward(batch, generator) * (math.inf if batch["x"].sum() < 0 else 1.0)

    def batches(indices):
        b = make_batch(indices)
        if indices[0] >= 4 * 2 * 12:  # optimizer step 13
            b["x"] = -b["x"]
        return b

    with pytest.raises(TrainingError, match="checkpoint-0000010"):
        train(Exploding(), batches, cfg(), tmp_path, progress=False)
    assert latest_checkpoint(tmp_path)[0] == 10


@pytest.mark.parametrize("field, value", [("lr", 0.0), ("steps", 0), ("batch_size", -1), ("lr", math.nan)])
def test_bad_settings(tmp_path, field, value):
    with pytest.raises(TrainingError, match=field):
        train(Regression(), make_batch, cfg(**{field: value}), tmp_path, progress=False)
