"""The home page: what is imported, and where to go next."""

from fastapi import APIRouter, Depends, Request
from sqlalchemy.orm import Session

from app.auth import current_user
from app.deps import get_session
from app.htmx import render
from app.models import User
from app.services.stats import dataset_stats

router = APIRouter()


@router.get("/", include_in_schema=False)
def home(request: Request, session: Session = Depends(get_session),
         _user: User = Depends(current_user)):
    return render(request, "home.html", {"stats": dataset_stats(session)})
