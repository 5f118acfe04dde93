"""The model's intensity signal, 1 - p(neutral), from a real tiny run trained here: it rises
on the expressive frames of a sequence it never saw, is cached per run, and a run without a
neutral class is refused by name."""

import csv
import json

import numpy as np
import pytest
from PIL import Image

from app.models import Run
from app.services.assist import AssistError
from app.services.assist.onsets import suggest, suggest_one
from tests.support.ckplus import SeqSpec, frame_path, write_ckplus

SIZE = 32


def draw(smile: float, rng: np.random.Generator, tone: float = 190.0) -> np.ndarray:
    """A 32x32 'face' whose mouth bends from flat (0, neutral) to a full smile (1)."""
    yy, xx = np.mgrid[0:SIZE, 0:SIZE].astype(float)
    cx, cy = SIZE / 2 + rng.uniform(-1, 1), SIZE / 2 + rng.uniform(-1, 1)
    img = np.full((SIZE, SIZE), 40.0)
    img[((xx - cx) / 12) ** 2 + ((yy - cy) / 14) ** 2 <= 1] = tone
    for ex in (cx - 5, cx + 5):
        img[(xx - ex) ** 2 + (yy - (cy - 4)) ** 2 <= 2.5] = 20
    mx = xx - cx
    mouth = np.abs(yy - (cy + 7 - 0.12 * smile * mx**2)) <= 1.2
    img[mouth & (np.abs(mx) <= 6)] = 15
    img += rng.normal(0, 5, img.shape)
    return np.clip(img, 0, 255).astype(np.uint8)


def write_export(root, rng) -> None:
    """neutral (flat mouths) and happy (smiles) of 8 subjects, whole 32x32 frames."""
    rows = []
    for s in range(8):
        tone = rng.uniform(150, 220)
        for label, smile in (("neutral", 0.0), ("happy", 1.0)):
            for k in range(4):
                rel = f"images/{label}/S{s:03d}_{label}_{k}.png"
                (root / rel).parent.mkdir(parents=True, exist_ok=True)
                Image.fromarray(draw(smile, rng, tone), mode="L").save(root / rel)
                rows.append({"path": rel, "label": label, "subject": f"S{s:03d}",
                             "sequence": "001" if label == "happy" else "000",
                             "frame": k + 1, "fold": s % 2 + 1})
    with open(root / "manifest.csv", "w", newline="") as fh:
        out = csv.DictWriter(fh, fieldnames=list(rows[0]))
        out.writeheader()
        out.writerows(rows)
    (root / "dataset.json").write_text(json.dumps({
        "format": "onset-dataset/1", "id": "neutral-happy", "labels": ["neutral", "happy"],
        "image": {"face": "none", "size": SIZE, "color": "gray"}}))


@pytest.fixture(scope="module")
def neutral_run(tmp_path_factory):
    """A real run with a neutral class: the tiny config, 2 folds, a few epochs."""
    from tests.support.tiny_training import tiny_config
    from training.train import train

    root = tmp_path_factory.mktemp("neutral-export")
    write_export(root, np.random.default_rng(0))
    config = tiny_config()
    config = config.replace(training=config.training.replace(epochs=8, patience=8))
    return train(root, config, folds=2, out_dir=tmp_path_factory.mktemp("runs"), seed=0,
                 verbose=0, log=lambda msg: None).run_dir


SMILES = [0.0, 0.0, 0.0, 0.5, 0.8, 1.0, 1.0, 1.0]  # frames 1-3 neutral, then the smile


@pytest.fixture
def smiling(session_factory, tmp_path):
    """One imported 8-frame sequence of an unseen subject (no landmark files)."""
    from app.services.importer import import_ckplus

    spec = SeqSpec("S050", "001", frames=len(SMILES), label=5.0, size=(SIZE, SIZE))
    root = write_ckplus(tmp_path / "ck", [spec], landmarks=False)
    rng = np.random.default_rng(11)
    for number, smile in enumerate(SMILES, start=1):
        Image.fromarray(draw(smile, rng, 175.0), mode="L").save(frame_path(root, spec, number))
    with session_factory() as s:
        import_ckplus(s, root=root)
        s.commit()
    return root


def test_the_probability_of_not_neutral_rises_on_the_expressive_frames(
        session, settings, smiling, neutral_run):
    found = suggest(session, settings, method="model", run=str(neutral_run))
    [s] = found
    assert s.method == "model" and s.frames == len(SMILES) and not s.note
    # The cache holds the model's own p(not neutral), before normalising for the page.
    [cached] = (settings.data_dir / "assist").glob("curves-model-*.json")
    raw = np.array(json.loads(cached.read_text())[str(s.sequence_id)]["curve"])
    assert raw[:3].max() < 0.5 < raw[-3:].min(), raw
    assert raw[-3:].mean() - raw[:3].mean() > 0.5, raw
    curve = np.array(s.curve)  # shown: 0 at frame 1, 1 at the apex
    assert curve[0] == 0 and curve[:3].max() < 0.2 and curve[-1] == pytest.approx(1, abs=0.1)
    assert s.suggested_onset in (4, 5), raw


def test_the_page_shows_the_cached_model_curve_under_auto(
        session, settings, smiling, neutral_run):
    session.add(Run(id="neutral-run", kind="train", path=str(neutral_run), active=True))
    session.commit()
    before = suggest_one(session, settings, sequence_id=_only_id(session))
    # Nothing computed yet: no landmark files, and a page view runs neither MTCNN nor TF.
    assert before.method == "model" and before.suggested_onset is None
    assert "onset onsets --method model" in before.note
    suggest(session, settings, method="model")  # the active model by default
    after = suggest_one(session, settings, sequence_id=_only_id(session))
    assert after.method == "model" and after.suggested_onset in (4, 5)


def test_a_run_without_a_neutral_class_is_refused_by_name(session, settings, smiling,
                                                          tiny_run):
    with pytest.raises(AssistError, match=r"no neutral class \(its classes: happy, sadness, "
                                          r"surprise\).*--neutral-frames"):
        suggest(session, settings, method="model", run=str(tiny_run.run_dir))
    with pytest.raises(AssistError, match="needs a run with a neutral class: there is no "
                                          "active model"):
        suggest(session, settings, method="model")
    # auto falls back silently, naming the signal it used.
    [s] = suggest(session, settings, run=str(tiny_run.run_dir), compute_crops=False)
    assert s.method == "crops" and "not computed yet" in s.note


def _only_id(session) -> int:
    from sqlalchemy import select

    from app.models import Sequence

    return session.scalar(select(Sequence.id))
