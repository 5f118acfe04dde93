"""The "no face found" filter of the sequence list, on the page and in the API, and the queue
it starts. Landmark detection runs for real over a small CK+ tree where two sequences have
no landmark files (so every one of their frames is "no face found by landmarks")."""

import re

import pytest
from sqlalchemy import select

from app.models import Sequence, Subject
from app.services.faces import crops
from app.services.importer import import_ckplus
from tests.support.ckplus import SeqSpec, write_ckplus
from tests.support.web import login

WITH_LANDMARKS = [SeqSpec("S005", "001", frames=4, label=5.0), SeqSpec("S010", "001", frames=3),
                  SeqSpec("S011", "001", frames=3)]
WITHOUT_LANDMARKS = [SeqSpec("S005", "002", frames=2), SeqSpec("S010", "002", frames=3)]
HX = {"HX-Request": "true"}


@pytest.fixture
def ids(session_factory, tmp_path) -> dict[str, int]:
    root = write_ckplus(tmp_path / "ck", WITH_LANDMARKS)
    write_ckplus(root, WITHOUT_LANDMARKS, landmarks=False)
    with session_factory() as session:
        import_ckplus(session, root=root)
        session.commit()
        rows = session.execute(select(Subject.code, Sequence.code, Sequence.id).join(Subject))
        return {f"{s}_{q}": seq_id for s, q, seq_id in rows}


@pytest.fixture
def token(client, make_user):
    make_user("rev1")
    return login(client, "rev1")


def _detect_landmarks(session_factory, settings, frame_ids=None) -> None:
    with session_factory() as session:
        crops.detect_frames(session, settings, frame_ids=frame_ids, source="landmarks")


def _card_ids(html: str) -> set[int]:
    return {int(i) for i in re.findall(r'class="seq-card[^"]*" href="/sequences/(\d+)', html)}


def test_before_any_detection_the_list_says_how_to_run_it(client, token, ids):
    page = client.get("/sequences?no_face=landmarks")
    assert page.status_code == 200 and _card_ids(page.text) == set()
    assert "No face detection has been run with landmarks" in page.text
    assert "onset crop --source landmarks" in page.text and "admin page" in page.text
    api = client.get("/api/sequences?no_face=mtcnn").json()
    assert api["items"] == [] and api["total"] == 0
    assert api["face_detection"] == {"source": "mtcnn", "frames_located": 0,
                                     "frames_total": 15, "no_face_frames": 0,
                                     "complete": False}
    assert client.get("/api/sequences").json()["face_detection"] is None


def test_the_filter_lists_exactly_the_sequences_with_no_face_frames(
        client, token, ids, session_factory, settings):
    _detect_landmarks(session_factory, settings)
    wanted = {ids["S005_002"], ids["S010_002"]}
    with session_factory() as session:  # the crop cache's own answer agrees
        assert set(crops.no_face_sequence_ids(session, "landmarks")) == wanted
    api = client.get("/api/sequences?no_face=landmarks").json()
    assert {item["id"] for item in api["items"]} == wanted and api["total"] == 2
    assert api["face_detection"]["complete"] and api["face_detection"]["no_face_frames"] == 5
    page = client.get("/sequences?no_face=landmarks")
    assert _card_ids(page.text) == wanted
    assert "With landmarks, no face was found in 5 of 15 frames" in page.text
    fragment = client.get("/sequences?no_face=landmarks&subject=S010", headers=HX)
    assert _card_ids(fragment.text) == {ids["S010_002"]} and "<html" not in fragment.text
    assert fragment.headers["HX-Push-Url"] == "/sequences?subject=S010&no_face=landmarks"
    # Combined with other filters, and MTCNN (never run here) finds nothing to list.
    labelled = client.get("/api/sequences?no_face=landmarks&nolabel=1").json()
    assert {item["id"] for item in labelled["items"]} == wanted
    assert client.get("/api/sequences?no_face=mtcnn").json()["total"] == 0
    assert _card_ids(client.get("/sequences").text) == set(ids.values())  # off: all of them


def test_partial_detection_is_said_so(client, token, ids, session_factory, settings):
    with session_factory() as session:
        frame_ids = crops.frame_ids_for(session, sequence="S005/002")
    _detect_landmarks(session_factory, settings, frame_ids)
    page = client.get("/sequences?no_face=landmarks")
    assert _card_ids(page.text) == {ids["S005_002"]}
    assert re.search(r"landmarks has covered <b>2</b> of 15 frames", page.text)
    assert "may miss sequences" in page.text


def test_a_bad_source_is_named(client, token, ids):
    api = client.get("/api/sequences?no_face=eyes")
    assert api.status_code == 422 and api.json()["detail"][0]["loc"] == ["query", "no_face"]
    page = client.get("/sequences?no_face=eyes")
    assert page.status_code == 200 and "Ignored the filter no_face" in page.text


def test_save_and_next_stays_in_the_no_face_queue(client, token, ids, session_factory,
                                                  settings):
    _detect_landmarks(session_factory, settings)
    response = client.post(f"/sequences/{ids['S005_002']}/review", data={
        "csrf_token": token, "version": "0", "label": "3", "queue": "no_face=landmarks",
        "action": "next"}, follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"] == (f"/sequences/{ids['S010_002']}"
                                            f"?queue=no_face%3Dlandmarks&prev={ids['S005_002']}")
    # The review page of that queue opens with the landmarks face view on.
    page = client.get(response.headers["location"])
    assert 'data-queue-source="landmarks"' in page.text
