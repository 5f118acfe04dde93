"""Subject-grouped folds and splits: no leakage, balanced labels, deterministic per seed."""

from collections import Counter

import pytest

from app.services.export import ExportParamsError
from app.services.export.splits import assign_folds, assign_split, subject_label_counts

LABELS = ("anger", "disgust", "happy", "surprise")


def subjects(n_per_label: int = 5, images: int = 6) -> dict[str, Counter]:
    """n subjects per label, each with `images` images of one label."""
    pairs = []
    for li, label in enumerate(LABELS):
        for s in range(n_per_label):
            pairs += [(f"S{li}{s:02d}", label)] * images
    return subject_label_counts(pairs)


def mixed_subjects(n: int = 40, seed: int = 3) -> dict[str, Counter]:
    import random

    rng = random.Random(seed)
    counts = {}
    for s in range(n):
        counts[f"S{s:03d}"] = Counter({label: rng.randint(0, 12) for label in
                                       rng.sample(LABELS, rng.randint(1, 3))})
        counts[f"S{s:03d}"][rng.choice(LABELS)] += 1  # never empty
    return counts


def per_group(counts, groups) -> dict:
    out: dict = {}
    for subject, group in groups.items():
        out.setdefault(group, Counter()).update(counts[subject])
    return out


def test_each_subject_in_exactly_one_fold_and_every_fold_used():
    counts = mixed_subjects()
    folds = assign_folds(counts, 10, seed=0)
    assert set(folds) == set(counts)  # a dict: one fold per subject, nobody twice
    assert sorted(set(folds.values())) == list(range(10))


def test_folds_are_balanced_when_subjects_allow_it():
    counts = subjects(n_per_label=5)
    folds = assign_folds(counts, 5, seed=1)
    for fold_counts in per_group(counts, folds).values():
        assert fold_counts == Counter({label: 6 for label in LABELS})


def test_greedy_balance_beats_chance_on_mixed_subjects():
    counts = mixed_subjects()
    folds = assign_folds(counts, 5, seed=0)
    spread = {label: [c[label] for c in per_group(counts, folds).values()] for label in LABELS}
    totals = {label: sum(c[label] for c in counts.values()) for label in LABELS}
    for label, values in spread.items():
        # Every fold holds within 40% of its fair share of every class.
        assert max(abs(v - totals[label] / 5) for v in values) <= 0.4 * totals[label] / 5, (
            label, values)


def test_same_seed_same_folds_other_seed_other_folds():
    counts = mixed_subjects()
    assert assign_folds(counts, 5, seed=4) == assign_folds(counts, 5, seed=4)
    assert assign_folds(counts, 5, seed=4) != assign_folds(counts, 5, seed=5)
    assert assign_split(counts, (70, 15, 15), 4) == assign_split(counts, (70, 15, 15), 4)


def test_more_folds_than_subjects_is_refused():
    with pytest.raises(ExportParamsError, match="12 folds need at least 12 subjects, but "
                                                "the selection has 4"):
        assign_folds(subjects(n_per_label=1), 12, seed=0)


def test_split_fractions_are_met_by_whole_subjects():
    counts = mixed_subjects(60)
    split = assign_split(counts, (70, 15, 15), seed=0)
    assert set(split.values()) == {"train", "val", "test"}
    sizes = {name: sum(c.values()) for name, c in per_group(counts, split).items()}
    total = sum(sizes.values())
    assert abs(sizes["train"] / total - 0.70) < 0.06
    assert abs(sizes["val"] / total - 0.15) < 0.06
    assert abs(sizes["test"] / total - 0.15) < 0.06


def test_a_zero_part_stays_empty_and_few_subjects_still_fill_every_part():
    counts = mixed_subjects(20)
    assert set(assign_split(counts, (80, 0, 20), seed=0).values()) == {"train", "test"}
    three = dict(list(counts.items())[:3])
    assert sorted(assign_split(three, (70, 15, 15), seed=0).values()) == ["test", "train",
                                                                           "val"]
    with pytest.raises(ExportParamsError, match="need at least 3 subjects"):
        assign_split(dict(list(counts.items())[:2]), (70, 15, 15), seed=0)
