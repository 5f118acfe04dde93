"""The one error table (app/errors.py): each kind of service refusal answers with its status,
as JSON under /api (or to a JSON-only client), a styled page for a browser, and the page's
message block for htmx; unknown URLs get the styled 404 page too."""

import pytest
from fastapi.testclient import TestClient

from app.auth import CurrentUser
from app.errors import STATUS, status_for
from app.services import errors
from tests.support.ckplus import SeqSpec, import_specs
from tests.support.web import login

BROWSER = {"Accept": "text/html,application/xhtml+xml"}
KINDS = [(errors.NotFound("no widget 7"), 404), (errors.Forbidden("admins only"), 403),
         (errors.Conflict("changed meanwhile"), 409), (errors.Gone("export again"), 410),
         (errors.BadInput("size", "must be 32..256"), 422),
         (errors.Unprocessable("S005_001_00000002.png does not decode"), 422),
         (errors.TooLarge("file", "over the limit"), 413)]


@pytest.fixture
def signed_in(client, make_user):
    make_user("rev1")
    return client, login(client, "rev1")


@pytest.fixture
def raising_app(app):
    """The real app with one more route, under /api and outside it, raising a given kind as
    a service would."""
    by_name = {type(exc).__name__: exc for exc, _ in KINDS}

    def boom(kind: str, _user: CurrentUser):
        raise by_name[kind]

    app.add_api_route("/api/_boom/{kind}", boom)
    app.add_api_route("/_boom/{kind}", boom)
    return app


def test_every_kind_has_a_row_and_a_subclass_takes_its_base():
    assert {kind for kind, _ in [(type(e), c) for e, c in KINDS]} <= set(STATUS)

    class RunMissing(errors.NotFound):
        pass

    assert status_for(RunMissing("x")) == 404 and status_for(RuntimeError("x")) == 500
    assert isinstance(errors.NotFound("x"), LookupError)  # old `except LookupError` still works


@pytest.mark.parametrize("exc,status", KINDS, ids=[type(e).__name__ for e, _ in KINDS])
def test_a_service_error_maps_to_its_status_in_json_page_and_fragment(raising_app, make_user,
                                                                       exc, status):
    make_user("rev1")
    with TestClient(raising_app) as client:
        login(client, "rev1")
        name = type(exc).__name__
        api = client.get(f"/api/_boom/{name}")
        assert api.status_code == status and api.headers["content-type"] == "application/json"
        if isinstance(exc, errors.BadInput):  # FastAPI's shape, naming the field
            assert api.json() == {"detail": [{"loc": ["body", exc.field], "msg": exc.message,
                                              "type": "value_error"}]}
        else:
            assert api.json() == {"detail": str(exc)}
        page = client.get(f"/_boom/{name}", headers=BROWSER)
        assert page.status_code == status and "<html" in page.text
        assert str(exc) in page.text and 'class="flash flash-error"' in page.text
        assert 'href="/sequences"' in page.text  # the signed-in user's nav is there
        fragment = client.get(f"/_boom/{name}", headers={**BROWSER, "HX-Request": "true"})
        assert fragment.status_code == status and "<html" not in fragment.text
        assert str(exc) in fragment.text
        asks_json = client.get(f"/_boom/{name}", headers={"Accept": "application/json"})
        assert asks_json.status_code == status and "detail" in asks_json.json()


def test_unknown_urls_get_the_styled_404_page_and_json_under_api(signed_in):
    client, _ = signed_in
    page = client.get("/no/such/page", headers=BROWSER)
    assert page.status_code == 404 and "<html" in page.text
    assert "<h1>Not found</h1>" in page.text and "no page at this address" in page.text
    assert '/static/css/onset.css' in page.text  # styled: the site's own stylesheet
    api = client.get("/api/no/such/thing", headers=BROWSER)
    assert api.status_code == 404 and api.json() == {"detail": "Not Found"}
    with TestClient(client.app) as anonymous:  # signed out: the same page, no nav
        page = anonymous.get("/no/such/page", headers=BROWSER)
        assert page.status_code == 404 and "<h1>Not found</h1>" in page.text
        assert 'href="/sequences"' not in page.text


def test_a_wrong_method_is_a_405_page_for_browsers_and_json_for_the_api(signed_in):
    client, _ = signed_in
    assert client.delete("/sequences", headers=BROWSER).status_code == 405
    assert "<html" in client.delete("/sequences", headers=BROWSER).text
    assert client.delete("/api/stats").json() == {"detail": "Method Not Allowed"}


@pytest.fixture
def seq_id(session_factory, tmp_path) -> int:
    return import_specs(session_factory, tmp_path / "ck", [SeqSpec("S005", "001", frames=4,
                                                                   label=5.0)])["S005_001"]


def _body(**change) -> dict:
    return {"label": 5, "onset_frame": None, "apex_frame": None, "note": "", "exclude": False,
            "version": 0, **change}


def test_a_stale_save_is_409_with_who_when_and_the_current_row(signed_in, seq_id):
    client, csrf = signed_in
    url, headers = f"/api/sequences/{seq_id}/annotation", {"X-CSRF-Token": csrf}
    assert client.put(url, json=_body(label=3), headers=headers).status_code == 200
    stale = client.put(url, json=_body(label=4), headers=headers)
    assert stale.status_code == 409
    body = stale.json()
    assert set(body) == {"detail", "changed_by", "changed_at", "current"}
    assert body["changed_by"] == "rev1" and body["changed_at"].endswith("+00:00")
    assert body["current"]["version"] == 1 and body["current"]["label"] == "disgust"
    assert body["current"]["label_code"] == 3 and "you read version 0" in body["detail"]


def test_a_bad_value_is_422_naming_the_field_in_loc(signed_in, seq_id):
    client, csrf = signed_in
    bad = client.put(f"/api/sequences/{seq_id}/annotation", json=_body(onset_frame=9),
                     headers={"X-CSRF-Token": csrf})
    assert bad.status_code == 422
    [error] = bad.json()["detail"]
    assert error["loc"] == ["body", "onset_frame"] and "outside" in error["msg"]
    query = client.get("/api/sequences?sort=colour")
    assert query.status_code == 422 and query.json()["detail"][0]["loc"] == ["query", "sort"]


def test_a_missing_run_raised_by_the_service_is_a_404_page(signed_in):
    client, _ = signed_in
    page = client.get("/runs/nope", headers=BROWSER)
    assert page.status_code == 404 and "no run &#39;nope&#39;" in page.text
    assert client.get("/api/runs/nope").json() == {"detail": "no run 'nope'"}
