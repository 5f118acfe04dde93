"""How much the reviewers agree, from their own annotations (admin decisions are not
reviews and are left out).

Labels: Cohen's kappa per reviewer pair (scikit-learn) on the sequences both labelled, and
Fleiss' kappa (statsmodels) over the largest set of sequences labelled by the same number of
reviewers (Fleiss' kappa needs a fixed number of raters per item). Onsets: Krippendorff's
alpha, interval level (the `krippendorff` package, which takes missing values), over every
sequence with at least two onsets and per pair, and the mean absolute difference in frames
(per pair, and pooled over all pairs' shared sequences). Every figure comes with `n`, the
number of sequences it rests on; where a figure cannot be computed (one reviewer, no overlap,
every answer the same) it is null and `note` says why, never NaN.
"""

from __future__ import annotations

import math
import warnings
from collections import Counter, defaultdict
from itertools import combinations
from typing import Any

import numpy as np
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.models import Annotation, User

NOT_ENOUGH = "not enough data"


def agreement(session: Session) -> dict[str, Any]:
    rows = session.execute(select(User.name, Annotation.sequence_id, Annotation.label,
                                  Annotation.onset_frame)
                           .join(User, User.id == Annotation.user_id)).all()
    labels: dict[str, dict[int, int]] = defaultdict(dict)
    onsets: dict[str, dict[int, int]] = defaultdict(dict)
    for name, seq_id, label, onset in rows:
        if label is not None:
            labels[name][seq_id] = label
        if onset is not None:
            onsets[name][seq_id] = onset
    reviewers = sorted(set(labels) | set(onsets))
    return {"reviewers": reviewers, "labels": label_agreement(labels),
            "onsets": onset_agreement(onsets)}


def label_agreement(labels: dict[str, dict[int, int]]) -> dict[str, Any]:
    """`labels`: {reviewer: {sequence id: label code}}."""
    pairs = []
    for a, b in combinations(sorted(labels), 2):
        shared = sorted(set(labels[a]) & set(labels[b]))
        x = [labels[a][s] for s in shared]
        y = [labels[b][s] for s in shared]
        kappa, note = _cohen(x, y)
        pairs.append({"a": a, "b": b, "kappa": kappa, "n": len(shared), "note": note})
    fleiss, n, raters, note = _fleiss(labels)
    return {"fleiss_kappa": fleiss, "n": n, "raters": raters, "note": note, "pairs": pairs}


def _cohen(x: list[int], y: list[int]) -> tuple[float | None, str | None]:
    if len(x) < 2:
        return None, f"{NOT_ENOUGH}: {len(x)} sequence(s) labelled by both"
    if len(set(x) | set(y)) < 2:
        return None, f"{NOT_ENOUGH}: every answer is the same label, so chance-corrected " \
                     "agreement is undefined"
    from sklearn.metrics import cohen_kappa_score

    return _finite(cohen_kappa_score(x, y))


def _fleiss(labels: dict[str, dict[int, int]]
            ) -> tuple[float | None, int, int, str | None]:
    by_sequence: dict[int, list[int]] = defaultdict(list)
    for given in labels.values():
        for seq_id, label in given.items():
            by_sequence[seq_id].append(label)
    sizes = Counter(len(v) for v in by_sequence.values() if len(v) >= 2)
    if len(labels) < 2 or not sizes:
        return None, 0, 0, f"{NOT_ENOUGH}: no sequence was labelled by two or more reviewers"
    raters = max(sizes, key=lambda m: (sizes[m], m))
    items = [v for v in by_sequence.values() if len(v) == raters]
    if len(items) < 2:
        return None, len(items), raters, f"{NOT_ENOUGH}: {len(items)} sequence(s) " \
                                         f"labelled by {raters} reviewers"
    if len({label for v in items for label in v}) < 2:
        return None, len(items), raters, f"{NOT_ENOUGH}: every answer is the same label"
    from statsmodels.stats.inter_rater import aggregate_raters, fleiss_kappa

    table, _ = aggregate_raters(np.array(items))
    kappa, note = _finite(fleiss_kappa(table, method="fleiss"))
    return kappa, len(items), raters, note


def onset_agreement(onsets: dict[str, dict[int, int]]) -> dict[str, Any]:
    """`onsets`: {reviewer: {sequence id: onset frame}}."""
    pairs, pooled = [], []
    for a, b in combinations(sorted(onsets), 2):
        shared = sorted(set(onsets[a]) & set(onsets[b]))
        diffs = [abs(onsets[a][s] - onsets[b][s]) for s in shared]
        pooled += diffs
        alpha, note = _alpha([[onsets[a][s] for s in shared], [onsets[b][s] for s in shared]])
        pairs.append({"a": a, "b": b, "alpha": alpha, "n": len(shared),
                      "mean_abs_diff": _mean(diffs), "note": note})
    names = sorted(onsets)
    units = sorted(s for s in {s for given in onsets.values() for s in given}
                   if sum(s in onsets[r] for r in names) >= 2)
    data = [[onsets[r].get(s, math.nan) for s in units] for r in names]
    alpha, note = _alpha(data) if len(names) >= 2 else (
        None, f"{NOT_ENOUGH}: onsets from {len(names)} reviewer(s)")
    if alpha is None and not units and len(names) >= 2:
        note = f"{NOT_ENOUGH}: no sequence has onsets from two or more reviewers"
    return {"alpha": alpha, "mean_abs_diff": _mean(pooled), "n": len(units), "note": note,
            "pairs": pairs}


def _alpha(data: list[list[float]]) -> tuple[float | None, str | None]:
    values = [v for row in data for v in row if not math.isnan(v)]
    units = len(data[0]) if data else 0
    if units < 2:
        return None, f"{NOT_ENOUGH}: {units} sequence(s) with onsets from two reviewers"
    if len(set(values)) < 2:
        return None, f"{NOT_ENOUGH}: every onset is the same frame, so alpha is undefined"
    import krippendorff

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        return _finite(krippendorff.alpha(reliability_data=np.array(data, dtype=float),
                                          level_of_measurement="interval"))


def _finite(value: float) -> tuple[float | None, str | None]:
    value = float(value)
    if math.isnan(value) or math.isinf(value):
        return None, f"{NOT_ENOUGH}: the figure is undefined for these answers"
    return round(value, 6), None


def _mean(values: list[int]) -> float | None:
    return round(float(np.mean(values)), 6) if values else None
