"""Read a CK+ copy from disk into plain records, taking every quirk of real copies:
renamed roots, stray files, empty label folders, float labels with spaces, mixed frame
sizes and modes. Only image headers are read, so a full CK+ scans in seconds.

Nothing here touches the database; `importer.py` stores what this finds."""

import os
import re
import zlib
from dataclasses import dataclass, field
from pathlib import Path

from PIL import Image, UnidentifiedImageError

# Folder names seen in copies in the wild, lower-cased; the first that exists wins.
IMAGE_DIRS = ("cohn-kanade-images", "cohn-kanade", "images", "ck+ images")
EMOTION_DIRS = ("emotion", "emotions", "emotion_labels")
FACS_DIRS = ("facs", "facs_labels")
LANDMARK_DIRS = ("landmarks", "landmark")
JUNK_FILES = {".ds_store", "thumbs.db", "desktop.ini", "._.ds_store"}

SUBJECT_RE = re.compile(r"^S\d{3,4}$", re.IGNORECASE)
SEQUENCE_RE = re.compile(r"^\d{3}$")
FRAME_RE = re.compile(r"^(S\d{3,4})_(\d{3})_(\d{8})\.png$", re.IGNORECASE)
LABEL_FILE_RE = re.compile(r"^(S\d{3,4})_(\d{3})_(\d{8})_emotion\.txt$", re.IGNORECASE)
FACS_FILE_RE = re.compile(r"^(S\d{3,4})_(\d{3})_(\d{8})_facs\.txt$", re.IGNORECASE)
LANDMARK_FILE_RE = re.compile(r"^(S\d{3,4})_(\d{3})_(\d{8})_landmarks\.txt$", re.IGNORECASE)


class ScanError(Exception):
    """The folder is not a CK+ copy at all (nothing could be imported)."""


@dataclass
class Issue:
    path: str  # relative to the root
    problem: str
    severity: str = "error"  # error: something was skipped; warning: imported anyway

    def __post_init__(self) -> None:
        # A file name that is not UTF-8 arrives with surrogate escapes, which no terminal,
        # JSON reader or database takes: show the bytes that are not text as U+FFFD.
        self.path = printable(self.path)
        self.problem = printable(self.problem)

    def __str__(self) -> str:
        return f"{self.path}: {self.problem}"


@dataclass
class FrameRecord:
    number: int
    path: str
    width: int
    height: int
    mode: str
    landmarks_path: str | None = None
    file_size: int | None = None  # with file_mtime_ns: tells a re-import the file changed
    file_mtime_ns: int | None = None


def printable(text: str) -> str:
    return text.encode("utf-8", "surrogateescape").decode("utf-8", "replace")


@dataclass
class SequenceRecord:
    subject: str
    code: str
    frames: list[FrameRecord]
    label: int | None = None
    label_file: str | None = None
    facs: list[list[float]] = field(default_factory=list)


@dataclass
class Layout:
    root: Path
    images: Path
    emotion: Path | None
    facs: Path | None
    landmarks: Path | None

    def as_dict(self) -> dict[str, str | None]:
        def rel(p: Path | None) -> str | None:
            return None if p is None else p.relative_to(self.root).as_posix()

        return {"images": rel(self.images), "emotion": rel(self.emotion),
                "facs": rel(self.facs), "landmarks": rel(self.landmarks)}


@dataclass
class ScanResult:
    layout: Layout
    sequences: list[SequenceRecord]
    issues: list[Issue]
    is_demo: bool
    ignored_files: int = 0
    skipped_sequences: int = 0


def find_layout(root: Path) -> Layout:
    if not root.exists():
        raise ScanError(f"{root}: no such folder")
    if not root.is_dir():
        raise ScanError(f"{root}: not a folder")
    layout = _layout_in(root)
    if layout is None:
        # A zip unpacked into a folder of its own: accept one level of nesting.
        children = [p for p in root.iterdir() if p.is_dir() and not p.name.startswith(".")]
        nested = [found for c in children if (found := _layout_in(c)) is not None]
        if len(nested) == 1:
            return nested[0]
        raise ScanError(
            f"{root}: no CK+ image folder found (looked for one of: "
            f"{', '.join(IMAGE_DIRS)}, holding S###/###/S###_###_########.png)"
        )
    return layout


