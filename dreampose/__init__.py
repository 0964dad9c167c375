"""DreamPose companion: the paper's maths and machinery, small and tested.

Where things live: config (profiles), cache (artifacts), data/ (synthetic world, UBC reader,
poses, training pairs), models/ (base model, adapter, conv_in surgery), guidance (dual CFG),
pipeline (DreamPosePipeline), stages (the cached stage graph), train/, evaluate/, figures,
widgets, animate (``animate_person``: the paper's procedure for a new person), cli.
"""
import os as _os

_os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")

__version__ = "0.1.0"


def __getattr__(name):
    """Lazy top-level access (diffusers finds saved components as `dreampose.<ClassName>`)."""
    if name == "DreamPoseAdapter":
        from .models.adapter import DreamPoseAdapter

        return DreamPoseAdapter
    if name == "animate_person":
        from .animate import animate_person

        return animate_person
    if name == "DreamPosePipeline":
        from .pipeline import DreamPosePipeline

        return DreamPosePipeline
    raise AttributeError(f"module 'dreampose' has no attribute {name!r}")
