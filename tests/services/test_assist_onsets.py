"""Intensity curves and suggested onsets: head motion does not count, the onset is where
the face starts to move, and the export can use suggestions for unmarked sequences."""

import json

import numpy as np
import pytest

from app.services.assist import AssistError
from app.services.assist.onsets import landmark_curve, onset_from_curve, suggest, suggest_one
from tests.support.ckplus import SeqSpec, import_specs


def face(rng=None) -> np.ndarray:
    """68 points spread like a face (a fixed random layout, 200 px wide)."""
    rng = rng or np.random.default_rng(3)
    return rng.uniform(0, 200, size=(68, 2))


def expression(points: np.ndarray, t: float) -> np.ndarray:
    moved = points.copy()
    moved[48:68, 1] += 12 * t  # the mouth opens
    moved[17:27, 1] -= 6 * t  # brows rise
    return moved


def head_motion(points: np.ndarray, angle: float, scale: float, shift) -> np.ndarray:
    c, s = np.cos(angle), np.sin(angle)
    return points @ np.array([[c, -s], [s, c]]).T * scale + np.asarray(shift)


def sequence_points(frames: int, onset: int) -> list[np.ndarray]:
    base, out = face(), []
    for f in range(1, frames + 1):
        t = 0.0 if f < onset else 0.3 + 0.7 * (f - onset) / max(1, frames - onset)
        out.append(head_motion(expression(base, t), 0.01 * f, 1 + 0.004 * f, (1.5 * f, -f)))
    return out


def test_head_motion_alone_is_no_expression():
    base = face()
    moved = [head_motion(base, 0.05 * k, 1 + 0.03 * k, (5 * k, 3 * k)) for k in range(6)]
    assert landmark_curve(moved).max() < 1e-9


def test_the_suggested_onset_is_where_the_face_starts_to_move():
    for frames, onset in ((12, 5), (20, 9), (8, 3)):
        assert onset_from_curve(landmark_curve(sequence_points(frames, onset))) == onset
    # A noisy bump early on does not count: the onset is after the last low frame.
    assert onset_from_curve(np.array([0, 0.3, 0, 0, 0.1, 0.5, 0.8, 1.0])) == 6
    assert onset_from_curve(np.zeros(10)) is None  # a face that never moves
    assert onset_from_curve(np.array([0.0])) is None


def write_landmarks(root, subject, code, points):
    for n, p in enumerate(points, start=1):
        path = root / "Landmarks" / subject / code / f"{subject}_{code}_{n:08d}_landmarks.txt"
        path.write_text("".join(f"   {x:.7e}   {y:.7e}\n" for x, y in p))


@pytest.fixture
def dataset(session_factory, tmp_path):
    specs = [SeqSpec("S005", "001", frames=12, label=5.0), SeqSpec("S005", "002", frames=9)]
    ids = import_specs(session_factory, tmp_path / "ck", specs)
    write_landmarks(tmp_path / "ck", "S005", "001", sequence_points(12, 5))
    write_landmarks(tmp_path / "ck", "S005", "002", sequence_points(9, 3))
    return ids


def test_suggestions_for_every_sequence_cached_by_their_frames(session, settings, dataset):
    found = suggest(session, settings)
    assert [(s.subject, s.sequence, s.frames, s.suggested_onset, s.method) for s in found] == [
        ("S005", "001", 12, 5, "landmarks"), ("S005", "002", 9, 3, "landmarks")]
    data = found[0].as_dict(curve=False)
    assert set(data) >= {"subject", "sequence", "frames", "suggested_onset", "method"}
    curve = found[0].as_dict()["curve"]
    assert curve[0] == 0 and curve[-1] == pytest.approx(1, abs=0.1) and len(curve) == 12
    cache = json.loads((settings.data_dir / "assist" / "curves-landmarks.json").read_text())
    assert set(cache) == {str(dataset["S005_001"]), str(dataset["S005_002"])}
    one = suggest_one(session, settings, sequence_id=dataset["S005_002"])
    assert one.suggested_onset == 3
    with pytest.raises(AssistError, match="--method must be"):
        suggest(session, settings, method="psychic")


def test_without_landmarks_the_page_does_not_cut_crops(session, settings, session_factory,
                                                        tmp_path):
    from app.services.importer import import_ckplus
    from tests.support.ckplus import write_ckplus

    root = write_ckplus(tmp_path / "nolm", [SeqSpec("S009", "001", frames=5)], landmarks=False)
    with session_factory() as s:
        import_ckplus(s, root=root)
        s.commit()
    found = suggest(session, settings, compute_crops=False)
    assert found[0].method == "crops" and found[0].suggested_onset is None
    assert "onset onsets --method crops" in found[0].note
