"""Saving annotations and decisions: validation naming the field, optimistic locking (also
between two tabs of one reviewer and between real concurrent writers), audit, the queue."""

import threading

import pytest
from sqlalchemy import func, select

from app.models import Annotation, AuditEntry, Decision, Sequence, Subject, User
from app.services.importer import import_ckplus
from app.services.review import (
    MAX_NOTE_CHARS,
    NotAllowed,
    ReviewError,
    ReviewInput,
    StaleVersion,
    load_review,
    save_annotation,
    save_decision,
)
from app.services.sequence_list import ListFilters, next_in_queue
from tests.support.ckplus import SeqSpec, write_ckplus

SPECS = [SeqSpec("S005", "001", frames=6, label=5.0), SeqSpec("S005", "002", frames=5),
         SeqSpec("S010", "001", frames=4, label=3.0), SeqSpec("S010", "002", frames=8)]


@pytest.fixture
def ids(session, tmp_path) -> dict[str, int]:
    import_ckplus(session, root=write_ckplus(tmp_path / "ck", SPECS))
    session.commit()
    rows = session.execute(select(Subject.code, Sequence.code, Sequence.id).join(Subject))
    return {f"{subject}_{code}": seq_id for subject, code, seq_id in rows}


def review(label=5, onset=None, apex=None, note="", exclude=False, version=0) -> ReviewInput:
    return ReviewInput(label=label, onset_frame=onset, apex_frame=apex, note=note,
                       exclude=exclude, version=version)


def test_save_creates_version_1_then_2_and_audits_before_and_after(session, ids, make_user):
    rev = make_user("rev1")
    seq = ids["S005_001"]
    first = save_annotation(session, sequence_id=seq, user=rev, data=review(5, onset=3))
    session.commit()
    assert (first.label, first.onset_frame, first.version) == (5, 3, 1)
    second = save_annotation(session, sequence_id=seq, user=rev,
                             data=review(6, onset=2, apex=5, note="teeth", version=1))
    session.commit()
    assert (second.label, second.apex_frame, second.version) == (6, 5, 2)
    entries = session.scalars(select(AuditEntry).order_by(AuditEntry.id)).all()
    saves = [e for e in entries if e.action == "annotation.save"]
    assert [(e.before and e.before["label"], e.after["label"]) for e in saves] == [
        (None, 5), (5, 6)]
    assert saves[1].before["version"] == 1 and saves[1].after["note"] == "teeth"
    assert all(e.user_id == rev.id and e.sequence_id == seq for e in saves)


def test_unchanged_save_writes_no_version_and_no_audit(session, ids, make_user):
    rev = make_user("rev1")
    save_annotation(session, sequence_id=ids["S005_001"], user=rev, data=review(5, onset=3))
    again = save_annotation(session, sequence_id=ids["S005_001"], user=rev,
                            data=review(5, onset=3, version=1))
    assert again.version == 1
    assert session.scalar(select(func.count(AuditEntry.id)).where(
        AuditEntry.action == "annotation.save")) == 1


def test_a_reviewers_second_tab_is_stale_too(session, ids, make_user):
    rev = make_user("rev1")
    seq = ids["S005_002"]
    save_annotation(session, sequence_id=seq, user=rev, data=review(2))
    session.commit()
    # Both tabs read version 1; the first tab saves, the second one must not overwrite it.
    save_annotation(session, sequence_id=seq, user=rev, data=review(3, version=1))
    session.commit()
    with pytest.raises(StaleVersion) as caught:
        save_annotation(session, sequence_id=seq, user=rev, data=review(4, version=1))
    assert "changed by rev1 at " in str(caught.value) and "reload" in str(caught.value).lower()
    assert caught.value.current["label"] == 3 and caught.value.current["version"] == 2
    # A tab that never saw the first version (version 0) is stale as well.
    with pytest.raises(StaleVersion):
        save_annotation(session, sequence_id=seq, user=rev, data=review(4, version=0))
    session.rollback()
    assert session.scalar(select(Annotation.label).where(Annotation.sequence_id == seq)) == 3


def test_a_version_from_nowhere_is_refused(session, ids, make_user):
    rev = make_user("rev1")
    with pytest.raises(StaleVersion, match="does not exist yet"):
        save_annotation(session, sequence_id=ids["S005_001"], user=rev, data=review(version=3))


