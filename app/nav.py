"""The top bar: the page areas a user's role may open (routers declare them as NAV)."""

from fastapi import Request


def nav_for(request: Request) -> list[dict[str, str]]:
    user = getattr(request.state, "user", None)
    if user is None:
        return []
    return [{"label": label, "url": url} for label, url, role in request.app.state.nav
            if role != "admin" or user.is_admin]
