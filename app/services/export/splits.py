"""Subject-grouped folds and train/val/test splits, balanced by label, deterministic per seed.

Every image of a subject lands in the same fold (and the same split): a model must never
be tested on a face it trained on. Within that rule we balance classes greedily: subjects
are shuffled with the seed, then taken largest first (the ones that are hardest to place),
and each goes where its *dominant* label (the class it has most images of) is scarcest:
- folds: the fold with the fewest images of that label (ties: fewest images, lowest fold);
- splits: the split whose share of that label, after adding the subject, stays furthest
  below its target fraction (ties: the same for all images, then train/val/test order).
Folds and splits are independent: `fold` serves k-fold cross-validation, `split` a single
train/val/test protocol, and both are grouped by subject.
"""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Iterable

from app.services.export.params import SPLIT_NAMES, ExportParamsError


def subject_label_counts(pairs: Iterable[tuple[str, str]]) -> dict[str, Counter]:
    """(subject, label) per image -> {subject: Counter(label -> images)}."""
    counts: dict[str, Counter] = {}
    for subject, label in pairs:
        counts.setdefault(subject, Counter())[label] += 1
    return counts


def _placement_order(counts: dict[str, Counter], seed: int) -> list[str]:
    subjects = sorted(counts)
    random.Random(seed).shuffle(subjects)
    # Stable sort: equal-sized subjects keep the seeded shuffle's order.
    return sorted(subjects, key=lambda s: -sum(counts[s].values()))


def _dominant(counter: Counter, labels: list[str]) -> str:
    return max(labels, key=lambda label: (counter.get(label, 0), -labels.index(label)))


def assign_folds(counts: dict[str, Counter], k: int, seed: int) -> dict[str, int]:
    """{subject: fold in 0..k-1}."""
    if k > len(counts):
        raise ExportParamsError("folds", f"{k} folds need at least {k} subjects, but the "
                                         f"selection has {len(counts)}")
    labels = sorted({label for c in counts.values() for label in c})
    per_fold = [Counter() for _ in range(k)]
    totals = [0] * k
    folds: dict[str, int] = {}
    for subject in _placement_order(counts, seed):
        dominant = _dominant(counts[subject], labels)
        # An empty fold is filled first, so every fold gets a subject.
        fold = min(range(k), key=lambda f: (totals[f] > 0, per_fold[f][dominant],
                                            totals[f], f))
        folds[subject] = fold
        per_fold[fold].update(counts[subject])
        totals[fold] += sum(counts[subject].values())
    return folds


def assign_split(counts: dict[str, Counter], percentages: tuple[float, float, float],
                 seed: int) -> dict[str, str]:
    """{subject: "train" | "val" | "test"}; a split given 0% gets nobody."""
    active = [i for i, p in enumerate(percentages) if p > 0]
    if len(counts) < len(active):
        raise ExportParamsError("split", f"{len(active)} non-empty parts need at least "
                                         f"{len(active)} subjects, but the selection has "
                                         f"{len(counts)}")
    labels = sorted({label for c in counts.values() for label in c})
    label_totals = Counter()
    for c in counts.values():
        label_totals.update(c)
    grand_total = sum(label_totals.values())
    per_split = [Counter() for _ in SPLIT_NAMES]
    totals = [0] * len(SPLIT_NAMES)
    members = [0] * len(SPLIT_NAMES)
    order = _placement_order(counts, seed)
    assigned: dict[str, str] = {}
    for position, subject in enumerate(order):
        counter = counts[subject]
        dominant = _dominant(counter, labels)
        empty = [i for i in active if members[i] == 0]
        # With as many subjects left as empty parts, the rest must fill those parts.
        candidates = empty if len(order) - position <= len(empty) else active

        chosen = min(candidates, key=lambda i: _fill_after(
            i, per_split, totals, counter, dominant, percentages, label_totals, grand_total))
        assigned[subject] = SPLIT_NAMES[chosen]
        per_split[chosen].update(counter)
        totals[chosen] += sum(counter.values())
        members[chosen] += 1
    return assigned


def _fill_after(i: int, per_split: list[Counter], totals: list[int], counter: Counter,
                dominant: str, percentages: tuple[float, float, float], label_totals: Counter,
                grand_total: int) -> tuple[float, float, int]:
    """How full split i would be, against its target share, with this subject added."""
    share = percentages[i] / 100
    return ((per_split[i][dominant] + counter[dominant]) / (share * label_totals[dominant]),
            (totals[i] + sum(counter.values())) / (share * grand_total), i)
