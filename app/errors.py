"""How refusals look, in one place: the table below turns each kind of service error into a
status; JSON answers it under /api (and to clients that ask for JSON only), a styled page or
an htmx fragment answers it elsewhere. Routes let these errors through.

JSON bodies: `{"detail": "message", ...extra}`; for bad input (BadInput, TooLarge: 422/413)
FastAPI's own shape, `{"detail": [{"loc": [where, field], "msg": ..., "type": "value_error"}]}`,
so a client reads our refusals and FastAPI's validation errors alike (Unprocessable, 422
with no field, keeps the plain shape). A 409 for a stale save adds
`changed_by`, `changed_at` and `current` (the row as it is now)."""

from typing import Any
from urllib.parse import quote

from fastapi import FastAPI, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, RedirectResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from app.auth import CsrfRejected, NotAuthenticated
from app.htmx import render
from app.models import EMOTIONS
from app.services.assist import AssistError
from app.services.assist.adjudication import AdjudicationError
from app.services.errors import (
    BadInput,
    Conflict,
    Forbidden,
    Gone,
    NotFound,
    TooLarge,
    Unprocessable,
)
from app.services.review import NotAllowed, ReviewError, SequenceMissing, StaleVersion
from app.services.sequence_list import FilterError
from app.specs import reword

# The one table: kind of refusal -> HTTP status. A subclass takes its nearest listed base.
STATUS: dict[type[Exception], int] = {
    NotFound: 404, Forbidden: 403, Conflict: 409, Gone: 410, BadInput: 422, TooLarge: 413,
    Unprocessable: 422, CsrfRejected: 403,
    # Services that others are moving onto the kinds above (issue 10): each row goes when
    # its class subclasses one of them.
    SequenceMissing: 404, NotAllowed: 403, StaleVersion: 409, ReviewError: 422,
    FilterError: 422, AssistError: 409, AdjudicationError: 422,
}
QUERY_ERRORS = (FilterError,)  # bad input whose field is a query parameter
TITLES = {401: "Not signed in", 403: "Not allowed", 404: "Not found", 405: "Not allowed here",
          409: "Changed meanwhile", 410: "Gone", 413: "Too large", 422: "Not accepted"}
CSRF_MESSAGE = ("The form's security token is missing or out of date: reload the page and "
                "try again.")
# Frame images and face boxes are fetched by scripts and <img>, never opened as pages: their
# refusals are JSON too (not signed in, they still send a browser to the login form).
FETCHED_PATHS = ("/frames/",)


def status_for(exc: Exception) -> int:
    """The table's status for this error (its nearest listed class); 500 if none."""
    return next((STATUS[kind] for kind in type(exc).__mro__ if kind in STATUS), 500)


def wants_json(request: Request) -> bool:
    if request.url.path.startswith("/api/"):
        return True
    accept = request.headers.get("accept", "")
    return "application/json" in accept and "text/html" not in accept


async def invalid_request(request: Request, exc: RequestValidationError) -> Response:
    """FastAPI's 422 shape, its messages worded like the specs' own (app/specs.py); a browser
    opening a page (it asks for HTML) gets the styled error page naming the same fields."""
    errors = [{**error, "msg": reword(error)} for error in exc.errors()]
    if _opens_a_page(request):
        return error_page(request, 422, "; ".join(
            f"{error['loc'][-1]}: {error['msg']}" for error in errors))
    return JSONResponse({"detail": jsonable_encoder(errors)}, status_code=422)


def _opens_a_page(request: Request) -> bool:
    return ("text/html" in request.headers.get("accept", "") and not wants_json(request)
            and not request.url.path.startswith(FETCHED_PATHS))


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(RequestValidationError, invalid_request)
    for kind in STATUS:
        app.add_exception_handler(kind, refused)
    app.add_exception_handler(NotAuthenticated, not_authenticated)
    app.add_exception_handler(StarletteHTTPException, http_error)


async def refused(request: Request, exc: Exception) -> Response:
    status = status_for(exc)
    if wants_json(request) or request.url.path.startswith(FETCHED_PATHS):
        return JSONResponse(json_body(exc), status_code=status)
    message = CSRF_MESSAGE if isinstance(exc, CsrfRejected) else str(exc)
    return error_page(request, status, message)


def json_body(exc: Exception) -> dict[str, Any]:
    if status_for(exc) in (413, 422) and hasattr(exc, "field"):
        where = "query" if isinstance(exc, QUERY_ERRORS) else getattr(exc, "location", "body")
        return {"detail": [{"loc": [where, exc.field], "msg": exc.message,
                            "type": "value_error"}]}
    if isinstance(exc, CsrfRejected):
        return {"detail": CSRF_MESSAGE}
    return {"detail": str(exc), **_extra(exc)}


def _extra(exc: Exception) -> dict[str, Any]:
    if isinstance(exc, StaleVersion):
        current = exc.current and {**exc.current, "label_code": exc.current["label"],
                                   "label": _name(exc.current["label"])}
        return {"changed_by": exc.by, "current": current,
                "changed_at": exc.at.isoformat() if exc.at else None}
    return getattr(exc, "extra", {})


def _name(code: int | None) -> str | None:
    return EMOTIONS[code] if code is not None else None


async def not_authenticated(request: Request, _exc: NotAuthenticated) -> Response:
    if wants_json(request):
        return JSONResponse({"detail": "Not signed in: log in or send a Bearer token."},
                            status_code=401, headers={"WWW-Authenticate": "Bearer"})
    target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    login = f"/login?next={quote(target)}"
    if request.headers.get("HX-Request") == "true":
        return Response(status_code=401, headers={"HX-Redirect": login})
    return RedirectResponse(login, status_code=303)


async def http_error(request: Request, exc: StarletteHTTPException) -> Response:
    """Unknown URLs, wrong methods and the few HTTPExceptions FastAPI raises itself."""
    if wants_json(request) or exc.status_code < 400:
        return JSONResponse({"detail": exc.detail}, status_code=exc.status_code,
                            headers=exc.headers)
    message = ("There is no page at this address." if exc.status_code == 404
               else str(exc.detail))
    return error_page(request, exc.status_code, message, headers=exc.headers)


def error_page(request: Request, status: int, message: str,
               headers: dict[str, str] | None = None) -> Response:
    """The styled error page; htmx gets its message block only."""
    return render(request, "error.html", {"status": status, "message": message,
                                          "title": TITLES.get(status, "Something went wrong")},
                  block="message", status_code=status, headers=headers)