def _layout_in(root: Path) -> Layout | None:
    by_name = {p.name.lower(): p for p in root.iterdir() if p.is_dir()}

    def first(names: tuple[str, ...]) -> Path | None:
        return next((by_name[n] for n in names if n in by_name), None)

    images = first(IMAGE_DIRS)
    if images is None:
        return None
    return Layout(root, images, first(EMOTION_DIRS), first(FACS_DIRS), first(LANDMARK_DIRS))


def scan(root: Path, *, progress=None) -> ScanResult:
    """Scan a CK+ copy. `progress(done, total)` is called once per sequence folder."""
    layout = find_layout(root.resolve())
    issues: list[Issue] = []
    ignored = 0
    folders: list[tuple[str, str, Path]] = []
    for subject_dir in _sorted_dirs(layout.images):
        if (problem := _outside_root(layout, str(subject_dir))) is not None:
            issues.append(Issue(_rel(layout, subject_dir), f"{problem}; subject skipped"))
            continue
        if not SUBJECT_RE.match(subject_dir.name):
            issues.append(Issue(_rel(layout, subject_dir), "not a subject folder (S###); ignored",
                                "warning"))
            continue
        for seq_dir in _sorted_dirs(subject_dir):
            if (problem := _outside_root(layout, str(seq_dir))) is not None:
                issues.append(Issue(_rel(layout, seq_dir), f"{problem}; sequence skipped"))
            elif SEQUENCE_RE.match(seq_dir.name):
                folders.append((subject_dir.name.upper(), seq_dir.name, seq_dir))
            else:
                issues.append(Issue(_rel(layout, seq_dir), "not a sequence folder (###); ignored",
                                    "warning"))

    labels = _read_labels(layout, issues)
    facs = _read_facs(layout, issues)
    sequences: list[SequenceRecord] = []
    skipped = 0
    for done, (subject, code, seq_dir) in enumerate(folders, 1):
        record, skipped_files = _scan_sequence(layout, subject, code, seq_dir, issues)
        ignored += skipped_files
        if record is not None:
            record.label, record.label_file = labels.pop((subject, code), (None, None))
            record.facs = facs.get((subject, code), [])
            sequences.append(record)
        else:
            skipped += 1
            labels.pop((subject, code), None)
        if progress:
            progress(done, len(folders))
    for (subject, code), (_, label_file) in sorted(labels.items()):
        issues.append(Issue(label_file or f"{subject}/{code}",
                            f"label file for {subject}/{code}, which has no image sequence"))
    is_demo = (layout.root / "demo_truth.csv").is_file()
    return ScanResult(layout, sequences, issues, is_demo, ignored, skipped)


