"""Log in and out."""

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import RedirectResponse
from sqlalchemy.orm import Session

from app.auth import CsrfRejected, current_user, log_in, log_out
from app.deps import get_session
from app.htmx import render
from app.models import User
from app.services.users import authenticate

router = APIRouter()


def _safe_next(target: str | None) -> str:
    # Only same-site paths: "//evil.example" or "https://..." would be an open redirect.
    if target and target.startswith("/") and not target.startswith("//"):
        return target
    return "/"


@router.get("/login", include_in_schema=False)
def login_page(request: Request, next: str = "/"):
    return render(request, "login.html", {"next": _safe_next(next), "error": None})


@router.post("/login", include_in_schema=False)
def login_submit(request: Request, name: str = Form(...), password: str = Form(...),
                       next: str = Form("/"), csrf_token: str = Form(""),
                       session: Session = Depends(get_session)):
    if not csrf_token or csrf_token != request.session.get("csrf"):
        raise CsrfRejected()
    user = authenticate(session, name=name.strip(), password=password)
    if user is None:
        return render(request, "login.html", {"next": _safe_next(next), "name": name,
                                              "error": "Wrong user name or password."},
                      status_code=401)
    log_in(request, user)
    return RedirectResponse(_safe_next(next), status_code=303)


@router.post("/logout", include_in_schema=False)
def logout(request: Request, _user: User = Depends(current_user)):
    log_out(request)
    return RedirectResponse("/login", status_code=303)
