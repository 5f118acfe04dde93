"""Onset's TensorFlow side: read an export, train/tune a CNN, predict on new photos.

Never imports `app/`: the two meet through files (the export folder in, the run folder out).
Modules keep TensorFlow/Keras imports inside functions so importing them stays cheap.
"""
