"""Markup typed or named by users renders as text: a note, a user name and a file name with
an HTML payload, on the pages, in the charts and on the run pages."""

import csv
import json

import pytest
from fastapi.testclient import TestClient

from app.models import User
from app.services.users import hash_password, new_api_token
from tests.support.ckplus import SeqSpec, import_specs
from tests.support.web import login

PAYLOAD = '<img src=x onerror="alert(1)">'
ESCAPED = "&lt;img src=x onerror=&#34;alert(1)&#34;&gt;"


def _assert_text_only(html: str, where: str) -> None:
    assert PAYLOAD not in html and "<img src=x" not in html, f"raw markup on {where}"
    assert ESCAPED in html or "&lt;img src=x" in html, f"payload missing on {where}"


def test_user_names_with_markup_are_refused_at_creation(make_user):
    from app.services.users import UserError

    with pytest.raises(UserError, match="must be 2-64 letters"):
        make_user("<b>rev</b>")


@pytest.fixture
def marked_up(app, session_factory, make_user, tmp_path):
    """A sequence annotated by a user whose name and note hold markup. Names are checked on
    creation (above), so this account is written straight into the database, as an older
    version or a hand-edited database could have it."""
    ids = import_specs(session_factory, tmp_path / "ck", [SeqSpec("S005", "001", label=5.0)])
    make_user("boss", "admin")
    with session_factory() as session:
        evil = User(name=PAYLOAD, role="reviewer", password_hash=hash_password("x" * 12))
        session.add(evil)
        session.flush()
        token = new_api_token(session, user=evil)
        session.commit()
    sequence_id = next(iter(ids.values()))
    with TestClient(app, headers={"Authorization": f"Bearer {token}"}) as script:
        saved = script.put(f"/api/sequences/{sequence_id}/annotation", json={
            "label": 3, "onset_frame": 2, "note": f"look {PAYLOAD} here", "version": 0})
        assert saved.status_code == 200, saved.text
    return sequence_id


def test_notes_and_names_render_as_text_on_every_page(client, marked_up):
    login(client, "boss")
    pages = [f"/sequences/{marked_up}", f"/sequences/{marked_up}?decide=1", "/sequences",
             "/", "/admin"]
    seen = 0
    for path in pages:
        response = client.get(path)
        assert response.status_code == 200, path
        assert PAYLOAD not in response.text and "<img src=x" not in response.text, path
        seen += ESCAPED in response.text
    _assert_text_only(client.get(f"/sequences/{marked_up}?decide=1").text, "the review page")
    assert seen >= 1
    # The JSON API returns it as data, exactly as typed.
    api = client.get(f"/api/sequences/{marked_up}").json()
    assert api["annotations"][0]["reviewer"] == PAYLOAD
    assert api["annotations"][0]["note"] == f"look {PAYLOAD} here"


def _write_run(folder, labels: list[str]) -> None:
    folder.mkdir(parents=True)
    (folder / "labels.json").write_text(json.dumps(labels))
    (folder / "config.json").write_text(json.dumps({
        "config": {"name": PAYLOAD}, "dataset": {"id": "d1", "labels": labels},
        "run": {"seed": 0}}))
    (folder / "metrics.json").write_text(json.dumps({
        "accuracy": {"mean": 0.5, "std": 0.1, "per_fold": [0.4, 0.6]}, "macro_f1": 0.5,
        "per_class": {label: {"precision": 0.5, "recall": 0.5, "f1": 0.5, "support": 2}
                      for label in labels},
        "confusion_matrix": {"labels": labels, "matrix": [[1, 1], [1, 1]]}}))
    with (folder / "history.csv").open("w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(["fold", "epoch", "loss", "accuracy", "val_loss", "val_accuracy"])
        writer.writerows([[1, 1, 1.0, 0.5, 1.1, 0.4], [1, 2, 0.8, 0.6, 0.9, 0.5]])
    with (folder / "predictions.csv").open("w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(["path", "subject", "sequence", "frame", "true_label",
                         "predicted_label"])
        writer.writerow([f"images/{PAYLOAD}.png", "S005", "001", 3, labels[0], labels[1]])


def test_run_pages_and_charts_show_markup_as_text(client, settings, make_user):
    """A run folder named with markup, whose class names and image paths hold markup too
    (run folders come from disk, not from the app)."""
    make_user("boss", "admin")
    run_id = f"run{PAYLOAD.replace('/', '')}"
    _write_run(settings.runs_dir / run_id, [f"happy{PAYLOAD}", "sad"])
    login(client, "boss")
    listing = client.get("/runs")
    assert listing.status_code == 200
    _assert_text_only(listing.text, "the runs page")
    page = client.get(f"/runs/{run_id}")
    assert page.status_code == 200, page.text[:300]
    _assert_text_only(page.text, "the run page")
    assert "<svg" in page.text  # the charts were drawn, with the labels escaped inside
    compare = client.get("/runs/compare", params={"a": run_id, "b": run_id})
    assert compare.status_code == 200
    _assert_text_only(compare.text, "the run comparison")


@pytest.mark.slow
def test_an_uploaded_file_name_with_markup_renders_as_text(client, settings, make_user,
                                                           session_factory, tiny_run):
    import shutil

    make_user("boss", "admin")
    run_dir = settings.runs_dir / tiny_run.run_dir.name
    shutil.copytree(tiny_run.run_dir, run_dir)
    token = login(client, "boss")
    promoted = client.post(f"/runs/{run_dir.name}/promote", data={"csrf_token": token},
                           follow_redirects=False)
    assert promoted.status_code == 303
    response = client.post("/predict", data={"csrf_token": token},
                           files=[("files", (f"{PAYLOAD}.png", b"not an image", "image/png"))])
    assert response.status_code == 200, response.text[:300]
    _assert_text_only(response.text, "the predict results")
