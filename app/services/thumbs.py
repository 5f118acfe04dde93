"""Frame images by frame id: the original file and cached JPEG renditions.

The file path always comes from the database (Frame.path relative to the DatasetSource root)
and is checked to resolve inside that root, so neither a request nor a poisoned database row
can make the server read another file. Renditions are generated once, written atomically
(temp file + rename) under settings.thumbs_dir, and named by an ETag derived from the source
file's path, size and mtime: a changed source gets a new rendition, never a stale one."""

import hashlib
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

from PIL import Image, UnidentifiedImageError
from sqlalchemy import select, true
from sqlalchemy.orm import Session

from app.models import DatasetSource, Frame
from app.services.errors import NotFound, Unprocessable

# name -> (longest side in pixels, JPEG quality). "thumb" feeds the filmstrip and list cards,
# "view" the large viewer (the PNG originals are 3-10x heavier for no visible gain).
VARIANTS: dict[str, tuple[int, int]] = {"thumb": (176, 72), "view": (720, 86)}
RENDITION_VERSION = "1"  # bump when the resizing recipe changes


@dataclass(frozen=True)
class FrameFile:
    frame_id: int
    path: Path
    etag: str  # quoted, ready for the ETag header


def locate(session: Session, frame_id: int, *, variant: str = "original") -> FrameFile:
    """The frame's file on disk, checked to stay inside the dataset root."""
    row = session.execute(
        select(Frame.path, DatasetSource.root).join(DatasetSource, true())
        .where(Frame.id == frame_id).limit(1)
    ).first()
    if row is None:
        raise NotFound(f"no frame with id {frame_id}")
    relative, root_text = row
    root = Path(root_text).resolve()
    path = (root / relative).resolve()
    # Defence in depth: an absolute or ../ path in the database must not escape the root.
    if not path.is_relative_to(root):
        raise NotFound(f"frame {frame_id}'s stored path {relative!r} points "
                       "outside the dataset folder; refusing to read it")
    try:
        stat = path.stat()
    except OSError:
        raise NotFound(f"frame {frame_id}'s image {relative} is missing from "
                       f"the dataset folder {root}") from None
    if not path.is_file():
        raise NotFound(f"frame {frame_id}'s image {relative} is not a file")
    key = f"{variant}:{RENDITION_VERSION}:{path}:{stat.st_size}:{stat.st_mtime_ns}"
    return FrameFile(frame_id, path, '"' + hashlib.sha1(key.encode()).hexdigest()[:20] + '"')


def check_original(frame: FrameFile) -> None:
    """Refuse a file that is not a readable image (a cheap header and chunk check)."""
    try:
        with Image.open(frame.path) as image:
            image.verify()
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as exc:
        raise Unprocessable(f"frame {frame.frame_id}'s image {frame.path.name} is "
                            f"not a readable image ({exc})") from None


def rendition(frame: FrameFile, *, variant: str, thumbs_dir: Path) -> Path:
    """The cached JPEG for `variant`, created on first use."""
    if variant not in VARIANTS:
        raise NotFound(f"no image variant {variant!r}; use one of "
                       f"{', '.join(VARIANTS)}")
    digest = frame.etag.strip('"')
    target = thumbs_dir / variant / digest[:2] / f"{frame.frame_id}-{digest}.jpg"
    if target.is_file():
        return target
    longest, quality = VARIANTS[variant]
    try:
        with Image.open(frame.path) as image:
            small = _displayable(image)
            small.load()
            small.thumbnail((longest, longest), Image.Resampling.LANCZOS)
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as exc:
        raise Unprocessable(f"frame {frame.frame_id}'s image {frame.path.name} "
                            f"cannot be decoded ({exc})") from None
    target.parent.mkdir(parents=True, exist_ok=True)
    handle, temp_name = tempfile.mkstemp(dir=target.parent, prefix=".tmp-", suffix=".jpg")
    try:
        with os.fdopen(handle, "wb") as out:
            small.save(out, "JPEG", quality=quality, optimize=True, progressive=True)
        os.replace(temp_name, target)  # atomic: readers see no file or the whole file
    except BaseException:
        Path(temp_name).unlink(missing_ok=True)
        raise
    return target


def _displayable(image: Image.Image) -> Image.Image:
    """Grayscale stays one channel (a third of the bytes); everything else becomes RGB."""
    if image.mode in ("L", "RGB"):
        return image
    if image.mode.startswith("I"):  # 16-bit grayscale: keep the top 8 bits
        return image.convert("I").point(lambda v: v * (1 / 256)).convert("L")
    if image.mode in ("1", "LA"):
        return image.convert("L")
    return image.convert("RGB")  # palette, RGBA, CMYK, ...


def etag_matches(if_none_match: str | None, etag: str) -> bool:
    if not if_none_match:
        return False
    candidates = {tag.strip().removeprefix("W/") for tag in if_none_match.split(",")}
    return "*" in candidates or etag in candidates
