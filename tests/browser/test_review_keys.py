"""Keyboard details in a real browser: the `?` overlay, shortcuts silent while typing a note
(Escape leaves it), exclude with X, Ctrl+S to save and stay, and a note that stays text."""

import pytest
from sqlalchemy import select

from app.models import Annotation, Sequence, Subject, User

pytestmark = pytest.mark.browser


def test_overlay_note_typing_and_exclude(open_page, site, shoot):
    with site.session_factory() as session:
        sequence_id = session.scalars(
            select(Sequence.id).join(Subject).where(Sequence.original_label.is_not(None))
            .order_by(Subject.code, Sequence.code)).all()[2]
    page = open_page("rev3")
    page.goto(f"/sequences/{sequence_id}")
    page.wait_for_selector("body[data-review-ready]")

    page.keyboard.press("?")
    assert page.is_visible("#help") and "Keyboard shortcuts" in page.inner_text("#help")
    shoot(page, "shortcuts", full_page=False)
    page.keyboard.press("Escape")
    assert page.is_hidden("#help")

    checked_before = page.eval_on_selector("input[name=label]:checked", "e => e.value")
    page.keyboard.press("n")  # focuses the note: from now on keys are text
    note = "7 xo a<script>window.__pwned = 1</script>"
    page.keyboard.type(note)
    assert page.eval_on_selector("input[name=label]:checked", "e => e.value") == checked_before
    assert not page.is_checked("#exclude") and page.input_value("#onset-input") == ""
    page.keyboard.press("Escape")  # leaves the note; keys are shortcuts again
    page.keyboard.press("x")
    assert page.is_checked("#exclude")
    page.keyboard.press("Control+s")
    page.wait_for_selector("#save-message")
    assert page.url.endswith(f"/sequences/{sequence_id}")  # Ctrl+S stays

    page.reload()
    page.wait_for_selector("body[data-review-ready]")
    assert page.input_value("#note") == note and page.is_checked("#exclude")
    assert page.evaluate("window.__pwned") is None  # the note is text, never markup
    with site.session_factory() as session:
        saved = session.scalar(select(Annotation).join(User, User.id == Annotation.user_id)
                               .where(User.name == "rev3",
                                      Annotation.sequence_id == sequence_id))
        assert saved.note == note and saved.exclude and saved.version == 1


def test_the_mouse_alone_can_review(open_page, site):
    with site.session_factory() as session:
        sequence_id = session.scalars(
            select(Sequence.id).join(Subject).order_by(Subject.code, Sequence.code)).all()[3]
    page = open_page("rev3")
    page.goto(f"/sequences/{sequence_id}")
    page.wait_for_selector("body[data-review-ready]")
    page.click(".label-btn.lb-surprise")
    page.click(".fs-frame[data-number='3']")
    page.click("[data-action=set-onset]")
    assert page.locator(".fs-frame.neutral").count() == 2
    page.click("#save-stay")
    page.wait_for_selector("#save-message")
    with site.session_factory() as session:
        saved = session.scalar(select(Annotation).join(User, User.id == Annotation.user_id)
                               .where(User.name == "rev3",
                                      Annotation.sequence_id == sequence_id))
        assert (saved.label, saved.onset_frame) == (7, 3)
