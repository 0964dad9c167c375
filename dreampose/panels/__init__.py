"""The paper's figures, one function each, in the house style of `dreampose.figures`.

Every function takes plain arrays or shapes (frames are (T, H, W, 3) uint8, IUV the same
shape) and returns a matplotlib figure; the notebooks save and draw it with ``notebook.show``.
Nothing here trains or samples, so each panel can be tested on synthetic arrays. By topic:

* ``diagrams``: the model (Fig. 2-4) and its tensors at initialisation (notebook 02);
* ``results``: generated frames beside the truth (Fig. 6-8, 10, 12, 13), metric bars, the
  guidance sweep (notebooks 04-08);
* ``poses``: exact IUV beside its DensePose-like estimate (``data.pose_errors``);
* ``temporal``: flicker curves and x-t slices;
* ``training``: loss curves;
* ``diagnosis``: the fidelity diagnosis on validation subjects (benchmarks.fidelity);
* ``video``: titled clips side by side, written as GIFs (Fig. 1, methods against the truth).
"""
from ..figures import uv_to_rgb
from ._common import GARMENT_PARTS
from .diagnosis import diagnosis_panel
from .diagrams import (adapter_diagram, adapter_tensors_panel, architecture_diagram, conv_in_weights_panel,
                       finetuning_diagram, pose_window_panel, unet_diagram)
from .poses import iuv_difference, pose_errors_panel
from .results import (comparison_panel, crops_panel, error_map, failure_panel, garment_box, group_bars,
                      guidance_panel, metric_bars)
from .temporal import body_row, temporal_curves, temporal_panel, xt_slice
from .training import loss_curves, read_loss, smooth
from .video import clip_grid, teaser_clip, title_bar, write_clip

__all__ = [
    "GARMENT_PARTS", "adapter_diagram", "adapter_tensors_panel", "architecture_diagram", "body_row", "clip_grid",
    "comparison_panel", "conv_in_weights_panel", "crops_panel", "diagnosis_panel", "error_map", "failure_panel",
    "finetuning_diagram", "garment_box", "group_bars", "guidance_panel", "iuv_difference", "loss_curves", "metric_bars",
    "pose_errors_panel", "pose_window_panel", "read_loss", "smooth",
    "teaser_clip", "temporal_curves", "temporal_panel", "title_bar", "unet_diagram", "uv_to_rgb", "write_clip",
    "xt_slice",
]
