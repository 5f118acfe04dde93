"""Pydantic models of the JSON API (`/api`), so OpenAPI documents every answer.

Label convention: a field named `*label` holds the canonical emotion name ("happy") or null;
its sibling `*label_code` holds the CK+ code (5). Writes take codes 0-7 in `label`."""

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from app.services.review import MAX_NOTE_CHARS


class FrameOut(BaseModel):
    id: int
    number: int = Field(description="1-based CK+ frame number")
    url: str = Field(description="the original PNG")
    thumb_url: str = Field(description="a small cached JPEG")
    view_url: str = Field(description="a viewer-sized cached JPEG")


class AnnotationOut(BaseModel):
    reviewer: str
    label: str | None
    label_code: int | None
    onset_frame: int | None
    apex_frame: int | None
    note: str
    exclude: bool
    version: int
    updated_at: datetime


class DecisionOut(AnnotationOut):
    reviewer: str = Field(description="the admin who saved the decision last")


class SequenceSummary(BaseModel):
    id: int
    name: str = Field(examples=["S005_001"])
    subject: str
    sequence: str
    frame_count: int
    original_label: str | None = Field(description="the CK+ label; null: no emotion file")
    original_label_code: int | None
    effective_label: str | None
    effective_label_code: int | None
    label_source: str = Field(description="decision | reviewers | original | disagreement | "
                                          "none")
    onset_frame: int | None = Field(description="effective onset")
    apex_frame: int | None = Field(description="effective apex")
    exclude: bool
    reviewers: int
    status: str = Field(description="the most urgent of `statuses`")
    statuses: list[str] = Field(description="unreviewed, mine, others, disagreement, "
                                            "excluded, decided")
    thumb_url: str | None
    page_url: str


class FaceCoverageOut(BaseModel):
    source: str
    frames_located: int
    frames_total: int
    no_face_frames: int
    complete: bool


class SequenceList(BaseModel):
    items: list[SequenceSummary]
    total: int = Field(description="sequences matching the filters (all pages)")
    page: int
    pages: int
    per_page: int
    counts: dict[str, int] = Field(description="per status, among sequences matching every "
                                               "filter but `status`")
    face_detection: FaceCoverageOut | None = Field(
        None, description="with `no_face`: how many frames that source has located (under "
                          "the default settings); 0 means no detection was run, so the list "
                          "is empty for that reason (`onset crop --source ...`)")


class SequenceDetail(SequenceSummary):
    facs: list[list[float]] = Field(description="[[action unit, intensity], ...]")
    frames: list[FrameOut]
    annotations: list[AnnotationOut] = Field(description="every reviewer's, including yours")
    my_annotation: AnnotationOut | None
    decision: DecisionOut | None


class AnnotationIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    label: int | None = Field(None, ge=0, le=7, description="CK+ code 0-7; may be null only "
                                                            "when `exclude` is true")
    onset_frame: int | None = Field(None, ge=1, description="first frame showing the emotion")
    apex_frame: int | None = Field(None, ge=1, description="peak frame; not before the onset")
    note: str = Field("", max_length=MAX_NOTE_CHARS)
    exclude: bool = False
    version: int = Field(ge=0, description="the version you read (0: none existed yet)")


class ReviewProgressOut(BaseModel):
    total: int
    reviewed: int
    mine: int
    decided: int
    disagreements: int
    excluded: int
    percent: float


class StatsOut(BaseModel):
    dataset: dict = Field(description="what is imported (as `onset stats --json`)")
    review: ReviewProgressOut


# --- exports, runs, prediction, review assistance -------------------------------------------
# Nested blocks whose keys follow the data (classes, folds, metrics) stay plain JSON objects.

class ExportSummary(BaseModel):
    id: str
    params: dict[str, Any] = Field(description="the export spec it was made with")
    counts: dict[str, Any] = Field(description="images, per class, per fold and split")
    created: str | None
    by: str | None
    path: str
    on_disk: bool = Field(description="its folder still holds this very export")


class ExportPreview(BaseModel):
    params: dict[str, Any]
    labels: Any = Field(description="the classes, in the order training numbers them")
    left_out: dict[str, Any]
    onset_fallback: Any
    counts: dict[str, Any]
    id: str | None = Field(None, description="the id an export with these options gets")


class ExportCreated(BaseModel):
    id: str
    path: str
    labels: Any
    counts: dict[str, Any]
    left_out: dict[str, Any]
    no_face: list[str]
    created: str
    params: dict[str, Any]
    download_url: str


class ExportComparison(BaseModel):
    a: str
    b: str
    changed: list[dict[str, Any]] = Field(description="label, onset or apex changed")
    frames_changed: list[dict[str, Any]]
    added: list[dict[str, Any]]
    removed: list[dict[str, Any]]
    classes: list[dict[str, Any]]
    totals: dict[str, Any]
    params_changed: dict[str, list[Any]] = Field(description="option: [in a, in b]")


class RunSummary(BaseModel):
    """Id, kind, flags, then the headline metrics (accuracy, macro_f1, folds, ...)."""
    model_config = ConfigDict(extra="allow")
    id: str
    kind: str
    active: bool
    dataset: str | None
    created: str | None


class RunDetail(BaseModel):
    """Id, kind, flags, then every key of the run's metrics.json at the top level too."""
    model_config = ConfigDict(extra="allow")
    id: str
    kind: str
    active: bool
    path: str
    labels: Any
    metrics: dict[str, Any]


class RunPromoted(BaseModel):
    id: str
    active: bool


class PredictionOut(BaseModel):
    run: str
    faces: list[dict[str, Any]] = Field(description="box [x, y, w, h], confidence, label, "
                                                    "probabilities per class")


class SuspectOut(BaseModel):
    sequence_id: int
    subject: str
    sequence: str
    label: str
    predicted: str
    score: float
    run: str
    rank: int
    flagged: bool
    top3: list[dict[str, Any]] = Field(description="label and probability")
    reason: str


class OnsetSuggestionOut(BaseModel):
    sequence_id: int
    subject: str
    sequence: str
    frames: int
    suggested_onset: int | None
    method: str
    curve: list[float] | None = None
    note: str | None = None


class AgreementOut(BaseModel):
    reviewers: list[str]
    labels: dict[str, Any] = Field(description="Fleiss' kappa, pairwise Cohen's kappa, n")
    onsets: dict[str, Any] = Field(description="Krippendorff's alpha, mean |difference|, n")

# --- refusals (app/errors.py writes them; app/openapi.py documents them on every 4xx) -------

class Refusal(BaseModel):
    """`detail` says why; a stale save (409) adds `changed_by`, `changed_at` and `current`."""
    model_config = ConfigDict(extra="allow")
    detail: str


class FieldError(BaseModel):
    model_config = ConfigDict(extra="allow")
    loc: list[str | int] = Field(description="where, then the field: ['body', 'label']")
    msg: str
    type: str


class Invalid(BaseModel):
    """FastAPI's own 422 shape, also for the services' refusals of a bad value."""
    detail: list[FieldError]
