"""Effective label, onset, apex and exclude, following DESIGN.md's semantics."""

from app.models import Annotation, Decision
from app.services.effective import effective_for


def ann(label=None, onset=None, apex=None, exclude=False) -> Annotation:
    return Annotation(label=label, onset_frame=onset, apex_frame=apex, exclude=exclude)


def test_original_label_when_nobody_reviewed():
    result = effective_for(5, [], None)
    assert (result.label, result.label_source, result.onset) == (5, "original", None)


def test_no_label_at_all():
    assert effective_for(None, [], None).label_source == "none"


def test_majority_of_reviewers_beats_the_original():
    result = effective_for(5, [ann(3), ann(3), ann(5)], None)
    assert (result.label, result.label_source) == (3, "reviewers")


def test_a_tie_is_a_disagreement_without_label():
    result = effective_for(5, [ann(3), ann(5)], None)
    assert result.disagreement and result.label is None


def test_admin_decision_overrides_everything():
    decision = Decision(label=6, onset_frame=4, apex_frame=None, exclude=False)
    result = effective_for(5, [ann(3, 9), ann(5, 10)], decision)
    assert (result.label, result.label_source, result.onset) == (6, "decision", 4)


def test_onset_is_the_lower_median_of_reviewers():
    result = effective_for(1, [ann(1, 8), ann(1, 10), ann(1, 12), ann(1, 9)], None)
    assert result.onset == 9  # a real frame number, never 9.5
    assert effective_for(1, [ann(1, 8, apex=20)], None).apex == 20


def test_exclude_from_any_reviewer_until_an_admin_decides():
    assert effective_for(1, [ann(1), ann(1, exclude=True)], None).exclude
    decision = Decision(label=None, exclude=False)
    assert not effective_for(1, [ann(1, exclude=True)], decision).exclude
