"""Suspected mislabels from a run's out-of-fold predictions (confident learning)."""

import pytest

from app.services.assist import AssistError
from app.services.assist.suspects import find_suspects
from app.services.review import ReviewInput, save_annotation
from tests.support.assist_runs import SPECS, WRONG, write_run
from tests.support.ckplus import import_specs


@pytest.fixture
def ids(session_factory, tmp_path):
    return import_specs(session_factory, tmp_path / "ck", SPECS)

def test_the_planted_wrong_label_is_the_top_suspect(session, settings, ids, tmp_path):
    write_run(tmp_path, session)
    report = find_suspects(session, settings)
    top = report.items[0]
    assert (top.subject, top.sequence) == WRONG and top.flagged
    assert top.label == "happy" and top.predicted == "surprise" and top.run == "run-1"
    assert [name for name, _ in top.top3][0] == "surprise" and "flagged" in top.reason
    assert [s.flagged for s in report.items].count(True) == 1  # the others agree
    assert top.score > max(s.score for s in report.items[1:])
    data = top.as_dict()
    assert {"subject": "S007", "sequence": "002", "label": "happy", "predicted": "surprise",
            "run": "run-1"}.items() <= data.items() and 0 < data["score"] <= 1
    assert len(find_suspects(session, settings, top=3).items) == 3
    assert report.notes == []


def test_a_run_folder_path_works_like_a_run_id(session, settings, ids, tmp_path):
    run = write_run(tmp_path, session, active=False)
    assert find_suspects(session, settings, run=str(run)).items[0].sequence == "002"
    assert find_suspects(session, settings, run="run-1").items[0].subject == "S007"
    with pytest.raises(AssistError, match="no active model"):
        find_suspects(session, settings)
    with pytest.raises(AssistError, match="no run 'nope'"):
        find_suspects(session, settings, run="nope")


def test_relabelled_since_the_run_is_left_out_and_named(session, settings, ids, tmp_path,
                                                        make_user):
    write_run(tmp_path, session)
    reviewer = make_user("rev1")
    seq_id = ids["S007_002"]
    save_annotation(session, sequence_id=seq_id, user=session.merge(reviewer),
                    data=ReviewInput(label=7, onset_frame=2, apex_frame=None, note="",
                                     exclude=False, version=0))
    session.commit()
    report = find_suspects(session, settings)
    assert seq_id not in report.by_sequence()
    assert any("relabelled since the run's export" in n and "S007/002" in n
               for n in report.notes)


def test_runs_that_cannot_speak_for_this_dataset_say_why(session, settings, ids, tmp_path):
    write_run(tmp_path / "a", session, with_predictions=False, run_id="bare")
    with pytest.raises(AssistError, match="run bare has no out-of-fold predictions"):
        find_suspects(session, settings, run="bare")
    write_run(tmp_path / "b", session, drop_sequence_ids=True, run_id="old", active=False)
    with pytest.raises(AssistError, match="no sequence_id/source_frame_id columns"):
        find_suspects(session, settings, run="old")
    # Another dataset: the manifest's ids point at sequences this database does not have.
    other = write_run(tmp_path / "c", session, run_id="other", active=False)
    manifest = other.parent.parent / "export" / "manifest.csv"
    text = manifest.read_text().splitlines()
    rows = [text[0]] + [",".join(r.split(",")[:6] + [str(9000 + i), str(9000 + i)])
                        for i, r in enumerate(text[1:])]
    manifest.write_text("\n".join(rows) + "\n")
    with pytest.raises(AssistError, match="predictions are for another dataset"):
        find_suspects(session, settings, run="other")
