"""/openapi.json explains every operation, and the viewers need nothing from outside."""

import re

import pytest

from app.openapi import api_routes, first_sentence
from tests.support.web import login


@pytest.fixture
def schema(client, make_user):
    make_user("rev1")
    login(client, "rev1")
    return client.get("/openapi.json").json()


def _operations(schema):
    for path, item in schema["paths"].items():
        for method, operation in item.items():
            yield method.upper(), path, operation


def test_every_operation_has_a_summary_of_its_own_and_a_description(app, schema):
    defaults = {route.name.replace("_", " ").title() for route in api_routes(app.routes)}
    operations = list(_operations(schema))
    assert len(operations) >= 20
    for method, path, operation in operations:
        summary = operation.get("summary", "")
        assert summary and summary not in defaults, (method, path, summary)
        assert len(summary) <= 111 and not summary.endswith("."), (method, path, summary)
        assert operation.get("description"), (method, path)
    sequences = schema["paths"]["/api/sequences"]["get"]["summary"]
    assert sequences == "Sequences matching the filters, one page at a time, in list order"


def test_the_bearer_scheme_is_declared_and_used(schema):
    schemes = schema["components"]["securitySchemes"]
    bearer = [s for s in schemes.values() if s["type"] == "http" and s["scheme"] == "bearer"]
    assert len(bearer) == 1 and "onset user token" in bearer[0]["description"]
    name = next(k for k, s in schemes.items() if s == bearer[0])
    for method, path, operation in _operations(schema):
        assert {name: []} in operation.get("security", []), (method, path)


def test_the_refusals_are_listed(schema):
    for method, path, operation in _operations(schema):
        codes = set(operation["responses"])
        assert "401" in codes, (method, path)
        if "{" in path:
            assert "404" in codes, (method, path)
        if method != "GET":
            assert "403" in codes, (method, path)  # admins only, or a session's CSRF token
        for code, response in operation["responses"].items():
            assert response.get("description"), (method, path, code)
    jobs = schema["paths"]["/api/jobs"]["post"]["responses"]
    assert jobs["403"]["description"] == "Only admins can do that"
    # named in its docstring
    assert jobs["422"]["description"] == "422 names a bad parameter (`loc`)"
    predict = schema["paths"]["/api/predict"]["post"]["responses"]
    assert predict["413"]["description"] == "413 for an oversized file"


def test_first_sentence_cuts_long_docstrings_at_a_clause():
    assert first_sentence("Short one. Then more.") == "Short one"
    assert first_sentence("Do a thing; 422 otherwise.") == "Do a thing"
    long = "Export with the same options (keys: " + "x, " * 60 + "y). More."
    assert first_sentence(long) == "Export with the same options"
    assert first_sentence("See e.g. this. Next.") == "See e.g. this"


def test_the_viewers_load_everything_from_the_app(client, make_user):
    make_user("rev1")
    login(client, "rev1")
    for page in ("/docs", "/redoc"):
        response = client.get(page)
        assert response.status_code == 200
        urls = re.findall(r'(?:src|href)="([^"]+)"', response.text)
        assert urls and all(u.startswith("/") for u in urls), (page, urls)
        policy = response.headers["content-security-policy"]
        assert "http" not in policy and "unsafe-eval" not in policy, policy
        for url in urls:
            asset = client.get(url)
            assert asset.status_code == 200 and len(asset.content) > 100, url
    assert "swagger-ui-bundle.js" in client.get("/docs").text


def test_the_viewers_need_a_user(app):
    from fastapi.testclient import TestClient

    with TestClient(app) as anonymous:
        for page in ("/docs", "/redoc", "/openapi.json"):
            assert anonymous.get(page, follow_redirects=False).status_code in (303, 401), page
