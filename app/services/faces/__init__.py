"""Faces in frames: locating them and cutting crops (crops.py), the crop cache on disk
(cache.py), what the review page shows of a frame's face (view.py), and `onset crop`'s
spec (spec.py)."""
