"""A reviewer's whole loop in a real browser: log in, filter the list, review with three keys,
land on the next sequence, find the saved annotation after a reload; and the stale-save
conflict between two browser sessions."""

import re

import pytest
from sqlalchemy import select

from app.models import Annotation, Sequence, Subject, User

pytestmark = pytest.mark.browser


def _unlabeled_in_list_order(site) -> list[tuple[int, int]]:
    """(sequence id, frame count) of the sequences without a CK+ label, in list order."""
    with site.session_factory() as session:
        return [tuple(r) for r in session.execute(
            select(Sequence.id, Sequence.frame_count).join(Subject)
            .where(Sequence.original_label.is_(None)).order_by(Subject.code, Sequence.code))]


def _annotation(site, user: str, sequence_id: int) -> Annotation | None:
    with site.session_factory() as session:
        return session.scalar(select(Annotation).join(User, User.id == Annotation.user_id)
                              .where(User.name == user, Annotation.sequence_id == sequence_id))


def test_filter_then_review_with_three_keys_and_see_it_after_reload(open_page, site, shoot):
    page = open_page("rev1")
    page.click("nav >> text=Sequences")
    page.wait_for_selector(".seq-card")
    total_cards = page.locator(".seq-card").count()
    shoot(page, "list")

    unlabeled = _unlabeled_in_list_order(site)
    assert 2 <= len(unlabeled) < total_cards
    page.check("input[name=nolabel]")  # htmx swaps the grid in place and pushes the URL
    page.wait_for_url(re.compile(r"/sequences\?nolabel=1$"))
    page.wait_for_function(
        f"() => document.querySelectorAll('.seq-card').length == {len(unlabeled)}")
    assert page.locator(".seq-card .chip-none", has_text="no label").count() == len(unlabeled)
    assert page.locator("#status-pills .pill.on", has_text="All").count() == 1
    shoot(page, "list-filtered", full_page=False)

    page.locator(".seq-card").first.click()
    first_id, frame_count = unlabeled[0]
    page.wait_for_url(re.compile(rf"/sequences/{first_id}\?queue=nolabel%3D1$"))
    page.wait_for_selector("body[data-review-ready]")
    # Review with the keyboard only: step back two frames, then label, onset, Enter.
    page.keyboard.press("ArrowLeft")
    page.keyboard.press("ArrowLeft")
    onset = frame_count - 2
    assert page.inner_text("#frame-no") == str(onset)
    page.keyboard.press("3")
    page.keyboard.press("o")
    assert page.locator(f".fs-frame.onset[data-number='{onset}']").count() == 1
    assert page.locator(".fs-frame.neutral").count() == onset - 1  # dimmed as neutral
    shoot(page, "review")
    page.keyboard.press("Enter")

    next_id = unlabeled[1][0]
    # Save & next names the sequence just saved (?prev=), for the "Saved ..." confirmation.
    page.wait_for_url(re.compile(rf"/sequences/{next_id}\?queue=nolabel%3D1&prev={first_id}$"))
    assert page.get_by_text("Saved").count() >= 1
    saved = _annotation(site, "rev1", first_id)
    assert (saved.label, saved.onset_frame, saved.version) == (3, onset, 1)

    page.goto(f"/sequences/{first_id}")
    page.reload()
    assert page.is_checked("input[name=label][value='3']")
    assert page.input_value("input[name=onset_frame]") == str(onset)
    assert "disgust" in page.inner_text("#head-chips")
    assert page.locator(".hist", has_text="rev1").count() >= 1  # the audit history shows it


def test_second_session_saving_a_stale_version_gets_the_conflict(open_page, site, shoot):
    sequence_id = _unlabeled_in_list_order(site)[-1][0]
    desk = open_page("rev2")
    laptop = open_page("rev2")  # the same reviewer on a second device: its own session
    for page in (desk, laptop):
        page.goto(f"/sequences/{sequence_id}")
        page.wait_for_selector("body[data-review-ready]")

    desk.keyboard.press("5")
    desk.keyboard.press("Control+s")
    desk.wait_for_selector("#save-message")
    assert _annotation(site, "rev2", sequence_id).label == 5

    laptop.keyboard.press("6")
    laptop.keyboard.press("Enter")
    error = laptop.wait_for_selector("#save-error")
    text = error.inner_text()
    assert "changed by rev2" in text and "Reload" in text
    assert laptop.url.endswith(f"/sequences/{sequence_id}")  # stayed: nothing was saved
    assert laptop.is_checked("input[name=label][value='6']")  # the unsaved choice is kept
    shoot(laptop, "conflict", full_page=False)
    stored = _annotation(site, "rev2", sequence_id)
    assert (stored.label, stored.version) == (5, 1)  # not overwritten

    laptop.click("#save-error >> text=Reload")
    laptop.wait_for_selector("body[data-review-ready]")
    assert laptop.is_checked("input[name=label][value='5']")
