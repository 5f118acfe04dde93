"""Classification metrics in plain NumPy (no scikit-learn dependency)."""

from __future__ import annotations

import numpy as np


def confusion_matrix(true: np.ndarray, pred: np.ndarray, num_classes: int) -> np.ndarray:
    """Rows are true classes, columns predicted classes."""
    matrix = np.zeros((num_classes, num_classes), dtype=np.int64)
    np.add.at(matrix, (np.asarray(true, dtype=np.int64), np.asarray(pred, dtype=np.int64)), 1)
    return matrix


def per_class(matrix: np.ndarray, labels: list[str]) -> dict[str, dict]:
    """precision, recall, f1 and support per label; 0.0 where a ratio is undefined."""
    tp = np.diag(matrix).astype(float)
    predicted = matrix.sum(axis=0).astype(float)
    support = matrix.sum(axis=1)
    precision = np.divide(tp, predicted, out=np.zeros_like(tp), where=predicted > 0)
    recall = np.divide(tp, support, out=np.zeros_like(tp), where=support > 0)
    denom = precision + recall
    f1 = np.divide(2 * precision * recall, denom, out=np.zeros_like(tp), where=denom > 0)
    return {label: {"precision": float(precision[i]), "recall": float(recall[i]),
                    "f1": float(f1[i]), "support": int(support[i])}
            for i, label in enumerate(labels)}


def macro_f1(classes: dict[str, dict]) -> float:
    """Mean F1 over the classes that occur in the data (absent classes would only add zeros)."""
    scores = [c["f1"] for c in classes.values() if c["support"] > 0]
    return float(np.mean(scores)) if scores else 0.0


def summarize(true: np.ndarray, pred: np.ndarray, folds: np.ndarray,
              labels: list[str]) -> dict:
    """The metrics.json body for out-of-fold predictions (fold ids are 1-based in `folds`)."""
    true, pred, folds = np.asarray(true), np.asarray(pred), np.asarray(folds)
    per_fold = [float(np.mean(true[folds == f] == pred[folds == f]))
                for f in sorted(set(folds.tolist()))]
    matrix = confusion_matrix(true, pred, len(labels))
    classes = per_class(matrix, labels)
    return {
        "accuracy": {"mean": float(np.mean(per_fold)), "std": float(np.std(per_fold)),
                     "per_fold": per_fold, "pooled": float(np.mean(true == pred))},
        "macro_f1": macro_f1(classes),
        "per_class": classes,
        "confusion_matrix": {"labels": list(labels), "matrix": matrix.tolist()},
    }


def sequence_accuracy(true: np.ndarray, probs: np.ndarray, sequences: np.ndarray,
                      folds: np.ndarray) -> dict:
    """Accuracy per sequence: a sequence's frames (of one label) vote with their mean
    probabilities. Mean and std over folds, like the per-image figure, plus the count."""
    true, probs = np.asarray(true), np.asarray(probs)
    keys = [f"{s}\t{t}" for s, t in zip(np.asarray(sequences), true, strict=True)]
    groups: dict[str, list[int]] = {}
    for i, key in enumerate(keys):
        groups.setdefault(key, []).append(i)
    correct: dict[int, list[bool]] = {}
    for rows in groups.values():
        vote = int(probs[rows].mean(axis=0).argmax())
        correct.setdefault(int(folds[rows[0]]), []).append(vote == int(true[rows[0]]))
    per_fold = [float(np.mean(correct[f])) for f in sorted(correct)]
    return {"mean": float(np.mean(per_fold)), "std": float(np.std(per_fold)),
            "per_fold": per_fold, "sequences": len(groups)}


def member_scores(true, probs, sequences, folds, labels: list[str]) -> dict:
    """One ensemble member's out-of-fold figures, for metrics.json's `members`."""
    summary = summarize(true, np.asarray(probs).argmax(1), folds, labels)
    return {"accuracy": summary["accuracy"], "macro_f1": summary["macro_f1"],
            "sequence_accuracy": sequence_accuracy(true, probs, sequences, folds),
            "recall": {label: c["recall"] for label, c in summary["per_class"].items()}}
