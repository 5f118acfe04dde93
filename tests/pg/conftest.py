"""A database for tests that run real servers on SQLite and on PostgreSQL alike:
`backend_url("postgresql")` skips, with the reason, when no PostgreSQL server answers."""

import pytest

from tests.support import databases


@pytest.fixture
def backend_url(request, tmp_path, migrated_template):
    make, created = databases.make_backend_url(request, tmp_path, migrated_template)
    yield make
    for url in created:
        databases.drop_database(url)
