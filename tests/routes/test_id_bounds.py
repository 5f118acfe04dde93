"""An id in a URL bigger than any INTEGER column can hold is refused as invalid input that
names the parameter (422), on pages, images and the JSON API alike: before, SQLite's driver
raised OverflowError on it (a 500), and PostgreSQL would say "integer out of range"."""

import pytest

from app.deps import MAX_ID
from tests.support.web import login

TOO_BIG = 10**20


@pytest.fixture
def admin_client(client, make_user):
    make_user("boss", "admin")
    login(client, "boss")
    return client


@pytest.mark.parametrize(("url", "name"), [
    (f"/sequences/{TOO_BIG}", "sequence_id"),
    (f"/sequences/{TOO_BIG}/next", "sequence_id"),
    (f"/sequences/1?prev={TOO_BIG}", "prev"),
    (f"/frames/{TOO_BIG}/thumb.jpg", "frame_id"),
    (f"/frames/{TOO_BIG}.png", "frame_id"),
    (f"/adjudicate/{TOO_BIG}", "sequence_id"),
    (f"/admin/jobs/{TOO_BIG}", "job_id"),
    (f"/api/sequences/{TOO_BIG}", "sequence_id"),
    (f"/api/sequences/{TOO_BIG}/onset-suggestion", "sequence_id"),
    (f"/api/jobs/{TOO_BIG}", "job_id"),
])
def test_an_id_too_big_for_the_database_is_a_named_422(admin_client, url, name):
    response = admin_client.get(url, headers={"Accept": "application/json"})
    assert response.status_code == 422, response.text
    assert response.json()["detail"][0]["loc"][-1] == name


def test_the_largest_id_is_still_looked_up(admin_client):
    response = admin_client.get(f"/api/sequences/{MAX_ID}")
    assert response.status_code == 404
    assert response.json() == {"detail": f"no sequence with id {MAX_ID}"}


def test_a_save_to_an_id_too_big_is_refused_and_stores_nothing(admin_client, session):
    from sqlalchemy import func, select

    from app.models import Annotation

    token = login(admin_client, "boss")
    response = admin_client.put(f"/api/sequences/{TOO_BIG}/annotation",
                                json={"label": 1, "version": 0},
                                headers={"X-CSRF-Token": token})
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["path", "sequence_id"]
    assert session.scalar(select(func.count(Annotation.id))) == 0


def test_a_decided_id_too_big_names_nothing_instead_of_failing(admin_client):
    # ?decided= is the adjudication queue's confirmation, read by hand from the query string.
    page = admin_client.get(f"/adjudicate?decided={TOO_BIG}")
    assert page.status_code == 200
    assert "decided-message" not in page.text


def test_a_browser_gets_the_error_page_naming_the_id(admin_client):
    page = admin_client.get(f"/sequences/{TOO_BIG}",
                            headers={"Accept": "text/html,application/xhtml+xml"})
    assert page.status_code == 422
    assert "text/html" in page.headers["content-type"]
    assert f"sequence_id: must be at most {MAX_ID}" in page.text
