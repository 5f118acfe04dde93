"""Shared fixtures: settings with a temporary data dir and a real, migrated SQLite file."""

import shutil
from pathlib import Path

import pytest
from sqlalchemy.orm import Session

from app.config import Settings
from app.db import make_engine, make_session_factory


@pytest.fixture(scope="session")
def migrated_template(tmp_path_factory) -> Path:
    """Migrate once per test session; each test gets a copy of the file."""
    from app.migrate import upgrade

    folder = tmp_path_factory.mktemp("template")
    upgrade(Settings(data_dir=folder, database_url=f"sqlite:///{folder / 'onset.db'}"))
    return folder / "onset.db"


@pytest.fixture
def settings(tmp_path, migrated_template) -> Settings:
    data_dir = tmp_path / "var"
    data_dir.mkdir()
    shutil.copy(migrated_template, data_dir / "onset.db")
    # No job runner thread unless a test asks for one (settings.model_copy(update=...)).
    return Settings(data_dir=data_dir, database_url=f"sqlite:///{data_dir / 'onset.db'}",
                    secret_key="test-secret", job_runner=False)


@pytest.fixture
def session_factory(settings):
    engine = make_engine(settings.resolved_database_url)
    yield make_session_factory(engine)
    engine.dispose()


@pytest.fixture
def session(session_factory) -> Session:
    with session_factory() as session:
        yield session


@pytest.fixture
def make_user(session_factory):
    """Create a user with the test password: make_user("rev1", "reviewer")."""
    from app.services.users import create_user
    from tests.support.web import PASSWORD

    def make(name: str, role: str = "reviewer"):
        with session_factory() as session:
            user = create_user(session, name=name, password=PASSWORD, role=role)
            session.commit()
            return user

    return make


@pytest.fixture
def app(settings):
    from app.main import create_app

    return create_app(settings)


@pytest.fixture
def client(app):
    from fastapi.testclient import TestClient

    with TestClient(app) as test_client:
        yield test_client
