"""The demo dataset: CK+'s layout and formats, a truthful answer key, faces that the landmarks
really sit on, expressions that change the face, and byte-for-byte determinism."""

import csv
import json
import re
import shutil
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from typer.testing import CliRunner

from app.demo import DemoOutputError, generate_demo
from app.demo.expressions import EMOTIONS
from app.demo.plan import plan_dataset

SEED = 11
CK_FLOAT = r"   -?\d\.\d{7}e[+-]\d{2}"
EMOTION_LINE = re.compile(rf"^{CK_FLOAT}\n$")
PAIR_LINE = re.compile(rf"^{CK_FLOAT}{CK_FLOAT}$")


@pytest.fixture(scope="module")
def demo(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("demo") / "ck"
    summary = generate_demo(out, subjects=3, seed=SEED)  # default workers: the parallel path
    assert (summary.subjects, summary.out) == (3, out)
    return out


def truth_rows(root: Path) -> list[dict[str, str]]:
    with (root / "demo_truth.csv").open(newline="") as fh:
        return list(csv.DictReader(fh))


def frame(root: Path, row: dict, n: int) -> Path:
    s, q = row["subject"], row["sequence"]
    return root / "cohn-kanade-images" / s / q / f"{s}_{q}_{n:08d}.png"


def landmarks(root: Path, row: dict, n: int) -> np.ndarray:
    s, q = row["subject"], row["sequence"]
    path = root / "Landmarks" / s / q / f"{s}_{q}_{n:08d}_landmarks.txt"
    lines = path.read_text().splitlines()
    assert all(PAIR_LINE.match(line) for line in lines), path
    return np.array([[float(v) for v in line.split()] for line in lines])


def test_layout_and_file_formats_match_ckplus(demo):
    rows = truth_rows(demo)
    assert [r["subject"] for r in rows] == sorted(r["subject"] for r in rows)
    for row in rows:
        s, q, n = row["subject"], row["sequence"], int(row["frames"])
        assert re.fullmatch(r"S\d{3}", s) and re.fullmatch(r"\d{3}", q)
        pngs = sorted(p.name for p in frame(demo, row, 1).parent.glob("*.png"))
        assert pngs == [f"{s}_{q}_{i:08d}.png" for i in range(1, n + 1)]
        marks = sorted(p.name for p in (demo / "Landmarks" / s / q).iterdir())
        assert marks == [f"{s}_{q}_{i:08d}_landmarks.txt" for i in range(1, n + 1)]

        facs = (demo / "FACS" / s / q / f"{s}_{q}_{n:08d}_facs.txt").read_text()
        assert facs and all(PAIR_LINE.match(line) for line in facs.splitlines())
        aus = [float(line.split()[0]) for line in facs.splitlines()]
        assert all(a == int(a) and 1 <= a <= 27 for a in aus)

        emotion = demo / "Emotion" / s / q / f"{s}_{q}_{n:08d}_emotion.txt"
        if row["ck_label"]:
            text = emotion.read_text()
            assert EMOTION_LINE.match(text), text  # e.g. "   3.0000000e+00\n"
            assert EMOTIONS[int(float(text))] == row["ck_label"]
        else:
            assert not emotion.exists()


def test_subjects_come_in_all_three_ckplus_frame_formats(demo):
    formats = {}
    for row in truth_rows(demo):
        with Image.open(frame(demo, row, int(row["frames"]))) as last, \
                Image.open(frame(demo, row, 1)) as first:
            assert (first.size, first.mode) == (last.size, last.mode)
            formats.setdefault(row["subject"], set()).add((*first.size, first.mode))
    assert all(len(f) == 1 for f in formats.values())  # one format per subject, as in CK+
    assert set.union(*formats.values()) == {(640, 490, "L"), (720, 480, "RGB"), (640, 480, "L")}


def test_truth_csv_agrees_with_the_files_and_marks_wrong_labels(demo):
    rows = truth_rows(demo)
    assert list(rows[0]) == ["subject", "sequence", "true_label", "true_onset", "frames",
                             "ck_label", "label_is_wrong"]
    for row in rows:
        assert row["true_label"] in EMOTIONS[1:]
        assert 2 <= int(row["true_onset"]) <= int(row["frames"]) - 3
        assert 10 <= int(row["frames"]) <= 40
        wrong = row["label_is_wrong"] == "1"
        if row["ck_label"]:
            assert wrong == (row["ck_label"] != row["true_label"])
        else:
            assert not wrong
    unlabeled = [r for r in rows if not r["ck_label"]]
    assert len(unlabeled) == round(0.4 * len(rows))
    assert any(r["label_is_wrong"] == "1" for r in rows)
    # Some unlabeled sequences keep an empty Emotion folder, like real CK+.
    empty = [r for r in unlabeled
             if (demo / "Emotion" / r["subject"] / r["sequence"]).is_dir()]
    assert empty and all(not any((demo / "Emotion" / r["subject"] / r["sequence"]).iterdir())
                         for r in empty)


def test_ckplus_files_never_carry_the_truth(demo):
    for tree in ("Emotion", "FACS", "Landmarks"):
        for path in (demo / tree).rglob("*.txt"):
            assert re.fullmatch(r"[0-9eE+\-. \n]*", path.read_text()), path
    assert "true" not in (demo / "ReadMe.txt").read_text().lower().replace("truth.csv", "")


def test_readme_and_the_clutter_of_real_copies_are_there(demo):
    assert (demo / "ReadMe.txt").read_text().startswith("Onset synthetic CK+ demo dataset")
    assert (demo / ".DS_Store").read_bytes()[4:8] == b"Bud1"
    thumbs = list((demo / "cohn-kanade-images").rglob("Thumbs.db"))
    assert thumbs and thumbs[0].read_bytes()[:4] == b"\xd0\xcf\x11\xe0"


def test_landmarks_sit_on_the_drawn_face(demo):
    for row in truth_rows(demo):
        for n in (1, int(row["frames"])):
            pts = landmarks(demo, row, n)
            with Image.open(frame(demo, row, n)) as img:
                gray = np.asarray(img.convert("L"), dtype=float)
            h, w = gray.shape
            assert pts.shape == (68, 2)
            assert (pts[:, 0] > 0).all() and (pts[:, 0] < w).all()
            assert (pts[:, 1] > 0).all() and (pts[:, 1] < h).all()

            def at(xy, gray=gray):
                return gray[int(round(xy[1])), int(round(xy[0]))]

            # Cheek: between the nose wing and the jaw, always bare skin.
            cheeks = [at((pts[31] + pts[3]) / 2), at((pts[35] + pts[13]) / 2)]
            upper_lids = [at(pts[i]) for i in (37, 38, 43, 44)]
            assert max(upper_lids) < min(cheeks) - 25, (row, n)
            # iBUG order: points 36-41 are the image-left eye, 0 the image-left jaw.
            assert pts[36:42, 0].mean() < pts[42:48, 0].mean() and pts[0, 0] < pts[16, 0]
            assert pts[8, 1] > pts[57, 1] > pts[33, 1] > pts[27, 1] > pts[19, 1]


def _shape_features(pts: np.ndarray) -> np.ndarray:
    """Distances that ignore head position and roll, in inter-ocular units."""
    iod = np.linalg.norm(pts[36:42].mean(0) - pts[42:48].mean(0))
    pairs = [(51, 57), (62, 66), (48, 54), (48, 33), (54, 33), (19, 37), (24, 44), (21, 22),
             (37, 41), (44, 46), (31, 35)]
    return np.array([np.linalg.norm(pts[a] - pts[b]) for a, b in pairs]) / iod


def test_face_stays_neutral_until_the_true_onset_then_moves_to_the_apex(demo):
    for row in truth_rows(demo):
        onset, n = int(row["true_onset"]), int(row["frames"])
        shapes = [_shape_features(landmarks(demo, row, i)) for i in range(1, n + 1)]
        neutral = shapes[0]
        for i in range(1, onset - 1):
            assert np.abs(shapes[i] - neutral).max() < 0.01, (row, i + 1)
        assert np.abs(shapes[onset - 1] - neutral).max() > 0.015, row
        changes = [np.abs(s - neutral).max() for s in shapes[onset - 1:]]
        assert changes[-1] == pytest.approx(max(changes)) and changes[-1] > 0.08, row


def test_apex_frame_differs_from_the_first_in_the_mouth_region(demo):
    for row in truth_rows(demo):
        n = int(row["frames"])
        first_pts, last_pts = landmarks(demo, row, 1), landmarks(demo, row, n)
        mouth = np.vstack([first_pts[48:68], last_pts[48:68]])
        x0, y0 = np.floor(mouth.min(0)).astype(int) - 3
        x1, y1 = np.ceil(mouth.max(0)).astype(int) + 3
        with Image.open(frame(demo, row, 1)) as a, Image.open(frame(demo, row, n)) as b:
            ga = np.asarray(a.convert("L"), dtype=float)[y0:y1, x0:x1]
            gb = np.asarray(b.convert("L"), dtype=float)[y0:y1, x0:x1]
        assert np.abs(ga - gb).mean() > 6, row


def test_same_seed_same_bytes_and_an_earlier_demo_is_replaced(demo, tmp_path):
    # Regenerate only subject S005 over a copy of the 3-subject output: the earlier demo is
    # replaced (S005 alone remains) and S005's files are byte-identical, because a subject's
    # frames depend on the seed and its code only.
    again = tmp_path / "again"
    shutil.copytree(demo, again)
    summary = generate_demo(again, subjects=1, seed=SEED, workers=1)
    assert summary.subjects == 1
    assert sorted(p.name for p in (again / "cohn-kanade-images").iterdir()
                  if p.is_dir()) == ["S005"]
    assert len(truth_rows(again)) == summary.sequences
    for rel in ("cohn-kanade-images/S005", "Landmarks/S005", "FACS/S005"):
        files = sorted(p for p in (demo / rel).rglob("*") if p.is_file())
        assert files
        for path in files:
            assert (again / path.relative_to(demo)).read_bytes() == path.read_bytes(), path


def test_cli_writes_json_summary_and_another_seed_gives_other_faces(demo, tmp_path):
    from app.cli import cli

    out = tmp_path / "cli"
    result = CliRunner().invoke(cli, ["demo", "--out", str(out), "--subjects", "1",
                                      "--seed", str(SEED + 1), "--json"])
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    rows = truth_rows(out)
    assert summary["out"] == str(out) and summary["subjects"] == 1
    assert summary["sequences"] == len(rows)
    assert summary["frames"] == sum(int(r["frames"]) for r in rows)
    assert summary["labeled"] == sum(bool(r["ck_label"]) for r in rows)
    assert summary["wrong_labels"] == sum(r["label_is_wrong"] == "1" for r in rows)
    first = frame(demo, truth_rows(demo)[0], 1).relative_to(demo)
    assert (out / first).read_bytes() != (demo / first).read_bytes()


def test_refuses_a_folder_that_is_not_an_earlier_demo(tmp_path):
    folder = tmp_path / "photos"
    folder.mkdir()
    (folder / "holiday.jpg").write_bytes(b"not yours to delete")
    with pytest.raises(DemoOutputError, match=str(folder)):
        generate_demo(folder, subjects=1, seed=0)
    assert [p.name for p in folder.iterdir()] == ["holiday.jpg"]

    from app.cli import cli

    result = CliRunner().invoke(cli, ["demo", "--out", str(folder)])
    assert result.exit_code == 2 and "not empty" in result.output


def test_full_scale_plan_matches_ckplus_counts():
    plans = plan_dataset(123, seed=0)
    sequences = [q for p in plans for q in p.sequences]
    frames = sum(q.frames for q in sequences)
    assert 540 <= len(sequences) <= 650  # CK+: 593
    assert 9_600 <= frames <= 11_800  # CK+: about 10,700
    codes = [p.code for p in plans]
    assert codes[0] == "S005" and codes == sorted(set(codes)) and codes[-1] <= "S999"
    assert any(int(b[1:]) - int(a[1:]) > 1 for a, b in zip(codes, codes[1:], strict=False))  # gaps
    assert any(int(q.code) > i + 1 for p in plans for i, q in enumerate(p.sequences))  # gaps
    labeled = [q for q in sequences if q.ck_label]
    assert len(labeled) == len(sequences) - round(0.4 * len(sequences))
    assert sum(q.label_is_wrong for q in sequences) == round(0.05 * len(labeled))
    assert {q.emotion for q in sequences} == set(EMOTIONS[1:])
    sizes = {(p.width, p.height, p.mode) for p in plans}
    assert sizes == {(640, 490, "L"), (720, 480, "RGB"), (640, 480, "L")}


def test_bad_subject_count_or_seed_is_refused_before_anything_is_written(tmp_path):
    with pytest.raises(ValueError, match="subjects must be between 1 and 995"):
        generate_demo(tmp_path / "x", subjects=0)
    with pytest.raises(ValueError, match="seed must be a non-negative integer"):
        generate_demo(tmp_path / "x", subjects=1, seed=-1)
    assert not (tmp_path / "x").exists()
