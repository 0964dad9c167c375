"""Test set-up: offline, few threads, and a private artifact cache (never the project's)."""
import os

os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["TRANSFORMERS_OFFLINE"] = "1"
os.environ.setdefault("MPLBACKEND", "Agg")

import pytest  # noqa: E402
import torch  # noqa: E402

torch.set_num_threads(1)  # 2 threads beside other jobs on 2 cores slows tests 30x


@pytest.fixture(autouse=True, scope="session")
def _private_cache(tmp_path_factory):
    """Every test run gets its own DREAMPOSE_CACHE, so tests never touch .cache/dreampose."""
    root = tmp_path_factory.mktemp("dreampose-cache")
    old = os.environ.get("DREAMPOSE_CACHE")
    os.environ["DREAMPOSE_CACHE"] = str(root)
    yield root
    if old is None:
        os.environ.pop("DREAMPOSE_CACHE", None)
    else:
        os.environ["DREAMPOSE_CACHE"] = old
