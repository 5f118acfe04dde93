"""The list and review pages over HTTP: htmx fragments and full pages, form saves with their
redirects, 409/422 answers, CSRF, roles, and notes rendered escaped."""

import re

import pytest
from sqlalchemy import select

from app.models import Annotation, Decision
from tests.support.ckplus import SeqSpec, import_specs
from tests.support.web import login

SPECS = [SeqSpec("S005", "001", frames=6, label=5.0, facs=[(6, 3), (12, 4)]),
         SeqSpec("S005", "002", frames=5), SeqSpec("S010", "001", frames=4, label=3.0),
         SeqSpec("S010", "002", frames=8)]
HX = {"HX-Request": "true"}


@pytest.fixture
def ids(session_factory, tmp_path) -> dict[str, int]:
    return import_specs(session_factory, tmp_path / "ck", SPECS)


@pytest.fixture
def rev1(client, make_user) -> str:
    make_user("rev1")
    return login(client, "rev1")


def form(token: str, **fields) -> dict:
    return {"csrf_token": token, "version": "0", **{k: str(v) for k, v in fields.items()}}


def test_list_page_and_its_htmx_fragment(client, ids, rev1):
    page = client.get("/sequences")
    assert page.status_code == 200 and "<html" in page.text
    assert page.text.count('class="seq-card') == 4 and "Review progress" in page.text
    assert 'href="/sequences"' in client.get("/").text  # the nav links the list
    fragment = client.get("/sequences?nolabel=1&label=&subject=", headers=HX)
    assert "<html" not in fragment.text and fragment.text.count('class="seq-card') == 2
    assert fragment.headers["HX-Push-Url"] == "/sequences?nolabel=1"  # no empty parameters
    # The cards link to the review page with the list's filters as the queue.
    assert f'href="/sequences/{ids["S005_002"]}?queue=nolabel%3D1"' in fragment.text


def test_a_bad_filter_is_named_not_a_crash(client, ids, rev1):
    page = client.get("/sequences?status=finished")
    assert page.status_code == 200 and "Ignored the filter status" in page.text
    assert page.text.count('class="seq-card') == 4


def test_review_page_shows_ck_label_facs_and_frames(client, ids, rev1):
    page = client.get(f"/sequences/{ids['S005_001']}")
    assert page.status_code == 200
    assert page.text.count('class="fs-frame"') == 6
    assert '<span class="au">6C</span>' in page.text and '<span class="au">12D</span>' in page.text
    assert "pre-selected from CK+" in page.text  # happy pre-selected: Enter confirms it
    assert re.search(r'value="5"\s+checked', page.text)
    assert client.get("/sequences/999999").status_code == 404


def test_form_save_redirects_to_the_next_in_the_queue(client, ids, rev1):
    seq = ids["S005_002"]
    response = client.post(f"/sequences/{seq}/review",
                           data=form(rev1, label=7, onset_frame=2, queue="nolabel=1",
                                     action="next"), follow_redirects=False)
    assert response.status_code == 303
    target = f"/sequences/{ids['S010_002']}?queue=nolabel%3D1&prev={seq}"
    assert response.headers["location"] == target
    # The next page confirms that the previous sequence was saved, and says where we are.
    landed = client.get(target).text
    assert "Saved S005 / 002" in landed and "<b>2</b> of 2" in landed
    htmx = client.post(f"/sequences/{ids['S010_002']}/review",
                       data=form(rev1, label=1, queue="nolabel=1", intent="next"), headers=HX)
    # The queue wraps around but both unlabeled sequences are done now: say so, stay here.
    assert htmx.status_code == 200 and "HX-Redirect" not in htmx.headers
    assert "last sequence in your queue" in htmx.text and "<html" not in htmx.text
    nxt = client.post(f"/sequences/{ids['S005_001']}/review",
                      data=form(rev1, label=5, intent="next"), headers=HX)
    assert nxt.headers["HX-Redirect"] == f"/sequences/{ids['S010_001']}?prev={ids['S005_001']}"


