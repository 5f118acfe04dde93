"""Shared fixtures: settings with a temporary data dir and a real, migrated SQLite file."""

import shutil
from pathlib import Path

import pytest
from sqlalchemy.orm import Session

import training  # noqa: F401  (sets TensorFlow's environment before any test loads it)
from app.config import Settings
from app.db import make_engine, make_session_factory
from tests.support import tiny_training


@pytest.fixture(scope="session")
def migrated_template(tmp_path_factory) -> Path:
    """Migrate once per test session; each test gets a copy of the file."""
    from app.migrate import upgrade

    folder = tmp_path_factory.mktemp("template")
    upgrade(Settings(data_dir=folder, database_url=f"sqlite:///{folder / 'onset.db'}"))
    return folder / "onset.db"


@pytest.fixture(scope="session")
def postgres_template():
    """ONSET_TEST_DATABASE=postgresql (make test-pg): one migrated template database."""
    from tests.support import databases

    if (reason := databases.unreachable_reason()) is not None:
        pytest.exit(f"ONSET_TEST_DATABASE=postgresql, but {reason}", returncode=3)
    return databases.template()


@pytest.fixture
def database_url(request, tmp_path, migrated_template) -> str:
    """A migrated database of the test's own: a copy of the SQLite template file, or (under
    `make test-pg`) a PostgreSQL database cloned from the template database."""
    from tests.support import databases

    if databases.suite_on_postgres():
        url = databases.create_database(request.getfixturevalue("postgres_template"))
        request.addfinalizer(lambda: databases.drop_database(url))
        return url
    data_dir = tmp_path / "var"
    data_dir.mkdir(exist_ok=True)
    shutil.copy(migrated_template, data_dir / "onset.db")
    return f"sqlite:///{data_dir / 'onset.db'}"


@pytest.fixture
def settings(tmp_path, database_url) -> Settings:
    data_dir = tmp_path / "var"
    data_dir.mkdir(exist_ok=True)
    # No job runner thread unless a test asks for one (settings.model_copy(update=...)).
    return Settings(data_dir=data_dir, database_url=database_url,
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


# A tiny hand-made export and one real trained run, shared by the training tests and the
# app's run/predict/job tests (tests/support/tiny_training.py draws the images).
@pytest.fixture(scope="session")
def tiny_export(tmp_path_factory) -> Path:
    """Read-only by convention: tests that damage an export copy it first."""
    return tiny_training.write_export(tmp_path_factory.mktemp("export") / "tiny")


@pytest.fixture
def tiny_config():
    return tiny_training.tiny_config()


@pytest.fixture(scope="session")
def tiny_run(tiny_export, tmp_path_factory):
    """One real 2-fold, 2-epoch run shared by the tests that only read a run folder."""
    from training.train import train

    config = tiny_training.tiny_config()
    return train(tiny_export, config, folds=2, out_dir=tmp_path_factory.mktemp("runs"),
                 seed=0, verbose=0, log=lambda msg: None)


@pytest.fixture
def landmark_reads(monkeypatch) -> list[str]:
    """Paths of every landmark file read: a spy around the real reader, not a stand-in."""
    from training import faces as face_lib

    calls: list[str] = []
    real = face_lib.read_landmarks

    def counting(path):
        calls.append(str(path))
        return real(path)

    monkeypatch.setattr(face_lib, "read_landmarks", counting)
    return calls


def pytest_runtest_setup(item):
    """`@pytest.mark.sqlite_only` tests check SQLite itself (WAL, reused row ids): skipped
    when the suite runs on PostgreSQL (make test-pg)."""
    from tests.support import databases

    if item.get_closest_marker("sqlite_only") and databases.suite_on_postgres():
        pytest.skip("checks SQLite's own behaviour; this run is on PostgreSQL")


@pytest.fixture
def backend_url(request, tmp_path, migrated_template):
    """A database for tests that run real servers on SQLite and on PostgreSQL alike:
    `backend_url("postgresql")` skips, with the reason, when no PostgreSQL server answers."""
    from tests.support import databases

    make, created = databases.make_backend_url(request, tmp_path, migrated_template)
    yield make
    for url in created:
        databases.drop_database(url)
