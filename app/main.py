"""The FastAPI application factory."""

from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates

from app.config import PROJECT_ROOT, Settings, get_settings
from app.db import make_engine, make_session_factory

TEMPLATES_DIR = PROJECT_ROOT / "templates"
STATIC_DIR = PROJECT_ROOT / "static"


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()
    engine = make_engine(settings.resolved_database_url)

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        for hook in app.state.startup_hooks:
            hook(app)
        yield
        engine.dispose()

    app = FastAPI(title="Onset", version="0.1.0", lifespan=lifespan,
                  description="Review CK+ sequences, export curated datasets, train models.")
    app.state.settings = settings
    app.state.engine = engine
    app.state.session_factory = make_session_factory(engine)
    app.state.templates = make_templates()
    app.state.startup_hooks = []
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    _include_routers(app)
    return app


def make_templates() -> Jinja2Templates:
    templates = Jinja2Templates(directory=str(TEMPLATES_DIR))
    templates.env.globals["static_version"] = _static_version()
    return templates


def _static_version() -> str:
    """Cache-busting suffix for static URLs: changes whenever a static file changes."""
    newest = max((p.stat().st_mtime_ns for p in Path(STATIC_DIR).rglob("*") if p.is_file()),
                 default=0)
    return format(newest % (1 << 32), "x")


def _include_routers(app: FastAPI) -> None:
    from app.routes import home

    app.include_router(home.router)
