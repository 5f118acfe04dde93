"""Frame images and the face overlay's box and crop, addressed by frame id only (never by a
path from the request).

Answers carry an ETag and a private Cache-Control, and a matching If-None-Match gets a bodiless
304, so scrubbing back and forth through a filmstrip costs almost nothing the second time.
Refusals (no such frame, an unreadable image, no face) are the services' domain errors,
answered as JSON by the error table (app/errors.py: frame URLs are fetched, not opened)."""

from fastapi import APIRouter, Query, Request
from fastapi.responses import FileResponse, JSONResponse, Response
from sqlalchemy.orm import Session

from app.auth import Reviewer
from app.deps import DbId, SessionDep
from app.services.faces.view import (
    CROP_SIZE_RANGE,
    VIEW_CROP_COLOR,
    VIEW_CROP_SIZE,
    face_crop,
    frame_face,
)
from app.services.thumbs import (
    FrameFile,
    check_original,
    etag_matches,
    locate,
    rendition,
)

router = APIRouter()

# Private: frames sit behind a login. An hour of freshness, then a cheap 304 revalidation.
CACHE_CONTROL = "private, max-age=3600"


def _not_modified(request: Request, frame: FrameFile) -> Response | None:
    if etag_matches(request.headers.get("if-none-match"), frame.etag):
        return Response(status_code=304, headers={"ETag": frame.etag,
                                                  "Cache-Control": CACHE_CONTROL})
    return None


@router.get("/frames/{frame_id:int}.png", include_in_schema=False)
def original_frame(request: Request, frame_id: DbId, session: SessionDep, _user: Reviewer):
    frame = locate(session, frame_id)
    if (cached := _not_modified(request, frame)) is not None:
        return cached
    check_original(frame)
    return FileResponse(frame.path, media_type="image/png",
                        headers={"ETag": frame.etag, "Cache-Control": CACHE_CONTROL})


def _rendition(request: Request, frame_id: int, variant: str, session: Session) -> Response:
    frame = locate(session, frame_id, variant=variant)
    if (cached := _not_modified(request, frame)) is not None:
        return cached
    path = rendition(frame, variant=variant, thumbs_dir=request.app.state.settings.thumbs_dir)
    return FileResponse(path, media_type="image/jpeg",
                        headers={"ETag": frame.etag, "Cache-Control": CACHE_CONTROL})


@router.get("/frames/{frame_id:int}/thumb.jpg", include_in_schema=False)
def frame_thumb(request: Request, frame_id: DbId, session: SessionDep, _user: Reviewer):
    return _rendition(request, frame_id, "thumb", session)


@router.get("/frames/{frame_id:int}/view.jpg", include_in_schema=False)
def frame_view(request: Request, frame_id: DbId, session: SessionDep, _user: Reviewer):
    return _rendition(request, frame_id, "view", session)


# --- the face overlay of the review page ---------------------------------------------------

SourceQuery = Query(None, pattern="^(landmarks|mtcnn)$",
                    description="landmarks (CK+'s files) or mtcnn; default: landmarks when "
                                "the frame has a landmark file, else mtcnn")


@router.get("/frames/{frame_id:int}/face.json", include_in_schema=False)
def frame_face_json(request: Request, frame_id: DbId, session: SessionDep, _user: Reviewer,
                    source: str | None = SourceQuery):
    """The frame's face box, eyes, method and confidence (or `found: false` and why)."""
    view = frame_face(session, request.app.state.settings, frame_id=frame_id, source=source)
    # Revalidated every time (cheap: one indexed row) since a new detection run can change
    # it; the page keeps its own copy while scrubbing.
    headers = {"ETag": view.etag, "Cache-Control": "private, no-cache"}
    if etag_matches(request.headers.get("if-none-match"), view.etag):
        return Response(status_code=304, headers=headers)
    return JSONResponse(view.as_json(), headers=headers)


@router.get("/frames/{frame_id:int}/crop.png", include_in_schema=False)
def frame_face_crop(request: Request, frame_id: DbId, session: SessionDep, _user: Reviewer,
                    source: str | None = SourceQuery,
                    size: int = Query(VIEW_CROP_SIZE, ge=CROP_SIZE_RANGE[0],
                                      le=CROP_SIZE_RANGE[1]),
                    color: str = Query(VIEW_CROP_COLOR, pattern="^(gray|rgb)$")):
    """The eye-aligned face crop, from the crop cache (cut on first request)."""
    crop = face_crop(session, request.app.state.settings, frame_id=frame_id,
                     source=source, size=size, color=color)
    headers = {"ETag": crop.etag, "Cache-Control": CACHE_CONTROL}
    if etag_matches(request.headers.get("if-none-match"), crop.etag):
        return Response(status_code=304, headers=headers)
    return FileResponse(crop.path, media_type="image/png", headers=headers)
