"""The export page (admin) and the export API: preview, create, list, download, compare.

Who may do what: creating an export, its preview, the page and the comparison are for
admins; listing and downloading snapshots is open to every signed-in user (reviewers are
the team that trains on them). API errors: 401, 403, 404 (no such export), 410 (recorded
but its folder is gone), 422 (a bad option: `detail[].loc` names it)."""

from typing import Any

from fastapi import APIRouter, Body, Depends, Request
from fastapi.responses import JSONResponse, RedirectResponse, StreamingResponse
from sqlalchemy.orm import Session

from app.auth import Admin, Reviewer
from app.deps import SessionDep
from app.htmx import is_htmx, render
from app.models import EMOTIONS
from app.schemas import ExportComparison, ExportCreated, ExportPreview, ExportSummary
from app.services.export import (
    COLORS,
    FACES,
    LABEL_SOURCES,
    POLICIES,
    ExportError,
    ExportParamsError,
    ExportSpec,
    SnapshotNotFound,
    compare_snapshots,
    get_snapshot,
    list_snapshots,
    parse_params,
    preview,
    run_export,
    snapshot_folder,
    snapshot_summary,
    stream_zip,
)
from app.services.export.params import COLOR_NAMES, split_text
from app.specs import fields

router = APIRouter()
NAV = [("Export", "/exports", "admin")]
LIST_FIELDS = ("exclude", "merge")  # options that may repeat in a form or query string
ERRORS = {401: {"description": "Not signed in"}, 403: {"description": "Not allowed"}}


def _options(items: list[tuple[str, Any]]) -> dict[str, Any]:
    """Form or query pairs -> parse_params input; repeated exclude/merge become lists."""
    options: dict[str, Any] = {}
    for key, value in items:
        if key == "csrf_token" or key in ("a", "b", "created"):
            continue
        if key in LIST_FIELDS:
            options.setdefault(key, []).append(value)
        else:
            options[key] = value
    return options


def _field_error(exc: ExportParamsError | ExportError, location: str) -> JSONResponse:
    field = exc.field if isinstance(exc, ExportParamsError) else "export"
    return JSONResponse({"detail": [{"loc": [location, field], "msg": str(exc),
                                     "type": "value_error"}]}, status_code=422)


# --- the page ------------------------------------------------------------------------------

def _page_context(session: Session, params: ExportSpec, **extra: Any) -> dict[str, Any]:
    return {"params": params, "fields": fields(ExportSpec), "emotions": EMOTIONS,
            "color_names": COLOR_NAMES,
            "policies": POLICIES, "faces": FACES,
            "colors": COLORS, "label_sources": LABEL_SOURCES,
            "split_value": split_text(params.split) if params.split else "",
            "snapshots": [snapshot_summary(s) for s in list_snapshots(session)],
            "preview": None, "error": None, "create_error": None, "created": None, **extra}


def _preview_or_error(session: Session, params: ExportSpec) -> tuple[dict | None, str | None]:
    try:
        return preview(session, params), None
    except (ExportParamsError, ExportError) as exc:
        return None, str(exc)


@router.get("/exports", include_in_schema=False)
@router.get("/exports/preview", include_in_schema=False)
def exports_page(request: Request, session: SessionDep,
                 _user: Admin):
    """The page; `/exports/preview?...` (what the form's htmx calls on every change) answers
    htmx with the preview block only and shows the whole page when opened directly."""
    options = _options(list(request.query_params.multi_items()))
    try:
        params = parse_params(options)
    except ExportParamsError as exc:
        context = _page_context(session, ExportSpec(), error=str(exc))
        return render(request, "exports.html", context, block="preview", status_code=422)
    result, error = _preview_or_error(session, params)
    created = request.query_params.get("created")
    context = _page_context(session, params, preview=result, error=error, created=created)
    # Options the user chose that cannot work are a 422; the bare page stays a 200 even when
    # the defaults do not fit the data (e.g. fewer subjects than the default 10 folds).
    asked = bool(options) and request.url.path.endswith("/preview")
    return render(request, "exports.html", context, block="preview",
                  status_code=422 if error and asked else 200)


async def _form_items(request: Request) -> list[tuple[str, Any]]:
    return list((await request.form()).multi_items())


