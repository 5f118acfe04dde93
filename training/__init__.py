"""Onset's TensorFlow side: read an export, train/tune a CNN, predict on new photos.

Never imports `app/`: the two meet through files (the export folder in, the run folder out).
Modules keep TensorFlow/Keras imports inside functions so importing them stays cheap.
"""

import os
import sys

# Whether TensorFlow was already loaded before these settings could apply (someone imported
# it before `training`): backbones.py then refuses to train the model that would crash.
TENSORFLOW_PRELOADED = "tensorflow" in sys.modules and os.environ.get(
    "TF_ENABLE_ONEDNN_OPTS") != "0"

# Both must be set before TensorFlow loads, and every TensorFlow import goes through here.
# tensorflow-cpu 2.21's oneDNN kernels segfault on the first training step through the FER2013
# mini-Xception (its separable convolutions); the plain Eigen kernels are safe
# (training/README.md, "The pretrained member").
os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")
# TensorFlow's C++ start-up chatter (CPU feature notes, oneDNN banners) is not for users.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
