"""Small studies beside the paper's tables, for notebooks 03-05 and 08, one module per topic.

* ``training``: stage 1 stopped after n steps, DreamPose right after the surgery, stage 1
  without conditioning dropout and the noise-prediction loss of each guidance branch.
* ``subject``: subject finetuning without the joint random crop, and how much frames copy
  the input image instead of following the pose (texture sticking).
* ``decoder``: D(E(x)) before and after decoder finetuning.
* ``timings``: wall times from the artifacts' manifests and one timed sampling call.

Studies receive trained models (``dreampose.stages`` trains them); they only sample and measure.
"""
