"""The OpenAPI schema and its viewers, for signed-in users only (browser session or Bearer
token): like every other page but the login form, they are not for strangers.

Swagger UI and ReDoc come from the installed `fastapi-offline` package's static files, served
under /docs/assets, so the viewers work with no network. Swagger UI starts from one inline
script that FastAPI writes; its page allows exactly that script (by hash) and nothing else
inline, so the app-wide rule "no inline script" still holds for every other page."""

import base64
import hashlib
import re
from importlib.resources import files

from fastapi import APIRouter, Request
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html
from fastapi.responses import HTMLResponse, JSONResponse
from fastapi.staticfiles import StaticFiles

from app.auth import CurrentUser

ASSETS_URL = "/docs/assets"
ASSETS_DIR = files("fastapi_offline") / "static"
FAVICON_URL = "/static/favicon.svg"
DOCS_POLICY = ("default-src 'self'; script-src 'self' {scripts}; "
               "style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
               "worker-src 'self' blob:; connect-src 'self'; font-src 'self'; "
               "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'")

router = APIRouter(include_in_schema=False)
router.mount(ASSETS_URL, StaticFiles(directory=str(ASSETS_DIR)), name="docs-assets")


def with_inline_scripts_allowed(page: HTMLResponse) -> HTMLResponse:
    """The page with a Content-Security-Policy that allows its own inline scripts by hash."""
    scripts = re.findall(rb"<script>(.*?)</script>", page.body, flags=re.DOTALL)
    hashes = " ".join(f"'sha256-{base64.b64encode(hashlib.sha256(s).digest()).decode()}'"
                      for s in scripts)
    page.headers["Content-Security-Policy"] = DOCS_POLICY.format(scripts=hashes).replace(
        "'self' ;", "'self';")
    return page


@router.get("/openapi.json")
def openapi_schema(request: Request, _user: CurrentUser):
    return JSONResponse(request.app.openapi())


@router.get("/docs")
def swagger_ui(request: Request, _user: CurrentUser):
    return with_inline_scripts_allowed(get_swagger_ui_html(
        openapi_url="/openapi.json", title=f"{request.app.title} API",
        swagger_js_url=f"{ASSETS_URL}/swagger-ui-bundle.js",
        swagger_css_url=f"{ASSETS_URL}/swagger-ui.css", swagger_favicon_url=FAVICON_URL))


@router.get("/redoc")
def redoc(request: Request, _user: CurrentUser):
    return with_inline_scripts_allowed(get_redoc_html(
        openapi_url="/openapi.json", title=f"{request.app.title} API",
        redoc_js_url=f"{ASSETS_URL}/redoc.standalone.js", redoc_favicon_url=FAVICON_URL,
        with_google_fonts=False))