def _scan_sequence(layout: Layout, subject: str, code: str, seq_dir: Path,
                   issues: list[Issue]) -> tuple[SequenceRecord | None, int]:
    # Plain strings and os.scandir here: this runs for every frame of a full CK+, and
    # pathlib's per-path objects cost as much as reading the PNG headers.
    folder_rel = _rel(layout, seq_dir)
    numbered: dict[int, str] = {}
    ignored = 0
    with os.scandir(seq_dir) as entries:
        for entry in entries:
            name = entry.name
            if name.lower() in JUNK_FILES or name.startswith("."):
                ignored += 1
                continue
            match = FRAME_RE.match(name)
            if not match or not entry.is_file():
                issues.append(Issue(f"{folder_rel}/{name}", "not a CK+ frame name; ignored",
                                    "warning"))
                ignored += 1
                continue
            if match.group(1).upper() != subject or match.group(2) != code:
                issues.append(Issue(f"{folder_rel}/{name}", "frame name does not match its "
                                    f"folder {subject}/{code}; ignored", "warning"))
                ignored += 1
                continue
            numbered[int(match.group(3))] = name
    where = f"{folder_rel}/"
    if not numbered:
        issues.append(Issue(where, "sequence folder holds no frames; skipped"))
        return None, ignored
    numbers = sorted(numbered)
    if numbers != list(range(1, len(numbers) + 1)):
        missing = sorted(set(range(1, numbers[-1] + 1)) - set(numbers))
        detail = (f"missing frame(s) {_short_list(missing)}" if missing
                  else "numbers must run 1..N")
        issues.append(Issue(where, f"gap in frame numbers: {detail}; sequence skipped"))
        return None, ignored
    landmarks = _landmark_files(layout, subject, code)
    frames: list[FrameRecord] = []
    root = str(layout.root)
    for number in numbers:
        rel = f"{folder_rel}/{numbered[number]}"
        problem = _outside_root(layout, f"{root}/{rel}")
        try:
            if problem is None:
                width, height, mode, stat = read_frame(f"{root}/{rel}")
        except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as exc:
            problem = f"not a readable image ({_reason(exc)})"
        if problem is None and (width <= 0 or height <= 0):
            problem = "image has zero size"
        if problem is None and width * height > MAX_FRAME_PIXELS:
            problem = (f"declares {width}x{height} pixels, far more than any CK+ frame "
                       f"(limit {MAX_FRAME_PIXELS // 1_000_000} MP)")
        if problem is not None:
            issues.append(Issue(rel, f"{problem}; sequence {subject}/{code} skipped"))
            return None, ignored
        frames.append(FrameRecord(number, rel, width, height, mode, landmarks.get(number),
                                  stat.st_size, stat.st_mtime_ns))
    return SequenceRecord(subject, code, frames), ignored


MAX_FRAME_PIXELS = 50_000_000  # CK+ frames are 0.3 MP; a bigger claim is a damaged header
PNG_END = b"IEND\xaeB`\x82"  # the last 8 bytes of every complete PNG (IEND and its CRC)


def read_frame(path: str) -> tuple[int, int, str, os.stat_result]:
    """The frame's header, its stat, and a cheap completeness check: a PNG cut short (a
    broken copy or download) has lost its closing IEND chunk."""
    width, height, mode = read_image_header(path)
    with open(path, "rb") as fh:
        stat = os.fstat(fh.fileno())
        if path.lower().endswith(".png"):
            fh.seek(max(0, stat.st_size - len(PNG_END)))
            if fh.read() != PNG_END:
                raise ValueError("truncated PNG: its end (IEND chunk) is missing")
    return width, height, mode, stat


def _outside_root(layout: Layout, path: str) -> str | None:
    """Why a frame must not be read: a symbolic link leading out of the CK+ folder (the
    server would otherwise show reviewers whatever file it points at)."""
    if not os.path.islink(path):
        return None
    target = Path(path).resolve()
    if target.is_relative_to(layout.root):
        return None
    return f"is a symbolic link to {target}, outside the CK+ folder {layout.root}"


PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
# PNG colour type and bit depth -> the mode Pillow reports for it.
PNG_MODES = {(0, 8): "L", (0, 16): "I;16", (0, 1): "1", (2, 8): "RGB", (2, 16): "RGB",
             (3, 8): "P", (4, 8): "LA", (6, 8): "RGBA", (6, 16): "RGBA"}


def read_image_header(path: str) -> tuple[int, int, str]:
    """(width, height, mode) from the first 33 bytes of a PNG (its IHDR chunk, checked
    against its CRC); anything else is opened by Pillow, which reads only the header too.
    This is most of an import's work, and a bare read is several times cheaper."""
    with open(path, "rb") as fh:
        head = fh.read(33)
    if head[:8] == PNG_SIGNATURE and head[12:16] == b"IHDR" and len(head) == 33:
        if zlib.crc32(head[12:29]) == int.from_bytes(head[29:33], "big"):
            mode = PNG_MODES.get((head[25], head[24]))
            width, height = int.from_bytes(head[16:20], "big"), int.from_bytes(head[20:24], "big")
            if mode:
                return width, height, mode
    with Image.open(path) as image:
        return image.width, image.height, image.mode


