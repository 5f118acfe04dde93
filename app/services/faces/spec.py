"""What `onset crop` (and a crop job) is asked for: `CropSpec`, the one list of its options.

The size and colour defaults are the export's (app/services/export/params.py), so cropping
ahead of time warms exactly the cache a default export reads."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from app.services.export.params import DEFAULT_SIZE, MAX_SIZE, ExportSpec
from training.faces import MTCNN_NATIVE_MIN_FACE, DetectionParams

DEFAULT_MIN_FACE = DetectionParams.__dataclass_fields__["min_face_size"].default


class CropSpec(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    # MTCNN by default: detection is the slow part worth doing ahead of time (landmark
    # boxes are read from files in an instant).
    source: Literal["mtcnn", "landmarks"] = Field("mtcnn", description="Where face boxes "
                                                  "come from: mtcnn (the detector) or "
                                                  "landmarks (CK+'s landmark files).")
    subject: str | None = Field(None, description="Only this subject, e.g. S005.")
    sequence: str | None = Field(None, description="Only this sequence, e.g. S005/001.")
    size: int = Field(DEFAULT_SIZE, ge=8, le=MAX_SIZE, description="Crop side in pixels.")
    color: Literal["gray", "rgb"] = Field("gray", description="gray (grayscale) or rgb.")
    margin: float | None = ExportSpec.model_fields["margin"]
    min_face_size: int = Field(DEFAULT_MIN_FACE, ge=MTCNN_NATIVE_MIN_FACE,
                               description="Smallest face MTCNN looks for, in pixels; "
                               "changing it re-detects.")
    fast_path: bool = Field(True, description="MTCNN on key frames plus interpolation; off: "
                            "on every frame (slower).")
