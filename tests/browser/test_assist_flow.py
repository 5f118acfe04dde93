"""Review assistance in a real browser: walk the suspects queue with Enter, accept a
suggested onset with G, adjudicate a disagreement with one key, and see the dashboard
follow. A server of its own (an active model would change the other browser tests' pages):
a 3-subject demo and a run folder whose out-of-fold predictions doubt two labels."""

import csv
import json
from pathlib import Path

import pytest
from sqlalchemy import select

from app.models import EMOTIONS, Annotation, Decision, Frame, Run, Sequence, Subject, User
from tests.browser.conftest import CHROMIUM, logged_in_page, running_server
from tests.support.web import PASSWORD

pytestmark = pytest.mark.browser
PLANTED = 2


class AssistSite:
    def __init__(self, base_url, factory, demo, planted):
        self.base_url, self.session_factory, self.demo, self.planted = (
            base_url, factory, demo, planted)


def fake_run(session, folder: Path) -> list[int]:
    """An export manifest + predictions.csv: every labelled sequence predicted as its label
    (0.9) except the first PLANTED, predicted as another class; registered as active."""
    rows = session.execute(select(Subject.code, Sequence.code, Sequence.id,
                                  Sequence.original_label, Frame.id, Frame.number)
                           .join(Sequence, Sequence.subject_id == Subject.id)
                           .join(Frame, Frame.sequence_id == Sequence.id)
                           .where(Sequence.original_label.is_not(None),
                                  Frame.number >= Sequence.frame_count - 1)
                           .order_by(Subject.code, Sequence.code, Frame.number)).all()
    labels = sorted({EMOTIONS[r.original_label] for r in rows}, key=EMOTIONS.index)
    assert len(labels) >= 3, labels
    # Plant the doubt on sequences of the most common classes: confident learning needs a
    # few examples per class to set its thresholds.
    by_class: dict[str, list[int]] = {}
    for r in rows:
        ids = by_class.setdefault(EMOTIONS[r.original_label], [])
        if r.id not in ids:
            ids.append(r.id)
    common = sorted(by_class, key=lambda c: -len(by_class[c]))[:PLANTED]
    planted = sorted(by_class[c][0] for c in common)
    export, run = folder / "export", folder / "run"
    export.mkdir(parents=True)
    run.mkdir()
    manifest, predictions = [], []
    for subject, code, seq_id, label, frame_id, number in rows:
        name = EMOTIONS[label]
        looks = (common[(common.index(name) + 1) % len(common)] if seq_id in planted
                 else name)
        path = f"images/{name}/{subject}_{code}_{number:08d}.png"
        manifest.append([path, name, subject, code, number, 1, seq_id, frame_id])
        predictions.append([path, subject, code, number, 1, name, looks]
                           + [0.9 if c == looks else 0.1 / (len(labels) - 1) for c in labels])
    with open(export / "manifest.csv", "w", newline="") as fh:
        csv.writer(fh).writerows([["path", "label", "subject", "sequence", "frame", "fold",
                                   "sequence_id", "source_frame_id"], *manifest])
    with open(run / "predictions.csv", "w", newline="") as fh:
        csv.writer(fh).writerows([["path", "subject", "sequence", "frame", "fold", "true_label",
                                   "predicted_label"] + [f"prob_{c}" for c in labels],
                                  *predictions])
    (run / "config.json").write_text(json.dumps({"run": {"id": "fake-run",
                                                         "dataset": str(export)}}))
    (run / "metrics.json").write_text("{}")
    session.add(Run(id="fake-run", kind="train", path=str(run), active=True))
    return planted


@pytest.fixture(scope="module")
def assist_site(tmp_path_factory):
    if not Path(CHROMIUM).exists():
        pytest.skip(f"Debian's Chromium is not installed at {CHROMIUM} (make browser-deps)")
    from app.db import make_engine, make_session_factory, session_scope
    from app.demo import generate_demo
    from app.services.importer import import_ckplus
    from app.services.users import create_user
    from bench.common import fresh_settings

    base = tmp_path_factory.mktemp("assist")
    demo = base / "demo"
    generate_demo(demo, subjects=3, seed=2, workers=1)
    settings = fresh_settings(base / "var")
    engine = make_engine(settings.resolved_database_url)
    factory = make_session_factory(engine)
    with session_scope(factory) as session:
        import_ckplus(session, root=demo)
        for name, role in (("rev1", "reviewer"), ("rev2", "reviewer"), ("rev3", "reviewer"),
                           ("boss", "admin")):
            create_user(session, name=name, password=PASSWORD, role=role)
        planted = fake_run(session, base / "fake")
    with running_server(base, settings, {"ONSET_JOB_RUNNER": "false"}) as base_url:
        yield AssistSite(base_url, factory, demo, planted)
    engine.dispose()


