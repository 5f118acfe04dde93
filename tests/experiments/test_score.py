"""Scoring finished cells: the common test set is what every finished cell predicted."""

import csv
from types import SimpleNamespace

from app.services.experiments.runner import score

COLUMNS = ["path", "subject", "sequence", "frame", "fold", "true_label", "predicted_label"]


def predictions(folder, rows):
    folder.mkdir()
    with open(folder / "predictions.csv", "w", newline="") as fh:
        out = csv.writer(fh)
        out.writerow(COLUMNS)
        for subject, frame, true, pred in rows:
            out.writerow(["x.png", subject, "001", frame, 1, true, pred])
    return str(folder)


def test_a_frame_one_variant_lacks_leaves_the_common_set_for_all(tmp_path):
    common = {("S1", "001", 7): "happy", ("S1", "001", 8): "happy",
              ("S2", "001", 8): "sadness"}
    plan = SimpleNamespace(common=common, folds={"S1": 0, "S2": 1})
    a = predictions(tmp_path / "a", [("S1", 7, "happy", "sadness"), ("S1", 8, "happy", "happy"),
                                     ("S2", 8, "sadness", "sadness")])
    b = predictions(tmp_path / "b", [("S1", 8, "happy", "happy"),  # no face in frame 7
                                     ("S2", 8, "sadness", "happy")])
    result = {"variants": [{"name": "a"}, {"name": "b"}, {"name": "c"}],
              "common_test": {"images": 3}}
    payloads = [{"variant": "a", "key": "ka"}, {"variant": "b", "key": "kb"},
                {"variant": "c", "key": "kc"}]
    records = {"ka": {"run": "ra", "run_dir": a}, "kb": {"run": "rb", "run_dir": b},
               "kc": None}  # c is still training
    scored = score(plan, result, payloads, records)
    assert scored["common_test"]["images"] == 2 and scored["common_test"]["per_fold"] == [1, 1]
    va, vb, vc = scored["variants"]
    assert va["accuracy"]["per_fold"] == [1.0, 1.0]  # frame 7 (wrong) no longer counts
    assert vb["accuracy"]["per_fold"] == [1.0, 0.0]
    assert vc["cells_done"] == 0 and "accuracy" not in vc and vc["run"] is None
    (pair,) = scored["comparisons"]
    assert (pair["a"], pair["b"], pair["mean_diff"]) == ("a", "b", 0.5)
