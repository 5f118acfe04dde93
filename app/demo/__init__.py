"""Synthetic CK+ look-alike dataset, so Onset can be tried and tested without the real data.

`generate_demo(out, subjects=20, seed=0)` writes `cohn-kanade-images/`, `Emotion/`, `FACS/`,
`Landmarks/` exactly as CK+ lays them out, plus `demo_truth.csv` (the answer key: true label,
true onset, which CK+-style labels are deliberately wrong).
"""

from app.demo.generator import (
    DemoOutputError,
    DemoSummary,
    generate_demo,
    is_demo_output,
)

__all__ = ["DemoOutputError", "DemoSummary", "generate_demo", "is_demo_output"]
