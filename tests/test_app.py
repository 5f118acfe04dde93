"""The app skeleton: factory, home page, static files, layering."""

import re
from pathlib import Path

from fastapi.testclient import TestClient

from app.main import create_app
from tests.support.ckplus import SeqSpec, write_ckplus
from tests.support.web import login


def test_home_page_shows_the_dataset_summary(settings, session, tmp_path, make_user):
    from app.services.importer import import_ckplus

    import_ckplus(session, root=write_ckplus(tmp_path / "ck", [
        SeqSpec("S005", "001", label=5.0), SeqSpec("S010", "002")]))
    session.commit()
    make_user("rev1")
    with TestClient(create_app(settings)) as client:
        login(client, "rev1")
        page = client.get("/")
        assert page.status_code == 200
        assert "CK+ at a glance" in page.text
        assert re.search(r'stat-value">2<', page.text)  # two sequences
        assert "happy" in page.text
        assert client.get("/static/vendor/htmx.min.js").status_code == 200


def test_training_never_imports_app():
    offenders = [
        str(path) for path in Path("training").rglob("*.py")
        if re.search(r"^\s*(from|import)\s+app(\.|\s|$)", path.read_text(), re.MULTILINE)
    ]
    assert offenders == []


def test_the_server_handles_at_most_worker_threads_requests_at_once(settings):
    from anyio import to_thread

    async def tokens() -> float:
        return to_thread.current_default_thread_limiter().total_tokens

    with TestClient(create_app(settings.model_copy(update={"worker_threads": 3}))) as client:
        assert client.portal.call(tokens) == 3
