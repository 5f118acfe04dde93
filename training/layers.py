"""Onset's own Keras layers, registered for `model.keras` loading (package "onset").

Importing this module imports Keras, so model.py imports it inside its functions only.
"""

from __future__ import annotations

import keras

ops = keras.ops


@keras.saving.register_keras_serializable(package="onset")
class PerImageStandardization(keras.layers.Layer):
    """Each image to zero mean and unit variance (like tf.image.per_image_standardization)."""

    def call(self, images):
        mean = ops.mean(images, axis=(1, 2, 3), keepdims=True)
        std = ops.std(images, axis=(1, 2, 3), keepdims=True)
        pixels = ops.cast(ops.prod(ops.shape(images)[1:]), images.dtype)
        # Floor as in tf.image.per_image_standardization: a flat image stays finite.
        return (images - mean) / ops.maximum(std, ops.rsqrt(pixels))


@keras.saving.register_keras_serializable(package="onset")
class ResizeFace(keras.layers.Layer):
    """An antialiased square resize (keras.layers.Resizing has no antialias switch), so an
    ensemble member sees the face as the training pipeline resized it."""

    def __init__(self, size: int, **kwargs):
        super().__init__(**kwargs)
        self.size = int(size)

    def call(self, images):
        return ops.image.resize(images, (self.size, self.size), interpolation="bilinear",
                                antialias=True)

    def get_config(self):
        return {**super().get_config(), "size": self.size}


@keras.saving.register_keras_serializable(package="onset")
class ClassMap(keras.layers.Layer):
    """Sums a pretrained head's class probabilities onto the export's labels (a 0/1 matrix),
    renormalised over the classes both share."""

    def __init__(self, matrix, **kwargs):
        super().__init__(**kwargs)
        self.matrix = [list(map(float, row)) for row in matrix]

    def call(self, probs):
        mapped = ops.matmul(probs, ops.convert_to_tensor(self.matrix, probs.dtype))
        return mapped / ops.maximum(ops.sum(mapped, axis=-1, keepdims=True), 1e-7)

    def get_config(self):
        return {**super().get_config(), "matrix": self.matrix}


@keras.saving.register_keras_serializable(package="onset")
class MemberAverage(keras.layers.Layer):
    """An ensemble's output: per class, the mean over the members that know the class,
    renormalised (training.backbones.average_members, in Keras ops)."""

    def __init__(self, masks, **kwargs):
        super().__init__(**kwargs)
        self.masks = [list(map(float, row)) for row in masks]

    def call(self, member_probs):
        masks = ops.convert_to_tensor(self.masks, member_probs[0].dtype)
        stacked = ops.stack(member_probs, axis=0) * masks[:, None, :]
        summed = ops.sum(stacked, axis=0) / ops.maximum(ops.sum(masks, axis=0), 1.0)
        return summed / ops.maximum(ops.sum(summed, axis=-1, keepdims=True), 1e-12)

    def get_config(self):
        return {**super().get_config(), "masks": self.masks}


CUSTOM_OBJECTS = {f"onset>{cls.__name__}": cls
                  for cls in (PerImageStandardization, ResizeFace, ClassMap, MemberAverage)}