@router.post("/exports", include_in_schema=False)
def create_export_from_form(request: Request, session: SessionDep, user: Admin,
                            items: list = Depends(_form_items)):
    # A plain `def`: the export is blocking work, so it runs in the threadpool.
    options = _options(items)
    try:
        params = parse_params(options)
        result = run_export(session, request.app.state.settings, params=params,
                            user_id=user.id)
    except (ExportParamsError, ExportError) as exc:
        session.rollback()
        context = _page_context(session, ExportSpec(), create_error=str(exc))
        return render(request, "exports.html", context, block="created", status_code=422)
    session.commit()
    if not is_htmx(request):
        return RedirectResponse(f"/exports?created={result.id}", status_code=303)
    context = _page_context(session, params, created=result.id, result=result)
    return render(request, "exports.html", context, block="created")


@router.get("/exports/compare", include_in_schema=False)
def compare_page(request: Request, session: SessionDep, _user: Admin, a: str = "",
                 b: str = ""):
    snapshots = [snapshot_summary(s) for s in list_snapshots(session)]
    diff, error = None, None
    if a and b:
        try:
            diff = compare_snapshots(get_snapshot(session, a), get_snapshot(session, b))
        except SnapshotNotFound as exc:
            error = str(exc)
    elif a or b:
        error = "pick two exports to compare"
    return render(request, "exports_compare.html",
                  {"snapshots": snapshots, "diff": diff, "error": error, "a": a, "b": b},
                  block="diff", status_code=404 if error and a and b else 200)


# --- the API -------------------------------------------------------------------------------

@router.get("/api/exports", tags=["exports"], response_model=list[ExportSummary],
            responses=ERRORS)
def api_list_exports(session: SessionDep,
                     _user: Reviewer) -> list[dict]:
    """Every recorded export, newest first: id, params, counts, created, by."""
    return [snapshot_summary(s) for s in list_snapshots(session)]


@router.get("/api/exports/preview", tags=["exports"], response_model=ExportPreview,
            responses={**ERRORS, 422: {}})
def api_preview(request: Request, session: SessionDep,
                _user: Admin):
    """Counts per class, fold and split for these options (query string: the CLI's option
    names, e.g. `?policy=percent&percent=40&exclude=contempt&split=70/15/15`)."""
    try:
        params = parse_params(_options(list(request.query_params.multi_items())))
        return {"params": params.as_dict(), **preview(session, params)}
    except (ExportParamsError, ExportError) as exc:
        return _field_error(exc, "query")


@router.post("/api/exports", tags=["exports"], status_code=201, response_model=ExportCreated,
             responses={**ERRORS, 422: {}})
def api_create_export(request: Request, session: SessionDep, user: Admin,
                      params: ExportSpec = Body(
        default_factory=ExportSpec, examples=[{"policy": "onset", "neutral_frames": 2,
                                               "merge": ["contempt=disgust"], "size": 48,
                                               "folds": 10, "split": "70/15/15"}])):
    """Export with the same options as `onset export` (the body is the export spec).
    Written to the exports folder; the same curation gives the same id."""
    try:
        result = run_export(session, request.app.state.settings, params=params,
                            user_id=user.id)
    except (ExportParamsError, ExportError) as exc:
        session.rollback()
        return _field_error(exc, "body")
    session.commit()
    return {**result.as_dict(), "params": params.as_dict(),
            "download_url": f"/api/exports/{result.id}/download"}


@router.get("/api/exports/compare", tags=["exports"], response_model=ExportComparison,
            responses={**ERRORS, 404: {}})
def api_compare(a: str, b: str, session: SessionDep,
                _user: Admin):
    """What changed from export `a` to export `b`."""
    return compare_snapshots(get_snapshot(session, a), get_snapshot(session, b))


@router.get("/api/exports/{export_id}", tags=["exports"], response_model=ExportSummary,
            responses={**ERRORS, 404: {}})
def api_export(export_id: str, session: SessionDep,
               _user: Reviewer):
    """One recorded export: its options, counts, who made it and when, whether it is on disk."""
    return snapshot_summary(get_snapshot(session, export_id))


@router.get("/api/exports/{export_id}/download", tags=["exports"],
            response_class=StreamingResponse, responses={**ERRORS, 404: {}, 410: {}, 200: {
                "description": "The export's folder as a zip", "content": {
                    "application/zip": {"schema": {"type": "string", "format": "binary"}}}}})
def api_download(export_id: str, session: SessionDep,
                 _user: Reviewer):
    """The export as a zip, streamed as it is built (PNGs stored, not recompressed)."""
    folder = snapshot_folder(session, export_id)
    return StreamingResponse(stream_zip(folder), media_type="application/zip", headers={
        "Content-Disposition": f'attachment; filename="onset-{export_id}.zip"'})
