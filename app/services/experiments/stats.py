"""Scores on the common test set, and paired tests between variants (SciPy).

Each cell's out-of-fold predictions come from the fold's model, which never saw that fold's
subjects; keeping only the common test frames (the same frames, with the same label, for
every variant) scores every variant's fold model on the same images. Figures are per fold
(mean over seeds), then mean and population std over folds, like a run's metrics.json.
"""

from __future__ import annotations

import math
from itertools import combinations
from typing import Any

import numpy as np

from app.models import EMOTIONS

ALPHA = 0.05
# Below this many pairs the Wilcoxon signed-rank test cannot reach p < 0.05 often enough to
# be useful (n = 5 pairs: its smallest two-sided p is 2/32 = 0.0625), so the paired t-test
# is used; from here on Wilcoxon, which does not assume normal differences.
WILCOXON_MIN_PAIRS = 10


def cell_scores(predictions: list[dict[str, str]], common: dict[tuple, str],
                folds: dict[str, int]) -> dict[str, Any]:
    """One cell's predictions on the common test set: per-fold accuracy, true/pred lists."""
    true, pred, fold = [], [], []
    for row in predictions:
        key = (row["subject"], row["sequence"], int(row["frame"]))
        if key in common and row["true_label"] == common[key]:
            true.append(row["true_label"])
            pred.append(row["predicted_label"])
            fold.append(folds[row["subject"]])
    k = max(folds.values()) + 1
    t, p, f = np.array(true), np.array(pred), np.array(fold)
    per_fold = [float(np.mean(t[f == i] == p[f == i])) if np.any(f == i) else None
                for i in range(k)]
    return {"per_fold": per_fold, "true": true, "pred": pred, "images": len(true)}


def variant_scores(cells: list[dict[str, Any]]) -> dict[str, Any]:
    """A variant's figures from its cells (one per seed)."""
    from training.metrics import confusion_matrix, macro_f1, per_class

    by_fold = np.array([[np.nan if a is None else a for a in c["per_fold"]] for c in cells])
    per_fold = [float(x) for x in np.nanmean(by_fold, axis=0)]
    true = [t for c in cells for t in c["true"]]
    pred = [p for c in cells for p in c["pred"]]
    labels = [e for e in EMOTIONS if e in set(true) | set(pred)]
    index = {label: i for i, label in enumerate(labels)}
    matrix = confusion_matrix(np.array([index[t] for t in true]),
                              np.array([index[p] for p in pred]), len(labels))
    classes = {k: v for k, v in per_class(matrix, labels).items() if v["support"] > 0}
    return {"accuracy": {"mean": float(np.mean(per_fold)), "std": float(np.std(per_fold)),
                         "per_fold": per_fold,
                         "per_seed": [c["per_fold"] for c in cells]},
            "macro_f1": macro_f1(classes),
            "per_class": classes,
            "test_images": cells[0]["images"] if cells else 0}


def paired_test(a: list[float], b: list[float]) -> dict[str, Any]:
    """Mean paired difference a - b and a two-sided paired test's p-value.

    n < WILCOXON_MIN_PAIRS: scipy.stats.ttest_rel; else scipy.stats.wilcoxon. All pairs
    equal: no difference, p = 1."""
    from scipy import stats

    x, y = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    diff = x - y
    n = len(diff)
    result = {"mean_diff": float(np.mean(diff)) if n else 0.0, "n": n}
    if n < 2 or np.allclose(diff, 0):
        return {**result, "test": "none (no difference)" if n >= 2 else "none (one pair)",
                "p_value": 1.0 if n >= 2 else None}
    if n < WILCOXON_MIN_PAIRS:
        test, p = "paired t-test (scipy.stats.ttest_rel)", stats.ttest_rel(x, y).pvalue
    else:
        test, p = "Wilcoxon signed-rank (scipy.stats.wilcoxon)", stats.wilcoxon(x, y).pvalue
    p = float(p)
    return {**result, "test": test, "p_value": None if math.isnan(p) else p}


def comparisons(variants: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Every pair of variants, over the (seed, fold) pairs both have."""
    out = []
    for va, vb in combinations(variants, 2):
        a, b = _pairs(va), _pairs(vb)
        shared = sorted(set(a) & set(b))
        test = paired_test([a[k] for k in shared], [b[k] for k in shared])
        p = test["p_value"]
        if p is None or p >= ALPHA:
            verdict = "within noise"
        else:
            verdict = f"{va['name'] if test['mean_diff'] > 0 else vb['name']} is better"
        out.append({"a": va["name"], "b": vb["name"], **test, "verdict": verdict})
    return out


def _pairs(variant: dict[str, Any]) -> dict[tuple[int, int], float]:
    return {(seed, fold): value
            for seed, folds in enumerate(variant["accuracy"]["per_seed"])
            for fold, value in enumerate(folds) if value is not None}
