"""The home page: the dashboard (progress, where to continue, what waits, jobs and runs)."""

from fastapi import APIRouter, Depends, Request
from sqlalchemy.orm import Session

from app.auth import current_user
from app.deps import get_session
from app.htmx import render
from app.models import User
from app.services.assist.dashboard import dashboard
from app.services.review import format_time

router = APIRouter()


@router.get("/", include_in_schema=False)
def home(request: Request, session: Session = Depends(get_session),
         user: User = Depends(current_user)):
    data = dashboard(session, request.app.state.settings, user=user)
    return render(request, "home.html", {**data, "format_time": format_time})
