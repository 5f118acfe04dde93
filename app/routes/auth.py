"""Log in and out. Failed logins are rate limited per account and per address (429 with
Retry-After); logging out ends the account's sessions on the server side."""

import threading

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse

from app.auth import CsrfRejected, CurrentUser, csrf_matches, log_in, log_out
from app.deps import SessionDep
from app.htmx import render
from app.services.login_throttle import LoginThrottle
from app.services.users import authenticate

router = APIRouter()
_throttle_lock = threading.Lock()


def _safe_next(target: str | None) -> str:
    # Only same-site paths: "//evil.example" or "https://..." would be an open redirect.
    if target and target.startswith("/") and not target.startswith(("//", "/\\")):
        return target
    return "/"


def _throttle(request: Request) -> LoginThrottle:
    state = request.app.state
    with _throttle_lock:
        if getattr(state, "login_throttle", None) is None:
            settings = state.settings
            state.login_throttle = LoginThrottle(per_account=settings.login_limit_account,
                                                 per_address=settings.login_limit_address)
    return state.login_throttle


@router.get("/login", include_in_schema=False)
def login_page(request: Request, next: str = "/"):
    return render(request, "login.html", {"next": _safe_next(next), "error": None})


@router.post("/login", include_in_schema=False)
def login_submit(request: Request, session: SessionDep, name: str = Form(...),
                 password: str = Form(...), next: str = Form("/"), csrf_token: str = Form("")):
    if not csrf_matches(request, csrf_token):
        raise CsrfRejected()
    throttle = _throttle(request)
    who = {"account": name, "address": request.client.host if request.client else "unknown"}
    context = {"next": _safe_next(next), "name": name}
    wait = throttle.retry_after(**who)
    if wait is not None:
        minutes = f"{wait} s" if wait < 120 else f"{round(wait / 60)} min"
        return render(request, "login.html", {**context, "error": (
            f"Too many failed logins for this account or from this address: try again in "
            f"{minutes}.")}, status_code=429, headers={"Retry-After": str(wait)})
    user = authenticate(session, name=name.strip(), password=password)
    if user is None:
        throttle.failed(**who)
        return render(request, "login.html", {**context, "error":
                      "Wrong user name or password."}, status_code=401)
    log_in(request, user)
    return RedirectResponse(_safe_next(next), status_code=303)


@router.post("/logout", include_in_schema=False)
def logout(request: Request, user: CurrentUser, session: SessionDep):
    log_out(request, session, user)
    return RedirectResponse("/login", status_code=303)