@pytest.fixture
def login_as(browser, assist_site):
    contexts = []

    def open_as(name):
        # 20 s: a busy 2-core machine; cleanlab loads once
        return logged_in_page(browser, assist_site.base_url, name, contexts,
                              timeout_ms=20_000)

    yield open_as
    for context in contexts:
        context.close()


def _annotation(site, user: str, sequence_id: int):
    with site.session_factory() as session:
        return session.scalar(select(Annotation).join(User, User.id == Annotation.user_id)
                              .where(User.name == user, Annotation.sequence_id == sequence_id))


def test_walk_the_suspects_queue_with_enter(login_as, assist_site, shoot):
    page = login_as("rev1")
    page.click("#dash-suspects a")  # "Review suspects" on the dashboard
    page.wait_for_selector("body[data-review-ready]")
    first = int(page.url.split("/sequences/")[1].split("?")[0])
    assert first in assist_site.planted
    second = next(i for i in assist_site.planted if i != first)
    assert "Suspected mislabel" in page.inner_text("#model-card")
    assert page.locator("#model-top3 li").count() == 3
    assert "suspect 1 of 2" in page.inner_text("#queue-pos")
    shoot(page, "assist-suspect", full_page=False)
    page.keyboard.press("Enter")  # agree with CK+ this time: save and open the next suspect
    page.wait_for_url(f"**/sequences/{second}?**")
    page.wait_for_selector("body[data-review-ready]")
    assert "Saved" in page.inner_text("#save-message")
    assert "suspect 2 of 2" in page.inner_text("#queue-pos")
    page.keyboard.press("Enter")
    page.wait_for_selector("#save-message:has-text('last sequence in your queue')")
    assert _annotation(assist_site, "rev1", first) is not None
    page.goto("/sequences?suspects=1")
    assert page.locator(".seq-card").count() == 2
    assert page.locator(".suspect-tag").count() == 2


def test_accept_the_suggested_onset_with_g(login_as, assist_site):
    with assist_site.session_factory() as session:
        seq = session.execute(select(Sequence.id, Subject.code, Sequence.code)
                              .join(Subject).order_by(Subject.code, Sequence.code)).all()[-1]
    truth = {(r["subject"], r["sequence"]): int(r["true_onset"])
             for r in csv.DictReader(open(assist_site.demo / "demo_truth.csv"))}
    page = login_as("rev2")
    page.goto(f"/sequences/{seq.id}")
    page.wait_for_selector("body[data-review-ready]")
    assert page.is_visible("#intensity-curve") and page.locator(".fs-frame .fs-ghost").count() == 1
    assert page.input_value("#onset-input") == ""
    page.keyboard.press("?")
    assert "accept the suggested onset" in page.inner_text("#help")
    page.keyboard.press("Escape")
    page.keyboard.press("g")
    assert page.input_value("#onset-input") == str(truth[(seq[1], seq[2])])
    page.keyboard.press("5")  # a label too (this sequence may have none from CK+)
    page.keyboard.press("Control+s")
    page.wait_for_selector("#save-message")
    assert _annotation(assist_site, "rev2", seq.id).onset_frame == truth[(seq[1], seq[2])]


def test_adjudicate_a_disagreement_and_the_dashboard_follows(login_as, assist_site, shoot):
    from app.services.review import ReviewInput, save_annotation

    with assist_site.session_factory() as session:
        reviewed = set(session.scalars(select(Annotation.sequence_id)))
        seq_id = next(i for i in session.scalars(select(Sequence.id).join(Subject)
                                                 .order_by(Subject.code, Sequence.code))
                      if i not in reviewed)
        for name, label in (("rev2", 5), ("rev3", 7)):
            user = session.scalar(select(User).where(User.name == name))
            save_annotation(session, sequence_id=seq_id, user=user, data=ReviewInput(
                label=label, onset_frame=3, apex_frame=None, note="", exclude=False,
                version=0))
        session.commit()
    page = login_as("boss")
    assert page.inner_text("#dash-disputes").startswith("1 disagreement")
    reviewed_before = int(page.inner_text("#dash-reviewed").split()[0])
    page.click("#dash-disputes a")
    page.click(f"a[href='/adjudicate/{seq_id}'] >> nth=0")
    page.wait_for_selector("body[data-adjudicate-ready]")
    assert page.locator(".adj-answer").count() == 2
    shoot(page, "assist-adjudicate", full_page=False)
    page.keyboard.press("2")  # take rev3's answer (reviewers are listed by name)
    page.wait_for_selector("#decided-message")
    with assist_site.session_factory() as session:
        decision = session.get(Decision, seq_id)
        assert decision.label == 7 and "rev3" in decision.note
    page.goto("/")
    assert page.inner_text("#dash-disputes").startswith("0 disagreements")
    assert int(page.inner_text("#dash-reviewed").split()[0]) >= reviewed_before
    page.goto(f"/sequences/{seq_id}")
    assert "admin decision" in page.inner_text("#head-chips")
