"""The FastAPI application factory."""

import gc
import importlib
from contextlib import asynccontextmanager
from pathlib import Path

from anyio import to_thread
from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates
from starlette.middleware.sessions import SessionMiddleware

from app.config import PROJECT_ROOT, Settings, get_settings
from app.db import hold_server_lock, make_engine, make_session_factory
from app.errors import install_error_handlers
from app.fragments import cached_fragment
from app.openapi import describe_operations
from app.security_headers import SecurityHeaders
from app.services.jobs import JobRunner
from training.config import PRESET_DESCRIPTIONS

TEMPLATES_DIR = PROJECT_ROOT / "templates"
STATIC_DIR = PROJECT_ROOT / "static"
SESSION_MAX_AGE_S = 14 * 24 * 3600

# One module per page area under app/routes. A module may declare
# NAV = [(label, url, role)] to appear in the top bar for users with that role.
ROUTE_MODULES = ("auth", "home", "admin", "runs", "api_jobs", "sequences", "review", "frames",
                 "api", "exports", "predict", "docs")
ROUTE_MODULES += ("assist",)  # review assistance: suspects, onsets, agreement, adjudication
ROUTE_MODULES += ("experiments",)  # one base selection, varied factors, paired tests


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()
    engine = make_engine(settings.resolved_database_url)

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        # While serving, hold the database's server lock: `onset db restore` then refuses.
        server_lock = hold_server_lock(settings.resolved_database_url)
        for hook in app.state.startup_hooks:
            hook(app)
        to_thread.current_default_thread_limiter().total_tokens = settings.worker_threads
        # Background jobs start from this server process (each runs as its own process).
        runner = JobRunner(settings, app.state.session_factory) if settings.job_runner else None
        if runner is not None:
            runner.start()
        # What import and start-up made lives as long as the server: frozen, the cyclic
        # collector stops rescanning those ~130,000 objects in every full collection (about
        # 75 ms each, one every few hundred page views: a latency tail). Thawed at shutdown,
        # so a process that makes many apps (the tests) can still collect them; freezing is
        # process-wide, so the first app to stop thaws every app's (that costs only speed).
        gc.freeze()
        yield
        gc.unfreeze()
        if runner is not None:
            runner.stop()
        engine.dispose()
        if server_lock is not None:
            server_lock.close()

    # The schema and its viewers are served by app/routes/docs.py, behind a sign-in.
    app = FastAPI(title="Onset", version="0.1.0", lifespan=lifespan, openapi_url=None,
                  docs_url=None, redoc_url=None,
                  description="Review CK+ sequences, export curated datasets, train models. "
                              "Scripts authenticate with `Authorization: Bearer <token>` "
                              "(`onset user token NAME`).")
    app.state.settings = settings
    app.state.engine = engine
    app.state.session_factory = make_session_factory(engine)
    app.state.templates = make_templates()
    app.state.startup_hooks = []
    app.state.nav = []
    app.add_middleware(SessionMiddleware, secret_key=settings.session_secret,
                       session_cookie="onset_session", max_age=SESSION_MAX_AGE_S,
                       same_site="lax", https_only=settings.secure_cookies)
    app.add_middleware(SecurityHeaders, https=settings.secure_cookies)
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    install_error_handlers(app)
    for name in ROUTE_MODULES:
        module = importlib.import_module(f"app.routes.{name}")
        app.include_router(module.router)
        app.state.nav.extend(getattr(module, "NAV", []))
        if hasattr(module, "on_startup"):
            app.state.startup_hooks.append(module.on_startup)
    describe_operations(app)  # summaries, descriptions and refusals in /openapi.json
    return app


def make_templates() -> Jinja2Templates:
    templates = Jinja2Templates(directory=str(TEMPLATES_DIR))
    # Templates are read once: Jinja's auto_reload stats every template file a page uses
    # (five for the review page) on each lookup. `onset serve --reload` restarts the server
    # when one changes instead.
    templates.env.auto_reload = False
    version = _static_version()
    # Static URLs as plain paths with the cache-busting suffix: Starlette's url_for builds a
    # whole URL through the router, and pages link 3-7 static files per view.
    templates.env.globals["static_url"] = lambda path: f"/static{path}?v={version}"
    # Every form with a preset choice labels it the same way: "name (what it is)".
    templates.env.globals["preset_names"] = {name: f"{name} ({text})"
                                             for name, text in PRESET_DESCRIPTIONS.items()}
    # The sequence list's cards, each rendered once per distinct content (app/fragments.py).
    templates.env.globals["seq_card"] = cached_fragment(templates.env, "partials/seq_card.html",
                                                        name="card")
    return templates


def _static_version() -> str:
    """Cache-busting suffix for static URLs: changes whenever a static file changes."""
    newest = max((p.stat().st_mtime_ns for p in Path(STATIC_DIR).rglob("*") if p.is_file()),
                 default=0)
    return format(newest % (1 << 32), "x")
