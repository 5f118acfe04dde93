"""Log a TestClient in the way a browser does: GET the form, POST it with its CSRF token."""

import re

from fastapi.testclient import TestClient

PASSWORD = "correct horse battery"


def csrf_from(html: str) -> str:
    match = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert match, "no CSRF token in the page"
    return match.group(1)


def login(client: TestClient, name: str, password: str = PASSWORD) -> str:
    """Log in and return the session's CSRF token (for forms and the X-CSRF-Token header)."""
    token = csrf_from(client.get("/login").text)
    response = client.post("/login", data={"name": name, "password": password,
                                           "csrf_token": token, "next": "/"},
                           follow_redirects=False)
    assert response.status_code == 303, response.text
    return csrf_from(client.get("/").text)


def route_table(app) -> list[tuple[str, str]]:
    """Every (method, path) the app answers, including routes of included routers (FastAPI
    keeps those behind `_IncludedRouter` wrappers in recent versions)."""
    found: list[tuple[str, str]] = []

    def walk(routes, prefix: str) -> None:
        for route in routes:
            if hasattr(route, "original_router"):
                walk(route.original_router.routes, prefix + route.include_context.prefix)
            elif getattr(route, "methods", None):
                found.extend((m, prefix + route.path) for m in route.methods if m != "HEAD")

    walk(app.routes, "")
    return sorted(set(found))


def admin_only_routes(app) -> list[tuple[str, str]]:
    """(method, path) of every route whose dependencies include `require_admin`."""
    from app.auth import require_admin

    def needs_admin(dependant) -> bool:
        return any(d.call is require_admin or needs_admin(d) for d in dependant.dependencies)

    found: list[tuple[str, str]] = []

    def walk(routes, prefix: str) -> None:
        for route in routes:
            if hasattr(route, "original_router"):
                walk(route.original_router.routes, prefix + route.include_context.prefix)
            elif getattr(route, "dependant", None) is not None and needs_admin(route.dependant):
                found.extend((m, prefix + route.path) for m in route.methods if m != "HEAD")

    walk(app.routes, "")
    return sorted(set(found))
