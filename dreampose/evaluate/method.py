"""DreamPose as a protocol method: trained models in, cached frames out.

A ``DreamPoseMethod`` holds, for every test video, the subject (input image(s) and poses, chosen
by the protocol) and the model to sample for it: the stage-1 model, or that subject's finetuned
one (``dreampose.reproduce.trained`` trains them through ``dreampose.stages``). Calling it only
samples, through the frame cache; it never trains.
"""
from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np

from .. import stages
from ..cache import Artifact
from ..data.video import DataError, Video


@dataclass(frozen=True)
class DreamPoseMethod:
    """``(video, input_index, targets) -> frames`` for the videos it was trained for."""

    label: str
    run: stages.Run
    models: dict[str, stages.Model]  # video name -> the model to sample
    subjects: dict[str, stages.Subject]  # video name -> its subject's image(s) and poses
    sample: dict  # the profile's sample section, possibly overridden
    artifacts: dict[str, dict[str, Artifact]] = field(default_factory=dict)  # video -> {stage: artifact}

    @classmethod
    def from_artifacts(cls, label: str, run: stages.Run, subjects: dict[str, stages.Subject],
                       artifacts: dict[str, dict[str, Artifact]]) -> "DreamPoseMethod":
        """Sample, for each video, its subject artifact (else its stage-1 one) with its decoder's VAE, if any."""
        models = {name: stages.Model.of(arts.get("subject", arts["stage1"]), arts.get("decoder"))
                  for name, arts in artifacts.items()}
        return cls(label, run, models, subjects, stages.sample_settings(run), artifacts)

    def __call__(self, video: Video, input_index: int, targets: list[int]) -> np.ndarray:
        if video.name not in self.models:
            raise DataError(f"{self.label} was trained for videos {sorted(self.models)}, not {video.name!r}; "
                            "train it for that video first (dreampose.reproduce.trained)")
        return stages.frames(self.run, self.models[video.name], self.subjects[video.name], video.iuv, targets,
                             self.sample)

    def with_sample(self, **overrides) -> "DreamPoseMethod":
        """The same trained models sampled with other settings, e.g. image_guidance_scale=5.0."""
        return replace(self, sample={**self.sample, **overrides})
