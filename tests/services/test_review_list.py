"""The sequence list: statuses per viewer, filters, sorting, pagination, faceted counts,
progress, and a query count that does not grow with the number of sequences."""

from dataclasses import replace

import pytest
from sqlalchemy import event, select

from app.models import Annotation, Sequence, Subject
from app.services.importer import import_ckplus
from app.services.review import ReviewInput, save_annotation, save_decision
from app.services.sequence_list import (
    FilterError,
    ListFilters,
    list_sequences,
    load_rows,
    next_in_queue,
    parse_filters,
    queue_entries,
    queue_place,
)
from tests.support.ckplus import SeqSpec, write_ckplus

SPECS = [SeqSpec("S005", "001", frames=6, label=5.0), SeqSpec("S005", "002", frames=5),
         SeqSpec("S010", "001", frames=4, label=3.0), SeqSpec("S010", "002", frames=8),
         SeqSpec("S011", "001", frames=7, label=1.0)]


def review(label, onset=None, exclude=False) -> ReviewInput:
    return ReviewInput(label=label, onset_frame=onset, apex_frame=None, note="",
                       exclude=exclude, version=0)


@pytest.fixture
def ids(session, tmp_path) -> dict[str, int]:
    import_ckplus(session, root=write_ckplus(tmp_path / "ck", SPECS))
    session.commit()
    rows = session.execute(select(Subject.code, Sequence.code, Sequence.id).join(Subject))
    return {f"{subject}_{code}": seq_id for subject, code, seq_id in rows}


@pytest.fixture
def reviewed(session, ids, make_user):
    """rev1: S005_001 happy (agrees), S010_001 fear (disagrees with rev2's anger: a tie);
    rev2: S010_001 anger, S005_002 surprise onset 3; rev3: S010_002 excluded;
    boss decided S011_001 as contempt."""
    users = {name: make_user(name, "admin" if name == "boss" else "reviewer")
             for name in ("rev1", "rev2", "rev3", "boss")}
    for name, seq, data in [("rev1", "S005_001", review(5)), ("rev1", "S010_001", review(4)),
                            ("rev2", "S010_001", review(1)),
                            ("rev2", "S005_002", review(7, onset=3)),
                            ("rev3", "S010_002", review(None, exclude=True))]:
        save_annotation(session, sequence_id=ids[seq], user=users[name], data=data)
    save_decision(session, sequence_id=ids["S011_001"], user=users["boss"], data=review(2))
    session.commit()
    return users


def names(page) -> list[str]:
    return [row.name for row in page.items]


def test_statuses_depend_on_who_is_looking(session, ids, reviewed):
    rows = {r.name: r for r in list_sequences(session, user_id=reviewed["rev1"].id,
                                              filters=ListFilters()).items}
    assert rows["S005_001"].statuses == {"mine"}
    assert rows["S005_002"].statuses == {"others"}
    assert rows["S010_001"].statuses == {"mine", "disagreement"}
    assert rows["S010_001"].status == "disagreement"  # the most urgent one is shown
    assert rows["S010_002"].statuses == {"others", "excluded"}
    assert rows["S011_001"].statuses == {"decided"}
    assert rows["S011_001"].effective.label == 2 and rows["S011_001"].label_changed
    assert not rows["S005_001"].label_changed  # a reviewer agreeing with CK+
    rev2_rows = {r.name: r for r in list_sequences(session, user_id=reviewed["rev2"].id,
                                                   filters=ListFilters()).items}
    assert rev2_rows["S005_001"].statuses == {"others"}
    assert rev2_rows["S005_002"].my_onset == 3


def test_filters_combine(session, ids, reviewed):
    uid = reviewed["rev1"].id

    def listed(**filters) -> list[str]:
        return names(list_sequences(session, user_id=uid, filters=ListFilters(**filters)))

    assert listed(label="happy") == ["S005_001"]
    assert listed(label="surprise") == ["S005_002"]  # effective, from rev2
    assert listed(label="none") == ["S010_001", "S010_002"]  # a tie; excluded, no label
    assert listed(status="unreviewed") == []
    assert listed(status="disagreement") == ["S010_001"]
    assert listed(subject="s010") == ["S010_001", "S010_002"]
    assert listed(nolabel=True) == ["S005_002", "S010_002"]
    assert listed(changed=True) == ["S005_002", "S011_001"]
    assert listed(changed=True, nolabel=True) == ["S005_002"]


def test_sorting_pagination_and_faceted_counts(session, ids, reviewed):
    uid = reviewed["rev1"].id
    by_frames = ListFilters(sort="frames", descending=True, per_page=2)
    first = list_sequences(session, user_id=uid, filters=by_frames)
    assert names(first) == ["S010_002", "S011_001"] and (first.total, first.pages) == (5, 3)
    last = list_sequences(session, user_id=uid, filters=ListFilters(
        sort="frames", descending=True, per_page=2, page=9))  # past the end: the last page
    assert last.filters.page == 3 and names(last) == ["S010_001"]
    page = list_sequences(session, user_id=uid, filters=ListFilters(subject="S010",
                                                                   status="mine"))
    assert names(page) == ["S010_001"]
    # Counts ignore the status filter (so every pill says what choosing it would show)
    # but honour the others.
    assert page.counts == {"unreviewed": 0, "mine": 1, "others": 1, "disagreement": 1,
                           "excluded": 1, "decided": 0}
    progress = page.progress  # always the whole dataset
    assert (progress.total, progress.reviewed, progress.mine, progress.decided,
            progress.disagreements, progress.excluded) == (5, 5, 2, 1, 1, 1)
    assert progress.percent == 100.0