def test_stale_and_invalid_form_saves(client, ids, rev1, session_factory):
    seq = ids["S005_001"]
    assert client.post(f"/sequences/{seq}/review", data=form(rev1, label=5),
                       headers=HX).status_code == 200
    stale = client.post(f"/sequences/{seq}/review", data=form(rev1, label=6), headers=HX)
    assert stale.status_code == 409 and "changed by rev1 at" in stale.text
    assert re.search(r'value="6"\s+checked', stale.text)  # the unsaved choice is kept
    bad = client.post(f"/sequences/{seq}/review",
                      data={**form(rev1, label=5, onset_frame=9), "version": "1"}, headers=HX)
    assert bad.status_code == 422 and "onset_frame" in bad.text and "1..6" in bad.text
    junk = client.post(f"/sequences/{seq}/review",
                       data={**form(rev1, label="happy"), "version": "1"})
    assert junk.status_code == 422 and "<html" in junk.text and "not a whole number" in junk.text
    with session_factory() as session:
        row = session.scalar(select(Annotation).where(Annotation.sequence_id == seq))
        assert (row.label, row.version) == (5, 1)


def test_writes_need_the_csrf_token(client, ids, rev1):
    seq = ids["S005_001"]
    refused = client.post(f"/sequences/{seq}/review", data={"label": "5", "version": "0"})
    assert refused.status_code == 403
    wrong = client.post(f"/sequences/{seq}/review",
                        data={"label": "5", "version": "0", "csrf_token": "forged"})
    assert wrong.status_code == 403
    assert "not reviewed yet" in client.get(f"/sequences/{seq}").text


def test_only_admins_record_decisions(client, ids, rev1, make_user, session_factory):
    seq = ids["S010_001"]
    refused = client.post(f"/sequences/{seq}/review",
                          data=form(rev1, label=2, mode="decision"), headers=HX)
    assert refused.status_code == 403
    page = client.get(f"/sequences/{seq}?decide=1")
    assert "Admin decision" not in page.text and "Decide as admin" not in page.text
    make_user("boss", "admin")
    token = login(client, "boss")
    assert "Decide as admin" in client.get(f"/sequences/{seq}").text
    decided = client.post(f"/sequences/{seq}/review",
                          data=form(token, label=2, mode="decision", intent="stay"),
                          headers=HX)
    assert decided.status_code == 200 and "Saved." in decided.text
    with session_factory() as session:
        assert session.get(Decision, seq).label == 2
        assert session.scalar(select(Annotation).where(Annotation.sequence_id == seq)) is None


def test_disagreement_is_highlighted_for_admins(client, ids, make_user):
    seq = ids["S010_001"]
    for name, label in (("rev1", 4), ("rev2", 1)):
        make_user(name)
        token = login(client, name)
        client.post(f"/sequences/{seq}/review", data=form(token, label=label), headers=HX)
    assert "Reviewers disagree" not in client.get(f"/sequences/{seq}").text  # rev2
    make_user("boss", "admin")
    login(client, "boss")
    page = client.get(f"/sequences/{seq}").text
    assert "Reviewers disagree" in page and "rev1 said fear" in page and "rev2 said anger" in page


def test_notes_render_escaped(client, ids, rev1, make_user):
    seq = ids["S005_001"]
    note = '<script>alert("x")</script><img src=x onerror=alert(1)>'
    client.post(f"/sequences/{seq}/review", data=form(rev1, label=5, note=note), headers=HX)
    mine = client.get(f"/sequences/{seq}").text
    make_user("rev2")
    login(client, "rev2")
    theirs = client.get(f"/sequences/{seq}").text
    for page in (mine, theirs):
        assert "<script>alert" not in page and "<img src=x" not in page
    assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;" in theirs  # in the others' list


def test_skip_goes_to_the_next_without_saving(client, ids, rev1):
    response = client.get(f"/sequences/{ids['S005_001']}/next?queue=nolabel%3D1",
                          follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"] == f"/sequences/{ids['S005_002']}?queue=nolabel%3D1"
