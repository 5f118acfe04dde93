"""The API viewers work with no network: Swagger UI (/docs) and ReDoc (/redoc) load their
scripts from the app itself, list the operations, and break no Content-Security-Policy rule,
while every request that leaves 127.0.0.1 is refused."""

from urllib.parse import urlparse

import pytest

pytestmark = pytest.mark.browser

WATCH = """window.__csp = [];
document.addEventListener('securitypolicyviolation', (e) => {
  window.__csp.push(e.violatedDirective + ' ' + (e.blockedURI || 'inline'));
});"""


def _offline(page) -> list[str]:
    """Block every request to another host; returns the list of what was blocked."""
    blocked: list[str] = []

    def route(r):
        if urlparse(r.request.url).hostname == "127.0.0.1":
            r.continue_()
        else:
            blocked.append(r.request.url)
            r.abort()

    page.route("**/*", route)
    return blocked


def test_swagger_ui_lists_the_operations_offline(open_page, shoot):
    page = open_page("rev1")
    blocked = _offline(page)
    page.context.add_init_script(WATCH)
    response = page.goto("/docs")
    assert response.status == 200
    page.wait_for_selector(".opblock-summary-path", timeout=15_000)
    paths = page.locator(".opblock-summary-path").all_inner_texts()
    assert "/api/sequences" in paths and "/api/exports" in paths, paths
    # The summaries come from the endpoints' docstrings, not their function names.
    summaries = page.locator(".opblock-summary-description").all_inner_texts()
    assert "Api Sequences" not in summaries and any(s.startswith("Sequences matching")
                                                   for s in summaries), summaries
    assert page.locator("button.authorize").count() == 1  # the Bearer scheme is declared
    shoot(page, "docs-offline")
    assert page.evaluate("window.__csp") == []
    assert blocked == []  # nothing even tried to leave the machine


def test_redoc_renders_offline(open_page):
    page = open_page("rev1")
    blocked = _offline(page)
    page.context.add_init_script(WATCH)
    assert page.goto("/redoc").status == 200
    heading = page.locator("h2", has_text="Sequences matching the filters").first
    heading.wait_for(timeout=15_000)  # ReDoc rendered the operation, titled by its summary
    # ReDoc's "API docs by Redocly" footer points at its CDN logo; the policy refuses it before
    # any request is made, and the page lacks only that small picture.
    refused = page.evaluate("window.__csp")
    assert all(v.startswith("img-src https://cdn.redoc.ly/") for v in refused), refused
    assert blocked == []
