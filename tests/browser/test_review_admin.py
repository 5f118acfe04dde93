"""An admin finds a disagreement in the list, sees it highlighted, and records the final
decision with the keyboard (D, label, Enter)."""

import re

import pytest
from sqlalchemy import select

from app.models import Decision, Sequence, Subject, User
from app.services.review import ReviewInput, save_annotation

pytestmark = pytest.mark.browser


def test_admin_decides_a_disagreement(open_page, site, shoot):
    with site.session_factory() as session:
        sequence_id = session.scalars(
            select(Sequence.id).join(Subject).where(Sequence.original_label.is_not(None))
            .order_by(Subject.code, Sequence.code)).all()[-1]
        for name, label in (("rev1", 5), ("rev2", 6)):
            user = session.scalar(select(User).where(User.name == name))
            save_annotation(session, sequence_id=sequence_id, user=user, data=ReviewInput(
                label=label, onset_frame=3, apex_frame=None, note=f"{name} thinks so",
                exclude=False, version=0))
        session.commit()

    page = open_page("boss")
    page.goto("/sequences?status=disagreement")
    page.wait_for_selector(".seq-card")
    assert page.locator(".seq-card").count() == 1
    assert page.locator(".seq-card .seq-status", has_text="Disagreement").count() == 1
    shoot(page, "list-disagreement", full_page=False)
    page.click(".seq-card")
    page.wait_for_selector("body[data-review-ready]")
    banner = page.inner_text(".flash-warn-strong")
    assert "Reviewers disagree" in banner and "rev1 said happy" in banner

    page.keyboard.press("d")
    page.wait_for_url(re.compile(r"decide=1"))
    page.wait_for_selector("#review-form.deciding")
    page.wait_for_selector("body[data-review-ready]")
    page.keyboard.press("6")
    shoot(page, "admin-decide")
    page.keyboard.press("Enter")
    page.wait_for_function(
        f"() => !location.pathname.endsWith('/{sequence_id}') || "
        "document.querySelector('#save-message')")
    with site.session_factory() as session:
        decision = session.get(Decision, sequence_id)
        assert (decision.label, decision.version, decision.onset_frame) == (6, 1, 3)
