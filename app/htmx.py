"""Render a full page, or just one named block of it for an htmx request (convention 4)."""

from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse

from app.auth import csrf_token
from app.nav import nav_for


def is_htmx(request: Request) -> bool:
    return request.headers.get("HX-Request") == "true" and not request.headers.get(
        "HX-History-Restore-Request")


def page_context(request: Request) -> dict[str, Any]:
    """What every page needs: the user, the CSRF token for forms and htmx, the nav."""
    return {"request": request, "user": getattr(request.state, "user", None),
            "csrf_token": csrf_token(request), "nav_items": nav_for(request)}


def render(request: Request, template: str, context: dict[str, Any], *,
           block: str | None = None, status_code: int = 200,
           headers: dict[str, str] | None = None) -> HTMLResponse:
    """The whole template for a normal request; only `block` when htmx asks."""
    templates = request.app.state.templates
    context = {**page_context(request), **context}
    if block and is_htmx(request):
        tmpl = templates.env.get_template(template)
        html = "".join(tmpl.blocks[block](tmpl.new_context(context)))
        return HTMLResponse(html, status_code=status_code, headers=headers)
    return templates.TemplateResponse(request, template, context, status_code=status_code,
                                      headers=headers)
