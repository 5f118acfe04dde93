"""Schemathesis over /openapi.json: every `/api` operation, with the admin's and a reviewer's
Bearer token, on a real SQLite WAL file seeded with imported sequences and a queued job.

Each operation and role gets a fresh database (the `settings` fixture copies the migrated
template), so a write in one operation (a decision saved, a job cancelled) never hides
another's routes. Checks: no 5xx, the status code, content type and body are the ones the
schema documents, and every 4xx body has the documented shape:
`{"detail": "message", ...}`, or for 422 `{"detail": [{"loc": [...], "msg", "type"}]}`.

Nothing is excluded: POST /api/jobs only queues (the test settings start no job runner) and
POST /api/predict has no active run here, so it answers its documented 409. Counts of the
requests sent and of server errors are printed at the end (and written to
$ONSET_FUZZ_REPORT, default /tmp/onset-fuzz-report.json)."""

import json
import os
import tempfile
from collections import Counter
from pathlib import Path

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from app.config import Settings
from app.main import create_app
from tests.support.ckplus import SeqSpec, import_specs

SEEDED = [SeqSpec("S005", "001", frames=4, label=3.0), SeqSpec("S010", "002", frames=5),
          SeqSpec("S011", "004", frames=3, label=5.0)]
REPORT = Path(os.environ.get("ONSET_FUZZ_REPORT", Path(tempfile.gettempdir())
                             / "onset-fuzz-report.json"))
COUNTS: Counter = Counter()
EXPORT_ID: list[str] = []  # the seeded export's id (the same curation gives the same id)


def _schema_of_app() -> dict:
    """The schema /openapi.json serves (test_served_schema_is_fuzzed checks they agree); the
    app is built with a database it never opens, since collection needs the schema first."""
    folder = Path(tempfile.mkdtemp(prefix="onset-fuzz-schema-"))
    return create_app(Settings(data_dir=folder, database_url=f"sqlite:///{folder / 'x.db'}",
                               secret_key="fuzz", job_runner=False)).openapi()


RAW_SCHEMA = _schema_of_app()
schema = schemathesis.openapi.from_dict(RAW_SCHEMA).include(path_regex="^/api/")


@schema.hook("map_path_parameters")
def seeded_ids(_context, path_parameters: dict | None) -> dict | None:
    """Half the generated ids name a seeded sequence, job or export, so the routes behind the
    404 are fuzzed too; the other half stay as drawn (mostly missing rows)."""
    if not path_parameters:
        return path_parameters
    return {name: _seeded(name, value) for name, value in path_parameters.items()}


def _seeded(name: str, value):
    if isinstance(value, int) and not isinstance(value, bool) and value % 2 == 0:
        return 1 + value // 2 % len(SEEDED)
    if name == "export_id" and isinstance(value, str) and len(value) % 2 == 0 and EXPORT_ID:
        return EXPORT_ID[0]
    return value


def documented_refusal(_ctx, response, case) -> bool | None:
    """Every 4xx is a code the operation documents, with the body shape the API promises."""
    status = response.status_code
    if not 400 <= status < 500:
        return None
    documented = case.operation.definition.raw.get("responses", {})
    # Schemathesis also sends methods the path does not have (TRACE ...): those get a 405.
    other_method = case.method.upper() != case.operation.method.upper()
    assert str(status) in documented or (other_method and status == 405), (
        f"{status} is not documented for {case.operation.label}")
    body = response.json()
    assert isinstance(body, dict) and "detail" in body, f"{status} body without detail: {body}"
    if status == 422:
        assert isinstance(body["detail"], list) and body["detail"], body
        for error in body["detail"]:
            assert isinstance(error.get("loc"), list), error
            assert isinstance(error.get("msg"), str) and isinstance(error.get("type"), str), error
    else:
        assert isinstance(body["detail"], str), f"{status} detail is not a message: {body}"
    return True


