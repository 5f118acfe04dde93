"""The kept review tallies never drift: after mixed saves (new, changed, stale, unchanged,
excluding, label-less; admins' decisions between them), from several threads at once too,
every sequence's tally equals a recount of its annotations, and the list's effective values
(SQL over the tallies) equal the ones computed from the annotations themselves. The
migration that adds the tallies fills them from the annotations already stored."""

import random
import threading
from dataclasses import replace

import pytest
from alembic import command
from sqlalchemy import insert, select

from app.migrate import alembic_config, upgrade
from app.models import Annotation, Decision, ReviewTally, Sequence
from app.services.effective import effective_for, effective_map
from app.services.importer import import_ckplus
from app.services.review import ReviewInput, StaleVersion, save_annotation, save_decision
from app.services.sequence_list import ListFilters, list_sequences, load_rows
from tests.support.ckplus import SeqSpec, write_ckplus

SPECS = [SeqSpec(f"S{s:03d}", f"{n:03d}", frames=6, label=float(n % 8) if n % 3 else None)
         for s in (5, 10) for n in range(1, 5)]


@pytest.fixture
def sequence_ids(session, tmp_path) -> list[int]:
    import_ckplus(session, root=write_ckplus(tmp_path / "ck", SPECS))
    session.commit()
    return list(session.scalars(select(Sequence.id).order_by(Sequence.id)))


def recounted(session) -> dict[int, tuple]:
    """What every tally must hold, counted from the annotations (sequences with any)."""
    by_sequence: dict[int, list] = {}
    for annotation in session.scalars(select(Annotation)):
        by_sequence.setdefault(annotation.sequence_id, []).append(annotation)
    found = {}
    for seq_id, annotations in by_sequence.items():
        counted = effective_for(None, annotations, None)
        found[seq_id] = (counted.reviewers,
                         counted.label if counted.label_source == "reviewers" else None,
                         counted.disagreement, counted.onset, counted.apex, counted.exclude)
    return found


def kept(session) -> dict[int, tuple]:
    return {t.sequence_id: (t.reviewers, t.label, bool(t.tied), t.onset_frame, t.apex_frame,
                            bool(t.exclude))
            for t in session.scalars(select(ReviewTally))}


def assert_no_drift(session) -> None:
    session.expire_all()
    assert kept(session) == recounted(session)
    assert {r.id: r.effective for r in load_rows(session, user_id=None)} == effective_map(
        session)


def random_input(rng: random.Random, version: int) -> ReviewInput:
    exclude = rng.random() < 0.15
    onset = rng.choice([None, rng.randint(1, 3)])
    return ReviewInput(label=None if exclude and rng.random() < 0.5 else rng.randrange(3),
                       onset_frame=onset,
                       apex_frame=rng.choice([None, rng.randint(onset or 1, 6)]), note="",
                       exclude=exclude, version=version)


def test_tallies_equal_a_recount_after_mixed_saves(session, sequence_ids, make_user):
    rng = random.Random(14)
    users = [make_user(f"rev{n}") for n in range(1, 5)]
    admin = make_user("boss", "admin")
    stale = 0
    for step in range(160):
        seq_id = rng.choice(sequence_ids)
        user = admin if step % 9 == 0 else rng.choice(users)
        if user is admin:
            saver, current = save_decision, session.scalar(
                select(Decision.version).where(Decision.sequence_id == seq_id))
        else:
            saver, current = save_annotation, session.scalar(select(Annotation.version).where(
                Annotation.sequence_id == seq_id, Annotation.user_id == user.id))
        current = current or 0
        version = current if rng.random() > 0.1 else current + 1  # some saves are stale
        try:
            saver(session, sequence_id=seq_id, user=user, data=random_input(rng, version))
            session.commit()
        except StaleVersion:
            session.rollback()
            stale += 1
        if step % 40 == 39:
            assert_no_drift(session)
    assert stale > 5  # the stale saves were refused, and changed nothing
    assert_no_drift(session)
    # the counts the list shows come from the same tallies
    page = list_sequences(session, user_id=users[0].id, filters=ListFilters(per_page=200))
    rows = load_rows(session, user_id=users[0].id)
    assert page.progress.disagreements == sum(r.effective.disagreement for r in rows)
    assert page.progress.excluded == sum(r.effective.exclude for r in rows)
    assert page.progress.reviewed == sum(r.effective.reviewers > 0 or r.decided for r in rows)


def test_an_unchanged_save_keeps_the_tally(session, sequence_ids, make_user):
    rev = make_user("rev1")
    data = ReviewInput(label=3, onset_frame=2, apex_frame=None, note="", exclude=False,
                       version=0)
    save_annotation(session, sequence_id=sequence_ids[0], user=rev, data=data)
    session.commit()
    before = kept(session)
    save_annotation(session, sequence_id=sequence_ids[0], user=rev,
                    data=replace(data, version=1))
    session.commit()
    assert kept(session) == before == {sequence_ids[0]: (1, 3, False, 2, None, False)}


def test_concurrent_saves_on_one_sequence_keep_the_tally(session_factory, sequence_ids,
                                                         make_user):
    """Eight reviewers save the same two sequences at once, each from its own connection
    (on PostgreSQL the sequence's row lock orders the recounts)."""
    users = [make_user(f"rev{n}") for n in range(1, 9)]
    barrier = threading.Barrier(len(users))
    errors = []

    def reviewer(index: int, user) -> None:
        barrier.wait(timeout=30)
        for round_no in range(3):
            for seq_id in sequence_ids[:2]:
                with session_factory() as session:
                    version = session.scalar(select(Annotation.version).where(
                        Annotation.sequence_id == seq_id,
                        Annotation.user_id == user.id)) or 0
                    try:
                        save_annotation(session, sequence_id=seq_id, user=user, data=ReviewInput(
                            label=(index + round_no) % 3, onset_frame=1 + index % 4,
                            apex_frame=None, note="", exclude=False, version=version))
                        session.commit()
                    except Exception as exc:  # noqa: BLE001 - reported below
                        errors.append(repr(exc))

    threads = [threading.Thread(target=reviewer, args=(i, u)) for i, u in enumerate(users)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not errors
    with session_factory() as session:
        assert {k: v[0] for k, v in kept(session).items()} == {
            sequence_ids[0]: 8, sequence_ids[1]: 8}
        assert_no_drift(session)


def test_the_migration_fills_tallies_from_stored_annotations(settings, session, session_factory,
                                                             sequence_ids, make_user):
    session.close()  # no open transaction may hold the tables the downgrade drops
    command.downgrade(alembic_config(settings), "0002")  # as before the tallies
    users = [make_user(f"rev{n}") for n in range(1, 4)]
    rows = [{"sequence_id": seq_id, "user_id": user.id, "label": [1, 1, 2, None][i % 4],
             "onset_frame": i % 5 or None, "apex_frame": None, "note": "",
             "exclude": i % 4 == 3, "version": 1}
            for i, (seq_id, user) in enumerate((s, u) for s in sequence_ids[:5] for u in users)]
    with session_factory() as session:
        session.execute(insert(Annotation.__table__), rows)
        session.commit()
    upgrade(settings)
    with session_factory() as session:
        assert len(kept(session)) == 5
        assert_no_drift(session)
