"""A database for tests that run real servers on SQLite and on PostgreSQL alike:
`backend_url("postgresql")` skips, with the reason, when no PostgreSQL server answers."""

import shutil

import pytest

from tests.support import databases


@pytest.fixture
def backend_url(request, tmp_path, migrated_template):
    created: list[str] = []

    def make(backend: str) -> str:
        if backend == "sqlite":
            data_dir = tmp_path / "var"
            data_dir.mkdir(exist_ok=True)
            shutil.copy(migrated_template, data_dir / "onset.db")
            return f"sqlite:///{data_dir / 'onset.db'}"
        if (reason := databases.unreachable_reason()) is not None:
            pytest.skip(reason)
        url = databases.create_database(request.getfixturevalue("postgres_template"))
        created.append(url)
        return url

    yield make
    for url in created:
        databases.drop_database(url)