# Not `negative_data_rejection`: the API accepts what pydantic's lax mode coerces (0 for
# false, "2" for 2) and ignores unknown query parameters, like every FastAPI app; negative
# (schema-violating) inputs are still generated and must get no 5xx and a documented 4xx.
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance,
          response_schema_conformance, documented_refusal]


@pytest.fixture(scope="module", autouse=True)
def fuzz_report(request):
    """Print and write the totals once every operation has run."""
    yield
    if not COUNTS["requests"]:
        return  # only other tests of this module ran (-k): keep the last full report
    REPORT.write_text(json.dumps(dict(COUNTS), indent=1, sort_keys=True))
    line = (f"schemathesis: {COUNTS['requests']} requests, {COUNTS['server_errors']} server "
            f"errors ({REPORT})")
    plugins = request.config.pluginmanager
    reporter, capture = plugins.get_plugin("terminalreporter"), plugins.get_plugin("capturemanager")
    if reporter is not None and capture is not None:
        with capture.global_and_fixture_disabled():
            reporter.write_line(line)


@pytest.fixture
def seeded(app, session_factory, make_user, tmp_path):
    """The app on its own migrated file: three sequences, an admin, a reviewer, a queued job
    and an export."""
    from app.services.export import ExportSpec, run_export
    from app.services.jobs import submit_job
    from app.services.users import new_api_token

    import_specs(session_factory, tmp_path / "ckplus", SEEDED)
    users = {role: make_user(f"fuzz_{role}", role) for role in ("admin", "reviewer")}
    with session_factory() as session:
        tokens = {role: new_api_token(session, user=user) for role, user in users.items()}
        submit_job(session, app.state.settings, kind="crop", params={},
                   user_id=users["admin"].id)
        export = run_export(session, app.state.settings, params=ExportSpec(folds=2),
                            user_id=users["admin"].id)
        session.commit()
    EXPORT_ID[:] = [export.id]
    return app, tokens


@pytest.fixture(params=["admin", "reviewer"])
def role(request) -> str:
    return request.param


@schema.parametrize()
@settings(max_examples=20, deadline=None, derandomize=True, database=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much,
                                 HealthCheck.function_scoped_fixture])
def test_api_operation(case, seeded, role):
    app, tokens = seeded
    COUNTS["requests"] += 1
    try:
        response = case.call(app=app, headers={"Authorization": f"Bearer {tokens[role]}"})
    except Exception:  # the in-process client re-raises what would have been a 500
        COUNTS["server_errors"] += 1
        raise
    COUNTS[f"status_{response.status_code}"] += 1
    if response.status_code >= 500:
        COUNTS["server_errors"] += 1
    case.validate_response(response, checks=CHECKS)


def test_served_schema_is_fuzzed(seeded):
    """/openapi.json needs a sign-in, and serves exactly the schema fuzzed above."""
    from fastapi.testclient import TestClient

    app, tokens = seeded
    with TestClient(app) as client:
        assert client.get("/openapi.json", headers={"Accept": "application/json"}
                          ).status_code == 401
        served = client.get("/openapi.json", headers={"Authorization": f"Bearer {tokens['admin']}"})
    assert served.status_code == 200
    assert served.json() == json.loads(json.dumps(RAW_SCHEMA))
    assert len(list(schema.get_all_operations())) >= 20


@pytest.mark.parametrize("body", [{"merge": None}, {"exclude": None}, {"exclude": 3},
                                  {"merge": 7}])
def test_export_lists_of_another_type_are_refused_by_name(seeded, body):
    """Found by the fuzzing: `null` for exclude or merge was a TypeError (500)."""
    from fastapi.testclient import TestClient

    app, tokens = seeded
    with TestClient(app) as client:
        answer = client.post("/api/exports", json=body,
                             headers={"Authorization": f"Bearer {tokens['admin']}"})
    assert answer.status_code == 422
    (field,) = body
    assert [error["loc"] for error in answer.json()["detail"]] == [["body", field]]
