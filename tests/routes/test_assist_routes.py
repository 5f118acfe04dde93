"""Review assistance over HTTP: suspects API, list and review page, agreement, adjudication
(admin + CSRF, decision with audit trail), dashboard."""

import pytest
from sqlalchemy import select

from app.models import AuditEntry, Decision
from app.services.review import ReviewInput, save_annotation
from tests.support.assist_runs import SPECS, write_run
from tests.support.ckplus import import_specs
from tests.support.web import login


@pytest.fixture
def ids(session_factory, tmp_path):
    return import_specs(session_factory, tmp_path / "ck", SPECS)


@pytest.fixture
def reviewer(client, make_user, ids):
    make_user("rev1")
    return login(client, "rev1")


def test_suspects_api_list_filter_and_review_page(client, session, ids, reviewer, tmp_path):
    assert client.get("/api/suspects").status_code == 409  # no active model yet
    assert "no active model" in client.get("/api/suspects").json()["detail"]
    write_run(tmp_path, session)
    items = client.get("/api/suspects?top=2").json()
    assert len(items) == 2 and items[0]["subject"] == "S007" and items[0]["sequence"] == "002"
    assert {"label", "predicted", "score", "run"} <= set(items[0])
    assert client.get("/api/suspects?run=nope").status_code == 409
    assert client.get("/api/sequences?suspects=1").json()["total"] == 1
    page = client.get("/sequences?suspects=1")
    assert page.text.count('class="seq-card') == 1 and "model says surprise" in page.text
    review = client.get(f"/sequences/{ids['S007_002']}?queue=suspects%3D1").text
    assert "Suspected mislabel" in review and "run run-1" in review
    assert review.count('class="chip chip-') >= 3 and "90%" in review
    assert "suspect <b>1</b> of 1" in review


def test_agreement_page_and_api(client, session, ids, reviewer, make_user):
    page = client.get("/agreement")
    assert page.status_code == 200 and "not enough data" in page.text.lower()
    assert client.get("/api/agreement").json()["labels"]["fleiss_kappa"] is None


def _two_reviewers_disagree(session, make_user, seq_id):
    a, b = make_user("ann"), make_user("bob")
    for user, label, onset in ((a, 5, 2), (b, 7, 4)):
        save_annotation(session, sequence_id=seq_id, user=session.merge(user), data=ReviewInput(
            label=label, onset_frame=onset, apex_frame=None, note="", exclude=False, version=0))
    session.commit()
    return a, b


def test_adjudication_takes_one_answer_with_audit_trail(client, session, ids, make_user,
                                                        reviewer):
    seq_id = ids["S005_001"]
    ann, bob = _two_reviewers_disagree(session, make_user, seq_id)
    assert client.get("/adjudicate").status_code == 403  # reviewers may not
    make_user("boss", "admin")
    token = login(client, "boss")
    queue = client.get("/adjudicate").text
    assert "S005 / 001" in queue and "label tie" in queue and "onsets 2 frames apart" not in queue
    one = client.get(f"/adjudicate/{seq_id}").text
    assert one.count('class="adj-row adj-answer"') == 2 and "<kbd>2</kbd> take" in one
    no_csrf = client.post(f"/adjudicate/{seq_id}", data={"take_from": bob.id, "version": 0})
    assert no_csrf.status_code == 403
    done = client.post(f"/adjudicate/{seq_id}", data={"take_from": bob.id, "version": 0,
                                                      "csrf_token": token},
                       follow_redirects=False)
    assert done.status_code == 303 and done.headers["location"] == f"/adjudicate?decided={seq_id}"
    session.expire_all()
    decision = session.get(Decision, seq_id)
    assert (decision.label, decision.onset_frame) == (7, 4) and "bob" in decision.note
    audit = session.scalars(select(AuditEntry).where(AuditEntry.action == "decision.save",
                                                     AuditEntry.sequence_id == seq_id)).all()
    assert len(audit) == 1 and audit[0].after["label"] == 7
    assert "No disagreements waiting" in client.get("/adjudicate").text
    stale = client.post(f"/adjudicate/{seq_id}", data={"take_from": ann.id, "version": 0,
                                                       "csrf_token": token})
    assert stale.status_code == 409  # someone decided since this page was read
    review = client.get(f"/sequences/{seq_id}").text
    assert "admin decision" in review


def test_dashboard_shows_progress_waiting_work_and_where_to_continue(client, session, ids,
                                                                     make_user, reviewer):
    home = client.get("/").text
    assert 'id="continue-reviewing"' in home and "Continue reviewing" in home
    assert '<span class="dash-big">0</span> disagreements' in home
    nav = home[home.index('<nav class="nav">'):home.index("</nav>")]
    assert nav.index(">Sequences<") < nav.index(">Dashboard<")
    _two_reviewers_disagree(session, make_user, ids["S005_001"])
    home = client.get("/").text
    assert '<span class="dash-big">1</span> disagreement' in home
    assert 'data-reviewer="ann"' in home and 'data-reviewer="bob"' in home


def test_majority_is_said_only_with_more_than_one_reviewer(client, session, ids, make_user,
                                                           reviewer):
    seq_id = ids["S006_001"]
    ann, bob = make_user("ann"), make_user("bob")
    save_annotation(session, sequence_id=seq_id, user=session.merge(ann), data=ReviewInput(
        label=1, onset_frame=2, apex_frame=None, note="", exclude=False, version=0))
    session.commit()
    one = client.get(f"/sequences/{seq_id}").text
    assert "majority" not in one and "the reviewer" in one
    save_annotation(session, sequence_id=seq_id, user=session.merge(bob), data=ReviewInput(
        label=1, onset_frame=2, apex_frame=None, note="", exclude=False, version=0))
    session.commit()
    assert "reviewers’ majority" in client.get(f"/sequences/{seq_id}").text
