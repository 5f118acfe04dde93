"""The home page: the dashboard (progress, where to continue, what waits, jobs and runs)."""

from fastapi import APIRouter, Request

from app.auth import CurrentUser
from app.deps import SessionDep
from app.htmx import render
from app.services.assist.dashboard import dashboard
from app.services.review import format_time

router = APIRouter()


@router.get("/", include_in_schema=False)
def home(request: Request, session: SessionDep, user: CurrentUser):
    data = dashboard(session, request.app.state.settings, user=user)
    return render(request, "home.html", {**data, "format_time": format_time})
