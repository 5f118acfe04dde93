"""The OpenAPI schema and its viewers, for signed-in users only (browser session or Bearer
token): like every other page but the login form, they are not for strangers."""

from fastapi import APIRouter, Depends, Request
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html
from fastapi.responses import JSONResponse

from app.auth import current_user
from app.models import User

router = APIRouter(include_in_schema=False)


@router.get("/openapi.json")
def openapi_schema(request: Request, _user: User = Depends(current_user)):
    return JSONResponse(request.app.openapi())


@router.get("/docs")
def swagger_ui(request: Request, _user: User = Depends(current_user)):
    return get_swagger_ui_html(openapi_url="/openapi.json", title=f"{request.app.title} API")


@router.get("/redoc")
def redoc(request: Request, _user: User = Depends(current_user)):
    return get_redoc_html(openapi_url="/openapi.json", title=f"{request.app.title} API")
