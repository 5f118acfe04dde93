"""Render a full page, or just one named block of it for an htmx request (convention 4)."""

from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse


def is_htmx(request: Request) -> bool:
    return request.headers.get("HX-Request") == "true" and not request.headers.get(
        "HX-History-Restore-Request")


def render(request: Request, template: str, context: dict[str, Any], *,
           block: str | None = None, status_code: int = 200) -> HTMLResponse:
    """The whole template for a normal request; only `block` when htmx asks."""
    templates = request.app.state.templates
    context = {"request": request, **context}
    if block and is_htmx(request):
        tmpl = templates.env.get_template(template)
        ctx = tmpl.new_context(context)
        html = "".join(tmpl.blocks[block](ctx))
        return HTMLResponse(html, status_code=status_code)
    return templates.TemplateResponse(request, template, context, status_code=status_code)
