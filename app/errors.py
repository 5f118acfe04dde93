"""How refusals look: JSON for the API and scripts, pages or redirects for browsers."""

from urllib.parse import quote

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, RedirectResponse, Response

from app.auth import CsrfRejected, Forbidden, NotAuthenticated


def wants_json(request: Request) -> bool:
    if request.url.path.startswith("/api/"):
        return True
    accept = request.headers.get("accept", "")
    return "application/json" in accept and "text/html" not in accept


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(NotAuthenticated)
    async def not_authenticated(request: Request, _exc: NotAuthenticated) -> Response:
        if wants_json(request):
            return JSONResponse({"detail": "Not signed in: log in or send a Bearer token."},
                                status_code=401, headers={"WWW-Authenticate": "Bearer"})
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        login = f"/login?next={quote(target)}"
        if request.headers.get("HX-Request") == "true":
            return Response(status_code=401, headers={"HX-Redirect": login})
        return RedirectResponse(login, status_code=303)

    @app.exception_handler(Forbidden)
    async def forbidden(request: Request, exc: Forbidden) -> Response:
        return _refusal(request, 403, str(exc))

    @app.exception_handler(CsrfRejected)
    async def csrf_rejected(request: Request, _exc: CsrfRejected) -> Response:
        return _refusal(request, 403, "The form's security token is missing or out of date: "
                                      "reload the page and try again.")


def _refusal(request: Request, status: int, message: str) -> Response:
    if wants_json(request):
        return JSONResponse({"detail": message}, status_code=status)
    from app.htmx import render

    return render(request, "error.html", {"status": status, "message": message},
                  block="message", status_code=status)
