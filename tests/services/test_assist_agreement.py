"""Reviewer agreement: the figures equal the libraries' on a hand-made case; thin data gives
"not enough data", never NaN."""

import json
import math

import krippendorff
import numpy as np
import pytest
from sklearn.metrics import cohen_kappa_score
from statsmodels.stats.inter_rater import aggregate_raters, fleiss_kappa

from app.services.assist.agreement import agreement
from app.services.review import ReviewInput, save_annotation
from tests.support.ckplus import SeqSpec, import_specs

SPECS = [SeqSpec("S005", f"{i:03d}", frames=12) for i in range(1, 7)]
# Three reviewers, six sequences: labels (CK+ codes) and onsets; None = not marked.
LABELS = {"ann": [5, 5, 7, 1, 3, 6], "bob": [5, 3, 7, 1, 3, 7], "cyd": [5, 5, 7, 4, 3, 6]}
ONSETS = {"ann": [4, 6, 3, None, 8, 5], "bob": [5, 6, 2, 7, 8, 9], "cyd": [4, None, 3, 6, 7, 5]}


@pytest.fixture
def reviewed(session_factory, session, tmp_path, make_user):
    ids = import_specs(session_factory, tmp_path / "ck", SPECS)
    seq_ids = [ids[f"S005_{i:03d}"] for i in range(1, 7)]
    users = {name: make_user(name) for name in LABELS}
    for name in LABELS:
        user = session.merge(users[name])
        for i, seq_id in enumerate(seq_ids):
            save_annotation(session, sequence_id=seq_id, user=user, data=ReviewInput(
                label=LABELS[name][i], onset_frame=ONSETS[name][i], apex_frame=None, note="",
                exclude=False, version=0))
    session.commit()
    return seq_ids


def test_figures_equal_the_libraries_on_a_hand_made_case(session, reviewed):
    report = agreement(session)
    assert report["reviewers"] == ["ann", "bob", "cyd"]
    labels = report["labels"]
    pairs = {(p["a"], p["b"]): p for p in labels["pairs"]}
    for a, b in pairs:
        assert pairs[a, b]["kappa"] == pytest.approx(cohen_kappa_score(LABELS[a], LABELS[b]))
        assert pairs[a, b]["n"] == 6
    # ann/bob by hand: 4 of 6 agree (p_o = 2/3); p_e from the marginals = 7/36.
    assert pairs["ann", "bob"]["kappa"] == pytest.approx((2 / 3 - 7 / 36) / (1 - 7 / 36))
    table, _ = aggregate_raters(np.array([LABELS[r] for r in LABELS]).T)
    assert labels["fleiss_kappa"] == pytest.approx(fleiss_kappa(table))
    assert labels["n"] == 6 and labels["raters"] == 3
    onsets = report["onsets"]
    data = np.array([[np.nan if v is None else v for v in ONSETS[r]] for r in ONSETS], float)
    assert onsets["alpha"] == pytest.approx(
        krippendorff.alpha(reliability_data=data, level_of_measurement="interval"))
    assert onsets["n"] == 6
    opairs = {(p["a"], p["b"]): p for p in onsets["pairs"]}
    # ann/bob share sequences 1, 2, 3, 5, 6 (ann has no onset on 4): |diffs| 1, 0, 1, 0, 4.
    assert opairs["ann", "bob"]["n"] == 5 and opairs["ann", "bob"]["mean_abs_diff"] == 1.2
    both = ~np.isnan(data[0]) & ~np.isnan(data[1])
    assert opairs["ann", "bob"]["alpha"] == pytest.approx(krippendorff.alpha(
        reliability_data=data[:2, both], level_of_measurement="interval"))
    pooled = [abs(x - y) for i, j in ((0, 1), (0, 2), (1, 2))
              for x, y in zip(data[i], data[j], strict=True) if not np.isnan(x - y)]
    assert onsets["mean_abs_diff"] == pytest.approx(np.mean(pooled))


def _no_nan(value) -> None:
    text = json.dumps(value)  # NaN would serialise as the invalid token NaN
    assert "NaN" not in text and "Infinity" not in text
    for item in value.values() if isinstance(value, dict) else []:
        if isinstance(item, float):
            assert not math.isnan(item)


def test_one_reviewer_no_overlap_and_missing_onsets_say_not_enough_data(
        session, session_factory, tmp_path, make_user):
    ids = import_specs(session_factory, tmp_path / "ck", SPECS)
    ann, bob = make_user("ann"), make_user("bob")
    empty = agreement(session)
    assert empty["labels"]["fleiss_kappa"] is None and "not enough data" in empty["labels"]["note"]
    ann, bob = session.merge(ann), session.merge(bob)
    save_annotation(session, sequence_id=ids["S005_001"], user=ann, data=ReviewInput(
        label=5, onset_frame=3, apex_frame=None, note="", exclude=False, version=0))
    one = agreement(session)
    assert one["labels"]["pairs"] == [] and one["onsets"]["alpha"] is None
    assert "not enough data" in one["onsets"]["note"]
    # bob reviews other sequences (no overlap) and marks no onsets at all.
    for code in ("002", "003"):
        save_annotation(session, sequence_id=ids[f"S005_{code}"], user=bob, data=ReviewInput(
            label=7, onset_frame=None, apex_frame=None, note="", exclude=False, version=0))
    session.commit()
    report = agreement(session)
    pair = report["labels"]["pairs"][0]
    assert pair["kappa"] is None and pair["n"] == 0 and "not enough data" in pair["note"]
    assert report["labels"]["fleiss_kappa"] is None
    assert report["onsets"]["alpha"] is None and report["onsets"]["mean_abs_diff"] is None
    assert "not enough data" in report["onsets"]["note"]
    _no_nan(report)
