"""Write small CK+-shaped trees for tests, with the quirks of real copies on demand."""

from dataclasses import dataclass, field
from pathlib import Path

from PIL import Image


@dataclass
class SeqSpec:
    subject: str
    code: str
    frames: int = 4
    label: float | str | None = None  # float like real CK+, or raw text for bad cases
    size: tuple[int, int] = (64, 49)  # real: 640x490; tests keep it tiny
    mode: str = "L"
    facs: list[tuple[float, float]] = field(default_factory=list)
    empty_label_folder: bool = False


def write_ckplus(root: Path, specs: list[SeqSpec], *, images_dir: str = "cohn-kanade-images",
                 emotion_dir: str = "Emotion", landmarks: bool = True) -> Path:
    for spec in specs:
        seq_dir = root / images_dir / spec.subject / spec.code
        seq_dir.mkdir(parents=True, exist_ok=True)
        for n in range(1, spec.frames + 1):
            shade = (40 + 10 * n) % 256
            color = shade if spec.mode == "L" else (shade, 90, 200 - shade % 150)
            Image.new(spec.mode, spec.size, color).save(seq_dir / frame_name(spec, n))
            if landmarks:
                lm_dir = root / "Landmarks" / spec.subject / spec.code
                lm_dir.mkdir(parents=True, exist_ok=True)
                points = "".join(f"   {1.0 + i:.7e}   {2.0 + i:.7e}\n" for i in range(68))
                (lm_dir / f"{spec.subject}_{spec.code}_{n:08d}_landmarks.txt").write_text(points)
        label_dir = root / emotion_dir / spec.subject / spec.code
        if spec.label is not None:
            label_dir.mkdir(parents=True, exist_ok=True)
            text = spec.label if isinstance(spec.label, str) else f"   {spec.label:.7e}\n"
            (label_dir / f"{spec.subject}_{spec.code}_{spec.frames:08d}_emotion.txt").write_text(
                text)
        elif spec.empty_label_folder:
            label_dir.mkdir(parents=True, exist_ok=True)
        if spec.facs:
            facs_dir = root / "FACS" / spec.subject / spec.code
            facs_dir.mkdir(parents=True, exist_ok=True)
            lines = "".join(f"   {au:.7e}   {i:.7e}\n" for au, i in spec.facs)
            (facs_dir / f"{spec.subject}_{spec.code}_{spec.frames:08d}_facs.txt").write_text(lines)
    return root


def frame_name(spec: SeqSpec, number: int) -> str:
    return f"{spec.subject}_{spec.code}_{number:08d}.png"


def frame_path(root: Path, spec: SeqSpec, number: int,
               images_dir: str = "cohn-kanade-images") -> Path:
    return root / images_dir / spec.subject / spec.code / frame_name(spec, number)


def import_specs(session_factory, root: Path, specs: list[SeqSpec]) -> dict[str, int]:
    """Write and import a CK+ tree; {"S005_001": sequence id, ...}."""
    from sqlalchemy import select

    from app.models import Sequence, Subject
    from app.services.importer import import_ckplus

    with session_factory() as session:
        import_ckplus(session, root=write_ckplus(root, specs))
        session.commit()
        rows = session.execute(select(Subject.code, Sequence.code, Sequence.id).join(Subject))
        return {f"{subject}_{code}": seq_id for subject, code, seq_id in rows}
