"""The paired test is SciPy's, the verdict says "within noise", scores use the common set."""

import numpy as np
import pytest
from scipy import stats as scipy_stats

from app.services.experiments import stats

A5 = [0.81, 0.77, 0.85, 0.79, 0.83]
B5 = [0.78, 0.76, 0.80, 0.80, 0.79]


def test_few_pairs_use_scipys_paired_t_test():
    result = stats.paired_test(A5, B5)
    expected = scipy_stats.ttest_rel(A5, B5).pvalue
    assert result["p_value"] == pytest.approx(expected, rel=1e-12)
    assert result["mean_diff"] == pytest.approx(np.mean(np.subtract(A5, B5)))
    assert result["test"].startswith("paired t-test") and result["n"] == 5


def test_ten_or_more_pairs_use_scipys_wilcoxon():
    rng = np.random.default_rng(3)
    a = rng.uniform(0.6, 0.9, 12)
    b = a - rng.normal(0.03, 0.02, 12)
    result = stats.paired_test(list(a), list(b))
    assert result["p_value"] == pytest.approx(scipy_stats.wilcoxon(a, b).pvalue, rel=1e-12)
    assert result["test"].startswith("Wilcoxon")


def test_identical_variants_are_no_difference():
    assert stats.paired_test(A5, A5)["p_value"] == 1.0


def _variant(name, per_fold):
    return {"name": name, "accuracy": {"per_seed": [per_fold]}}


def test_comparisons_say_within_noise_or_which_is_better():
    noisy = stats.comparisons([_variant("a", A5), _variant("b", B5)])[0]
    assert noisy["p_value"] >= 0.05 and noisy["verdict"] == "within noise"
    better = [x + 0.1 + 0.01 * i for i, x in enumerate(B5)]
    clear = stats.comparisons([_variant("b", B5), _variant("c", better)])[0]
    assert clear["p_value"] < 0.05 and clear["verdict"] == "c is better"
    assert clear["mean_diff"] < 0  # a - b


def test_cell_scores_count_only_the_common_test_set_per_fold():
    common = {("S1", "001", 8): "happy", ("S2", "001", 8): "sadness"}
    folds = {"S1": 0, "S2": 1}
    rows = [
        {"subject": "S1", "sequence": "001", "frame": "8", "true_label": "happy",
         "predicted_label": "happy"},
        {"subject": "S1", "sequence": "001", "frame": "2", "true_label": "happy",
         "predicted_label": "sadness"},  # not a common frame: not counted
        {"subject": "S2", "sequence": "001", "frame": "8", "true_label": "sadness",
         "predicted_label": "happy"},
    ]
    scored = stats.cell_scores(rows, common, folds)
    assert scored["per_fold"] == [1.0, 0.0] and scored["images"] == 2
    summary = stats.variant_scores([scored])
    assert summary["accuracy"]["mean"] == 0.5
    assert summary["per_class"]["happy"]["recall"] == 1.0
    assert summary["per_class"]["sadness"]["recall"] == 0.0
