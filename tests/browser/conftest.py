"""A real Onset server (uvicorn in a subprocess, loopback only) over a small demo dataset, and
Debian's headless Chromium driven by Playwright. Never `playwright install`: no downloads."""

import os
import shutil
import socket
import subprocess
import sys
import time
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

from tests.support.web import PASSWORD

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]
SHOTS_COPY = Path("/tmp/onset-shots")
USERS = (("rev1", "reviewer"), ("rev2", "reviewer"), ("rev3", "reviewer"), ("boss", "admin"))


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Site:
    def __init__(self, base_url: str, session_factory, data_dir: Path):
        self.base_url = base_url
        self.session_factory = session_factory
        self.data_dir = data_dir


@pytest.fixture(scope="session")
def site(tmp_path_factory):
    if not Path(CHROMIUM).exists():
        pytest.skip(f"Debian's Chromium is not installed at {CHROMIUM} (make browser-deps)")
    from app.db import make_engine, make_session_factory, session_scope
    from app.demo import generate_demo
    from app.services.importer import import_ckplus
    from app.services.users import create_user
    from bench.common import fresh_settings

    base = tmp_path_factory.mktemp("browser")
    demo = base / "demo"
    generate_demo(demo, subjects=2, seed=1, workers=1)
    settings = fresh_settings(base / "var")
    engine = make_engine(settings.resolved_database_url)
    factory = make_session_factory(engine)
    with session_scope(factory) as session:
        import_ckplus(session, root=demo)
        for name, role in USERS:
            create_user(session, name=name, password=PASSWORD, role=role)
    with running_server(base, settings, {}) as base_url:
        yield Site(base_url, factory, settings.data_dir)
    engine.dispose()


@contextmanager
def running_server(base: Path, settings, extra_env: dict):
    """uvicorn serving `settings` on a free loopback port; yields its base URL once /login
    answers (bounded: 15 s), and stops it afterwards."""
    port = _free_port()
    env = {**os.environ, "ONSET_DATA_DIR": str(settings.data_dir),
           "ONSET_DATABASE_URL": settings.resolved_database_url,
           "ONSET_SECRET_KEY": "browser-test-secret", **extra_env}
    log = (base / "server.log").open("w")
    server = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "app.main:create_app", "--factory",
         "--host", "127.0.0.1", "--port", str(port), "--log-level", "warning"],
        cwd=Path(__file__).resolve().parents[2], env=env, stdout=log, stderr=subprocess.STDOUT)
    base_url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(150):
            try:
                if httpx.get(f"{base_url}/login", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if server.poll() is not None:
                raise RuntimeError(f"uvicorn exited: {(base / 'server.log').read_text()}")
            time.sleep(0.1)
        else:
            raise RuntimeError("uvicorn did not answer within 15 s")
        yield base_url
    finally:
        server.terminate()
        try:
            server.wait(timeout=10)
        except subprocess.TimeoutExpired:
            server.kill()
        log.close()


@pytest.fixture(scope="session")
def browser():
    if not Path(CHROMIUM).exists():
        pytest.skip(f"Debian's Chromium is not installed at {CHROMIUM} (make browser-deps)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS,
                                              headless=True)
        yield chromium
        chromium.close()


def logged_in_page(browser, base_url: str, name: str, contexts: list, *, width: int = 1440,
                   height: int = 900, timeout_ms: int = 10_000):
    """A Page signed in as `name` in a fresh browser context (its own cookies); the context
    is appended to `contexts` for the caller to close."""
    context = browser.new_context(viewport={"width": width, "height": height},
                                  base_url=base_url)
    contexts.append(context)
    page = context.new_page()
    page.set_default_timeout(timeout_ms)
    page.goto("/login")
    page.fill("input[name=name]", name)
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"{base_url}/")
    return page


@pytest.fixture
def open_page(browser, site):
    """open_page("rev1") -> a logged-in Page in a fresh browser context (its own cookies)."""
    contexts = []

    def open_as(name: str, *, width: int = 1440, height: int = 900):
        return logged_in_page(browser, site.base_url, name, contexts, width=width,
                              height=height)

    yield open_as
    for context in contexts:
        context.close()


@pytest.fixture
def shoot(tmp_path):
    """shoot(page, "list") saves a screenshot under the test's tmp dir and /tmp/onset-shots."""
    SHOTS_COPY.mkdir(parents=True, exist_ok=True)

    def take(page, name: str, *, full_page: bool = True) -> Path:
        # Lazy thumbnails below the fold would otherwise be blank in a full-page shot.
        page.evaluate("""async () => {
            document.querySelectorAll('img[loading=lazy]').forEach((i) => { i.loading = 'eager'; });
            await Promise.all([...document.images].map((i) => i.complete ? null :
                new Promise((done) => { i.onload = i.onerror = done; })));
        }""")
        path = tmp_path / f"{name}.png"
        page.screenshot(path=str(path), full_page=full_page)
        shutil.copy(path, SHOTS_COPY / path.name)
        return path

    return take
