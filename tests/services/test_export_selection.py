"""Which frames an export takes, and with which class: policies, label sources, exclusions."""

import pytest

from app.services.export import ExportParamsError, emotion_frames, parse_params, percent_cut
from app.services.export.selection import neutral_frames, select_frames
from tests.services.export_helpers import annotate, build_dataset, user


def frames_of(selection) -> dict[str, list[tuple[int, str]]]:
    out: dict[str, list[tuple[int, str]]] = {}
    for row in selection.rows:
        out.setdefault(f"{row.subject}_{row.sequence}", []).append((row.number, row.label))
    return out


# --- the rules on their own ---------------------------------------------------------------

@pytest.mark.parametrize(("n", "percent", "dropped"), [
    (10, 30, 3), (7, 30, 2), (20, 50, 10), (5, 0, 0), (3, 99, 2), (9, 33.4, 3), (1, 50, 0),
    (18, 50, 9), (19, 50, 9),
])
def test_percent_drops_floor_of_n_times_p(n, percent, dropped):
    assert percent_cut(n, percent) == dropped
    frames, rule = emotion_frames(n, parse_params({"policy": "percent", "percent": percent}),
                                  None, None)
    assert frames == list(range(dropped + 1, n + 1)) and rule == "percent"


def test_onset_policy_takes_onset_to_apex():
    params = parse_params({"policy": "onset", "percent": 30})
    assert emotion_frames(10, params, 5, None) == ([5, 6, 7, 8, 9, 10], "onset")
    assert emotion_frames(10, params, 5, 8) == ([5, 6, 7, 8], "onset")
    assert emotion_frames(10, params, 1, None)[0] == list(range(1, 11))
    # An apex before the onset contradicts it: ignored, the emotion runs to the last frame.
    assert emotion_frames(10, params, 6, 4) == ([6, 7, 8, 9, 10], "onset")


def test_onset_policy_falls_back_to_percent_without_a_usable_onset():
    params = parse_params({"policy": "onset", "percent": 30})
    assert emotion_frames(10, params, None, None) == ([4, 5, 6, 7, 8, 9, 10],
                                                       "percent (no onset)")
    assert emotion_frames(10, params, 14, None)[1] == "percent (no onset)"


def test_peak_policy_takes_the_last_k_frames():
    params = parse_params({"policy": "peak", "peak_frames": 3})
    assert emotion_frames(10, params, 2, None) == ([8, 9, 10], "peak")  # onset is ignored
    assert emotion_frames(2, params, None, None) == ([1, 2], "peak")


def test_neutral_frames_never_overlap_the_emotion():
    assert neutral_frames(3, [5, 6, 7]) == [1, 2, 3]
    assert neutral_frames(3, [2, 3]) == [1]
    assert neutral_frames(3, [1, 2]) == []
    assert neutral_frames(0, [5]) == []


# --- options that make no sense are refused, naming the field ------------------------------

@pytest.mark.parametrize(("options", "field", "words"), [
    ({"percent": 100}, "percent", "below 100"),
    ({"percent": -1}, "percent", "at least 0"),
    ({"percent": "lots"}, "percent", "not a number"),
    ({"policy": "middle"}, "policy", "onset, percent, peak"),
    ({"exclude": ["boredom"]}, "exclude", "unknown class 'boredom'"),
    ({"merge": ["contempt=boredom"]}, "merge", "unknown class 'boredom'"),
    ({"merge": ["contempt"]}, "merge", "FROM=INTO"),
    ({"merge": ["contempt=disgust", "disgust=anger"]}, "merge", "merged away"),
    ({"merge": ["contempt=disgust"], "exclude": ["contempt"]}, "merge", "left out and merged"),
    ({"neutral_frames": 2, "exclude": ["neutral"]}, "exclude", "neutral"),
    ({"split": "70/15"}, "split", "70/15/15"),
    ({"split": "70/20/20"}, "split", "sums to 110"),
    ({"split": "a/b/c"}, "split", "not a number"),
    ({"split": "0/50/50"}, "split", "nothing to train"),
    ({"folds": 1}, "folds", "at least 2"),
    ({"size": 4}, "size", "8..1024"),
    ({"size": 0, "face": "landmarks"}, "size", "face 'none'"),
    ({"face": "haar"}, "face", "landmarks, mtcnn, none"),
    ({"color": "sepia"}, "color", "gray, rgb"),
    ({"color": "original", "size": 48}, "color", "needs size 0"),
    ({"peak_frames": 0}, "peak_frames", "at least 1"),
    ({"frobnicate": 1}, "frobnicate", "unknown option"),
])
def test_bad_options_name_the_field(options, field, words):
    with pytest.raises(ExportParamsError) as caught:
        parse_params(options)
    assert caught.value.field == field
    assert words in str(caught.value)


