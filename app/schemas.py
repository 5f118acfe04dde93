"""Pydantic models of the JSON API (`/api`), so OpenAPI documents every answer.

Label convention: a field named `*label` holds the canonical emotion name ("happy") or null;
its sibling `*label_code` holds the CK+ code (5). Writes take codes 0-7 in `label`."""

from datetime import datetime

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