def test_reviewers_keep_separate_annotations(session, ids, make_user):
    rev1, rev2 = make_user("rev1"), make_user("rev2")
    seq = ids["S010_002"]
    save_annotation(session, sequence_id=seq, user=rev1, data=review(1, onset=2))
    save_annotation(session, sequence_id=seq, user=rev2, data=review(1, onset=4))  # version 0
    data = load_review(session, sequence_id=seq, user_id=rev2.id)
    assert [a.user.name for a in data.annotations] == ["rev1", "rev2"]
    assert data.mine.onset_frame == 4 and [a.user.name for a in data.others] == ["rev1"]
    assert (data.effective.label, data.effective.label_source) == (1, "reviewers")
    assert data.effective.onset == 2  # the lower median of 2 and 4
    assert {e.action for e in data.history} == {"annotation.save"}


@pytest.mark.parametrize(("data", "field", "words"), [
    (review(label=8), "label", "0-7"),
    (review(label=-1), "label", "0-7"),
    (review(label=None), "label", "excluded"),
    (review(onset=0), "onset_frame", "1..6"),
    (review(onset=7), "onset_frame", "1..6"),
    (review(apex=9), "apex_frame", "1..6"),
    (review(onset=4, apex=3), "apex_frame", "before the onset"),
    (review(note="x" * (MAX_NOTE_CHARS + 1)), "note", str(MAX_NOTE_CHARS)),
    (review(version=-1), "version", "0 or more"),
])
def test_invalid_values_are_refused_naming_the_field(session, ids, make_user, data, field, words):
    rev = make_user("rev1")
    with pytest.raises(ReviewError) as caught:
        save_annotation(session, sequence_id=ids["S005_001"], user=rev, data=data)
    assert caught.value.field == field and words in caught.value.message
    assert session.scalar(select(func.count(Annotation.id))) == 0


def test_excluding_needs_no_label(session, ids, make_user):
    rev = make_user("rev1")
    row = save_annotation(session, sequence_id=ids["S005_001"], user=rev,
                          data=review(label=None, exclude=True, note="face hidden"))
    assert row.exclude and row.label is None


def test_only_admins_decide_and_a_decision_overrides(session, ids, make_user):
    rev, admin, admin2 = make_user("rev1"), make_user("boss", "admin"), make_user("boss2", "admin")
    seq = ids["S005_001"]
    save_annotation(session, sequence_id=seq, user=rev, data=review(6))
    with pytest.raises(NotAllowed):
        save_decision(session, sequence_id=seq, user=rev, data=review(6))
    decision = save_decision(session, sequence_id=seq, user=admin, data=review(1, onset=2))
    session.commit()
    assert decision.version == 1
    data = load_review(session, sequence_id=seq, user_id=rev.id)
    assert (data.effective.label, data.effective.label_source) == (1, "decision")
    with pytest.raises(StaleVersion, match="changed by boss"):  # a second admin, stale
        save_decision(session, sequence_id=seq, user=admin2, data=review(2, version=0))
    session.rollback()
    save_decision(session, sequence_id=seq, user=admin2, data=review(2, version=1))
    session.commit()
    assert session.get(Decision, seq).version == 2
    # The saved row in this session is the stored one (set as loaded, not read back), its
    # author included: a stale save now names the second admin.
    assert session.get(Decision, seq).user.name == "boss2"
    with pytest.raises(StaleVersion, match="changed by boss2"):
        save_decision(session, sequence_id=seq, user=admin, data=review(3, version=1))
    session.rollback()
    assert session.scalar(select(func.count(AuditEntry.id)).where(
        AuditEntry.action == "decision.save")) == 2


def test_the_update_itself_checks_the_version(session_factory, ids, make_user, monkeypatch):
    """A writer that commits between our read and our UPDATE: the conditional UPDATE (not
    only the read before it) refuses the overwrite. The race is staged by running the other
    writer from inside our save, right after the read; timing threads would be flaky."""
    import app.services.review as review_module

    rev = make_user("rev1")
    seq = ids["S005_001"]
    with session_factory() as setup:
        save_annotation(setup, sequence_id=seq, user=setup.get(User, rev.id), data=review(1))
        setup.commit()
    real_snapshot = review_module.snapshot
    raced = []

    def snapshot_then_race(row):
        if row is not None and not raced:
            raced.append(True)
            with session_factory() as other:
                save_annotation(other, sequence_id=seq, user=other.get(User, rev.id),
                                data=review(2, version=1))
                other.commit()
        return real_snapshot(row)

    monkeypatch.setattr(review_module, "snapshot", snapshot_then_race)
    with session_factory() as mine:
        with pytest.raises(StaleVersion) as caught:
            save_annotation(mine, sequence_id=seq, user=mine.get(User, rev.id),
                            data=review(3, version=1))
        mine.rollback()
    assert raced and caught.value.current["label"] == 2
    assert caught.value.current["version"] == 2
    with session_factory() as check:
        assert check.scalar(select(Annotation.label).where(Annotation.sequence_id == seq)) == 2


