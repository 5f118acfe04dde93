"""NumPy metrics against values worked out by hand."""

import numpy as np
import pytest

from training.metrics import confusion_matrix, summarize


def test_confusion_matrix_rows_are_true_labels():
    m = confusion_matrix(np.array([0, 0, 1, 2, 2]), np.array([0, 1, 1, 2, 0]), 3)
    assert m.tolist() == [[1, 1, 0], [0, 1, 0], [1, 0, 1]]


def test_summary_by_hand():
    true = np.array([0, 0, 1, 1, 2, 2])
    pred = np.array([0, 1, 1, 1, 2, 0])
    folds = np.array([1, 1, 1, 2, 2, 2])
    s = summarize(true, pred, folds, ["a", "b", "c", "d"])
    # fold 1: 2 of 3 right; fold 2: 2 of 3 right
    assert s["accuracy"]["per_fold"] == pytest.approx([2 / 3, 2 / 3])
    assert s["accuracy"]["std"] == pytest.approx(0.0)
    a, b, c = s["per_class"]["a"], s["per_class"]["b"], s["per_class"]["c"]
    assert (a["precision"], a["recall"]) == pytest.approx((0.5, 0.5))
    assert (b["precision"], b["recall"], b["f1"]) == pytest.approx((2 / 3, 1.0, 0.8))
    assert (c["precision"], c["recall"]) == pytest.approx((1.0, 0.5))
    # "d" never occurs: support 0, and it does not drag the macro F1 down.
    assert s["per_class"]["d"] == {"precision": 0.0, "recall": 0.0, "f1": 0.0, "support": 0}
    assert s["macro_f1"] == pytest.approx((0.5 + 0.8 + 2 / 3) / 3)
    assert s["confusion_matrix"]["labels"] == ["a", "b", "c", "d"]