def _read_labels(layout: Layout,
                 issues: list[Issue]) -> dict[tuple[str, str], tuple[int | None, str]]:
    """Map (subject, sequence) to (label code, label file). No file means no label; a bad
    or duplicated file leaves the sequence unlabeled but still imported."""
    found: dict[tuple[str, str], tuple[int | None, str]] = {}
    for key, path in _per_sequence_files(layout, layout.emotion, LABEL_FILE_RE, issues):
        rel = _rel(layout, path)
        if key in found:
            issues.append(Issue(rel, "second label file for the same sequence; "
                                     "both ignored, sequence left unlabeled"))
            found[key] = (None, rel)
            continue
        found[key] = (_parse_label(path, rel, issues), rel)
    return found


def _parse_label(path: Path, rel: str, issues: list[Issue]) -> int | None:
    text = path.read_text(errors="replace").strip()
    if not text:
        issues.append(Issue(rel, "label file is empty; sequence left unlabeled"))
        return None
    try:
        value = float(text.split()[0])
    except ValueError:
        issues.append(Issue(rel, f"label is not a number ({text[:30]!r}); sequence left unlabeled"))
        return None
    if not value.is_integer() or not 0 <= value <= 7:
        issues.append(Issue(rel, f"label {text[:30]!r} is not an emotion code 0-7; "
                                 "sequence left unlabeled"))
        return None
    return int(value)


def _read_facs(layout: Layout, issues: list[Issue]) -> dict[tuple[str, str], list[list[float]]]:
    codes: dict[tuple[str, str], list[list[float]]] = {}
    for key, path in _per_sequence_files(layout, layout.facs, FACS_FILE_RE, issues):
        rows = []
        for line_no, line in enumerate(path.read_text(errors="replace").splitlines(), 1):
            parts = line.split()
            if not parts:
                continue
            try:
                au, intensity = float(parts[0]), float(parts[1]) if len(parts) > 1 else 0.0
            except ValueError:
                issues.append(Issue(f"{_rel(layout, path)}:{line_no}",
                                    f"FACS line {line.strip()[:30]!r} is not 'AU intensity'; "
                                    "line ignored", "warning"))
                continue
            rows.append([int(au), int(intensity)])
        codes[key] = rows
    return codes


def _per_sequence_files(layout: Layout, base: Path | None, pattern: re.Pattern[str],
                        issues: list[Issue]):
    """Yield ((subject, sequence), file) for label-like files under base/S###/###/."""
    if base is None:
        return
    for subject_dir in _sorted_dirs(base):
        for seq_dir in _sorted_dirs(subject_dir):
            for path in sorted(seq_dir.iterdir()):
                if path.name.lower() in JUNK_FILES or path.name.startswith("."):
                    continue
                match = pattern.match(path.name)
                if match is None:
                    issues.append(Issue(_rel(layout, path), "unexpected file; ignored",
                                        "warning"))
                    continue
                yield (match.group(1).upper(), match.group(2)), path


def _landmark_files(layout: Layout, subject: str, code: str) -> dict[int, str]:
    if layout.landmarks is None:
        return {}
    folder = layout.landmarks / subject / code
    if not folder.is_dir():
        return {}
    folder_rel = _rel(layout, folder)
    out = {}
    with os.scandir(folder) as entries:
        for entry in entries:
            match = LANDMARK_FILE_RE.match(entry.name)
            if match:
                out[int(match.group(3))] = f"{folder_rel}/{entry.name}"
    return out


def _sorted_dirs(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if p.is_dir() and not p.name.startswith("."))


def _rel(layout: Layout, path: Path) -> str:
    return path.relative_to(layout.root).as_posix()


def _reason(exc: Exception) -> str:
    return str(exc).split(" '", 1)[0] or type(exc).__name__


def _short_list(numbers: list[int]) -> str:
    shown = ", ".join(str(n) for n in numbers[:8])
    return shown + (f" and {len(numbers) - 8} more" if len(numbers) > 8 else "")