@pytest.mark.parametrize("filters", [
    ListFilters(), ListFilters(nolabel=True), ListFilters(subject="S010"),
    ListFilters(status="unreviewed"), ListFilters(status="mine"), ListFilters(status="others"),
    ListFilters(status="decided"), ListFilters(status="disagreement"),
    ListFilters(status="excluded"), ListFilters(label="none"), ListFilters(changed=True),
    ListFilters(sort="frames", descending=True), ListFilters(sort="original"),
    ListFilters(sort="label", descending=True), ListFilters(sort="status"),
    ListFilters(sort="onset"), ListFilters(sort="reviewers", descending=True),
])
def test_the_queue_is_the_list_in_the_same_order(session, ids, reviewed, filters):
    """The review page's queue (position, next) reads the list's order and filters: the
    sequences it marks as in the list are the list's, in the list's order."""
    uid = reviewed["rev2"].id
    listed = list_sequences(session, user_id=uid, filters=replace(filters, per_page=200))
    entries = queue_entries(session, user_id=uid, filters=filters)
    assert [e.id for e in entries if e.matches] == [r.id for r in listed.items]
    assert len(entries) == len(SPECS)  # every sequence, for "next" to wrap around from
    assert {e.id for e in entries if e.reviewed_by_me} == {
        r.id for r in load_rows(session, user_id=uid) if r.reviewed_by_me}
    # "3 of 9" on the review page, counted by the database: the list's own places.
    listed_ids = [r.id for r in listed.items]
    for seq_id in ids.values():
        expected = ((listed_ids.index(seq_id) + 1, len(listed_ids)) if seq_id in listed_ids
                    else None)
        assert queue_place(session, user_id=uid, sequence_id=seq_id,
                           filters=filters) == expected
    # "Save & next", picked by the database: the first matching sequence after this one
    # (wrapping around) not done yet, as read off the queue's entries.
    for deciding in (False, True):
        for after in [*ids.values(), -1]:
            start = next((i for i, e in enumerate(entries) if e.id == after), -1) + 1
            expected = next((e.id for e in entries[start:] + entries[:start]
                             if e.matches and e.id != after
                             and not (e.decided if deciding else e.reviewed_by_me)), None)
            assert next_in_queue(session, user_id=uid, after_id=after, filters=filters,
                                 deciding=deciding) == expected, (after, deciding)


def test_parse_filters_reads_urls_and_names_bad_parameters():
    filters = parse_filters({"label": "5", "status": "mine", "subject": " S01 ",
                             "changed": "1", "sort": "-frames", "page": "2"})
    assert (filters.label, filters.status, filters.subject, filters.changed) == (
        "happy", "mine", "S01", True)
    assert (filters.sort, filters.descending, filters.page) == ("frames", True, 2)
    assert filters.query() == "label=happy&status=mine&subject=S01&changed=1&sort=-frames&page=2"
    assert filters.query(with_page=False).endswith("sort=-frames")
    assert parse_filters({}).query() == ""
    for params, field in [({"label": "joy"}, "label"), ({"status": "done"}, "status"),
                          ({"sort": "colour"}, "sort"), ({"page": "0"}, "page"),
                          ({"per_page": "x"}, "per_page")]:
        with pytest.raises(FilterError) as caught:
            parse_filters(params)
        assert caught.value.field == field


def test_the_list_costs_the_same_queries_for_5_or_60_sequences(session_factory, tmp_path,
                                                                make_user):
    """No N+1: the statement count must not grow with the number of sequences."""
    user = make_user("rev1")

    def statements(specs, folder) -> int:
        with session_factory() as session:
            import_ckplus(session, root=write_ckplus(tmp_path / folder, specs))
            session.commit()
            done = set(session.scalars(select(Annotation.sequence_id)))
            for seq_id in set(session.scalars(select(Sequence.id))) - done:
                save_annotation(session, sequence_id=seq_id, user=user,
                                data=review(1, onset=1))
            session.commit()
            count = []
            listener = lambda *args: count.append(1)  # noqa: E731
            event.listen(session.get_bind(), "before_cursor_execute", listener)
            try:
                list_sequences(session, user_id=user.id, filters=ListFilters(per_page=200))
            finally:
                event.remove(session.get_bind(), "before_cursor_execute", listener)
            return len(count)

    small = statements([SeqSpec("S001", f"{n:03d}", frames=2) for n in range(1, 6)], "small")
    large = statements([SeqSpec(f"S{s:03d}", f"{n:03d}", frames=2)  # S001 again, plus 60
                        for s in range(1, 14) for n in range(1, 6)], "large")
    assert small == large <= 4