@pytest.mark.parametrize("read_version", [0, 1])
def test_concurrent_writers_with_one_version_exactly_one_wins(session_factory, ids, make_user,
                                                               read_version):
    """Real threads, real SQLite: all read the same version; one save may win."""
    rev = make_user("rev1")
    seq = ids["S010_002"]
    if read_version:
        with session_factory() as setup:
            save_annotation(setup, sequence_id=seq, user=setup.get(User, rev.id), data=review(0))
            setup.commit()
    barrier = threading.Barrier(6)
    outcomes: list[str] = []

    def writer(label: int) -> None:
        with session_factory() as own:
            barrier.wait()
            try:
                save_annotation(own, sequence_id=seq, user=own.get(User, rev.id),
                                data=review(label, version=read_version))
                own.commit()
                outcomes.append("saved")
            except StaleVersion:
                own.rollback()
                outcomes.append("stale")

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(1, 7)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert sorted(outcomes) == ["saved"] + ["stale"] * 5
    with session_factory() as check:
        assert check.scalar(select(Annotation.version).where(
            Annotation.sequence_id == seq)) == read_version + 1
        assert check.scalar(select(func.count(AuditEntry.id)).where(
            AuditEntry.action == "annotation.save")) == read_version + 1


def test_queue_is_the_lists_order_without_what_i_reviewed(session, ids, make_user):
    rev, other = make_user("rev1"), make_user("rev2")
    everything = ListFilters()
    order = [ids["S005_001"], ids["S005_002"], ids["S010_001"], ids["S010_002"]]
    assert next_in_queue(session, user_id=rev.id, after_id=order[0],
                         filters=everything) == order[1]
    save_annotation(session, sequence_id=order[1], user=rev, data=review(1))
    save_annotation(session, sequence_id=order[2], user=other, data=review(1))  # not mine
    assert next_in_queue(session, user_id=rev.id, after_id=order[0],
                         filters=everything) == order[2]
    # Wraps around to the start, and never offers the sequence just saved.
    assert next_in_queue(session, user_id=rev.id, after_id=order[3],
                         filters=everything) == order[0]
    for seq in (order[0], order[2], order[3]):
        save_annotation(session, sequence_id=seq, user=rev, data=review(1))
    assert next_in_queue(session, user_id=rev.id, after_id=order[3],
                         filters=everything) is None


def test_queue_keeps_the_lists_filters_and_sort(session, ids, make_user):
    rev = make_user("rev1")
    unlabeled = ListFilters(nolabel=True, status="unreviewed")
    # The current sequence no longer matches "unreviewed" once saved; the queue still moves on.
    save_annotation(session, sequence_id=ids["S005_002"], user=rev, data=review(2))
    assert next_in_queue(session, user_id=rev.id, after_id=ids["S005_002"],
                         filters=unlabeled) == ids["S010_002"]
    by_frames_desc = ListFilters(sort="frames", descending=True)  # 8, 6, 5, 4 frames
    assert next_in_queue(session, user_id=rev.id, after_id=ids["S010_002"],
                         filters=by_frames_desc) == ids["S005_001"]


def test_deciding_queue_skips_decided_sequences(session, ids, make_user):
    admin = make_user("boss", "admin")
    save_decision(session, sequence_id=ids["S005_002"], user=admin, data=review(2))
    assert next_in_queue(session, user_id=admin.id, after_id=ids["S005_001"],
                         filters=ListFilters(), deciding=True) == ids["S010_001"]


def test_history_lines_say_what_changed(session, ids, make_user):
    from app.services.review import describe_change

    rev = make_user("rev1")
    seq = ids["S005_001"]
    save_annotation(session, sequence_id=seq, user=rev, data=review(0, onset=2))
    save_annotation(session, sequence_id=seq, user=rev,
                    data=review(5, onset=2, note="smiles late", exclude=True, version=1))
    newest, first = load_review(session, sequence_id=seq, user_id=rev.id).history
    assert describe_change(first) == ["label: — → neutral", "onset: — → 2"]
    assert describe_change(newest) == ["label: neutral → happy", "note: — → “smiles late”",
                                       "exclude: no → yes"]