def test_form_strings_and_json_values_mean_the_same():
    from_form = parse_params({"policy": "peak", "peak_frames": "4", "exclude": "fear, anger",
                              "merge": "contempt=disgust", "split": "80/10/10", "size": "64"})
    from_json = parse_params({"policy": "peak", "peak_frames": 4, "exclude": ["anger", "fear"],
                              "merge": {"contempt": "disgust"}, "split": [80, 10, 10],
                              "size": 64})
    assert from_form == from_json
    assert parse_params(from_form.as_dict()) == from_form  # round trip through the snapshot


# --- against an imported, reviewed dataset -------------------------------------------------

def test_effective_labels_onsets_and_reasons(session, tmp_path):
    build_dataset(session, tmp_path / "ck")
    selection = select_frames(session, parse_params({"policy": "onset", "percent": 30}))
    assert frames_of(selection) == {
        "S005_001": [(n, "disgust") for n in range(5, 11)],     # reviewer's onset 5
        "S005_002": [(n, "happy") for n in range(4, 11)],       # no onset: floor(10*.3)=3 cut
        "S011_002": [(n, "surprise") for n in range(2, 6)],     # admin: onset 2, apex 5
        "S014_001": [(n, "contempt") for n in range(7, 10)],
        "S022_001": [(n, "fear") for n in range(2, 6)],         # floor(5*.3)=1 cut
    }
    assert selection.left_out == {"excluded": 1, "disagreement": 1, "no_label": 1,
                                  "class_excluded": 0, "no_frames": 0}
    assert selection.left_out_names["disagreement"] == ["S011_001"]
    assert selection.onset_fallback == 2
    assert selection.labels == ["contempt", "disgust", "fear", "happy", "surprise"]


def test_original_labels_ignore_reviewers_labels_but_keep_exclude_and_onset(session, tmp_path):
    ids = build_dataset(session, tmp_path / "ck")
    annotate(session, user(session, "rev1"), ids["S005_001"], label=1, onset=5)  # anger now
    session.commit()
    effective = frames_of(select_frames(session, parse_params({"labels": "effective"})))
    original = select_frames(session, parse_params({"labels": "original", "percent": 30}))
    assert effective["S005_001"][0] == (5, "anger")
    assert frames_of(original)["S005_001"] == [(n, "disgust") for n in range(5, 11)]
    # The tie only exists among reviewers: with CK+ labels, S011/001 is happy.
    assert frames_of(original)["S011_001"] == [(n, "happy") for n in range(2, 7)]
    assert original.left_out["excluded"] == 1 and original.left_out["disagreement"] == 0


def test_neutral_frames_merge_and_exclude(session, tmp_path):
    build_dataset(session, tmp_path / "ck")
    selection = select_frames(session, parse_params({
        "policy": "peak", "peak_frames": 2, "neutral_frames": 2,
        "merge": ["contempt=disgust"], "exclude": ["fear"]}))
    frames = frames_of(selection)
    assert frames["S014_001"] == [(1, "neutral"), (2, "neutral"), (8, "disgust"),
                                  (9, "disgust")]
    assert "S022_001" not in frames
    assert selection.left_out["class_excluded"] == 1
    assert selection.labels == ["neutral", "disgust", "happy", "surprise"]  # CK+ code order
    pick = next(p for p in selection.sequences.values() if p.name == "S014_001")
    assert (pick.frames, pick.neutral, pick.label) == ([8, 9], [1, 2], "disgust")


def test_nothing_imported_is_a_clear_error(session):
    from app.services.export import ExportError

    with pytest.raises(ExportError, match="onset import"):
        select_frames(session, parse_params({}))
