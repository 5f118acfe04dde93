"""Write an export folder that is either complete or absent, and stream it as a zip.

The folder is built under a hidden temporary name next to the destination and renamed into
place only when every image, manifest.csv and dataset.json are written: a crash leaves a
`.NAME.partial-*` folder (cleaned up by the next export to NAME), never a half export that
looks whole. An existing export at the destination is swapped out the same way.
"""

from __future__ import annotations

import csv
import io
import json
import os
import shutil
import time
import uuid
import zipfile
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from app.services.export.selection import ExportError, FrameRow
from training.contract import DATASET_FILE, MANIFEST_FILE, is_dataset_format

Progress = Callable[[int, int], None]
STALE_PARTIAL_S = 3600  # a partial folder this old belongs to a crashed export
ZIP_CHUNK = 1 << 20


@dataclass(frozen=True)
class ImageJob:
    """How one image of the export is made: copied byte for byte, or rendered."""

    row: FrameRow
    copy_from: Path | None = None  # a finished PNG (source frame or cached crop)
    size: int = 48  # render: the whole frame resized to size x size
    color: str = "gray"


def is_export_folder(path: Path) -> bool:
    info = path / DATASET_FILE
    if not info.is_file():
        return False
    try:
        return is_dataset_format(json.loads(info.read_text()).get("format"))
    except (OSError, ValueError, AttributeError):
        return False


def check_destination(dest: Path) -> None:
    """Refuse to replace anything that is not an earlier export (a user's folder, a file)."""
    if dest.exists() and not dest.is_dir():
        raise ExportError(f"{dest} exists and is not a folder; choose a new folder name")
    if dest.is_dir() and any(dest.iterdir()) and not is_export_folder(dest):
        raise ExportError(f"{dest} is a folder that holds other files and is not an Onset "
                          "export; choose an empty or new folder (nothing was changed)")
    if dest.parent.exists() and not dest.parent.is_dir():
        raise ExportError(f"{dest.parent} is a file, not a folder")


def write_export(dest: Path, jobs: list[ImageJob], manifest: list[dict], columns: list[str],
                 info: dict, *, progress: Progress | None = None) -> Path:
    """Write images + manifest.csv + dataset.json to a temporary folder, then move it to
    `dest` in one rename. Any exception removes the temporary folder and changes nothing."""
    check_destination(dest)
    _remove_stale_partials(dest)
    tmp = dest.parent / f".{dest.name}.partial-{uuid.uuid4().hex[:8]}"
    tmp.mkdir()
    try:
        write_images(tmp, jobs, progress=progress)
        with open(tmp / MANIFEST_FILE, "w", newline="", encoding="utf-8") as fh:
            writer = csv.DictWriter(fh, fieldnames=columns, lineterminator="\n")
            writer.writeheader()
            writer.writerows(manifest)
        (tmp / DATASET_FILE).write_text(json.dumps(info, indent=2) + "\n", encoding="utf-8")
        _fsync_dir(tmp)
        _move_into_place(tmp, dest)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return dest


def write_images(folder: Path, jobs: list[ImageJob], *, progress: Progress | None = None) -> None:
    for label in sorted({job.row.label for job in jobs}):
        (folder / "images" / label).mkdir(parents=True, exist_ok=True)
    total = len(jobs)
    copies = [job for job in jobs if job.copy_from is not None]
    renders = [job for job in jobs if job.copy_from is None]
    done = 0
    for job in copies:
        # copyfile uses the kernel's sendfile: no decode, no re-encode, the same bytes.
        try:
            shutil.copyfile(job.copy_from, folder / job.row.path)
        except FileNotFoundError:
            raise ExportError(f"{job.copy_from}: the file is missing (frame "
                              f"{job.row.file_name}); was the dataset moved? re-import it, "
                              "or run the export again") from None
        done += 1
        if progress and (done % 50 == 0 or done == total):
            progress(done, total)
    if not renders:
        return
    # Decoding and PNG encoding release the GIL, so a few threads use the spare cores.
    with ThreadPoolExecutor(max_workers=min(4, os.cpu_count() or 1)) as pool:
        for _ in pool.map(lambda job: render_image(job, folder / job.row.path), renders):
            done += 1
            if progress and (done % 50 == 0 or done == total):
                progress(done, total)


def render_image(job: ImageJob, target: Path) -> None:
    """Face 'none': the whole frame (stretched to a square when resized, never centre-cropped,
    exactly as training.faces crops the 'none' source for prediction) in the chosen colour."""
    from PIL import Image

    from training.faces import CropParams, crop_from_face, whole_frame_face
    from training.images import ImageError, load_image

    mode = "L" if job.color == "gray" else "RGB"
    try:
        array = load_image(job.row.source, mode=mode)
    except ImageError as exc:
        raise ExportError(f"cannot read frame {job.row.file_name}: {exc}") from None
    array = crop_from_face(array, whole_frame_face(array.shape),
                           CropParams(size=job.size, color=job.color))
    Image.fromarray(array).save(target, format="PNG")


def _move_into_place(tmp: Path, dest: Path) -> None:
    if not dest.exists():
        os.rename(tmp, dest)
        return
    old = dest.parent / f".{dest.name}.old-{uuid.uuid4().hex[:8]}"
    os.rename(dest, old)
    try:
        os.rename(tmp, dest)
    except BaseException:
        os.rename(old, dest)  # put the previous export back
        raise
    shutil.rmtree(old, ignore_errors=True)


def _remove_stale_partials(dest: Path) -> None:
    now = time.time()
    for pattern in (f".{dest.name}.partial-*", f".{dest.name}.old-*"):
        for leftover in dest.parent.glob(pattern):
            try:
                if now - leftover.stat().st_mtime > STALE_PARTIAL_S:
                    shutil.rmtree(leftover, ignore_errors=True)
            except OSError:
                pass


def _fsync_dir(path: Path) -> None:
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


# --- streaming zip ---------------------------------------------------------------------------

class _ZipTail(io.RawIOBase):
    """A write-only stream that keeps only what was written since the last `drain()`.

    It answers `tell` and `seek` within that tail, which is all zipfile needs to go back and
    fill in an entry's CRC and sizes after writing it; so entries get ordinary local headers
    (no data descriptors, which some unzip tools mishandle for stored entries), while memory
    holds one entry at most, never the archive."""

    def __init__(self) -> None:
        self._buffer = bytearray()
        self._base = 0  # absolute offset of _buffer[0]
        self._pos = 0

    def writable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._pos

    def seek(self, offset: int, whence: int = 0) -> int:
        target = {0: offset, 1: self._pos + offset, 2: self._base + len(self._buffer) + offset}[
            whence]
        if target < self._base:
            raise OSError("cannot seek back into bytes already sent")
        self._pos = target
        return target

    def write(self, data) -> int:
        start = self._pos - self._base
        end = start + len(data)
        if start > len(self._buffer):
            self._buffer.extend(b"\0" * (start - len(self._buffer)))
        self._buffer[start:end] = data
        self._pos += len(data)
        return len(data)

    def drain(self) -> bytes:
        """Hand over everything written so far (only between entries)."""
        out = bytes(self._buffer)
        self._base += len(self._buffer)
        self._buffer.clear()
        self._pos = self._base
        return out


def zip_members(folder: Path) -> list[str]:
    """Relative paths (forward slashes) of an export folder's files, metadata first."""
    names = [p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file()]
    first = [n for n in (DATASET_FILE, MANIFEST_FILE) if n in names]
    return first + sorted(n for n in names if n not in first)


def stream_zip(folder: Path) -> Iterator[bytes]:
    """The export folder as zip bytes, produced entry by entry (PNGs stored as they are, the
    CSV and JSON deflated): memory use is one image, whatever the export's size."""
    members = zip_members(folder)
    tail = _ZipTail()
    with zipfile.ZipFile(tail, "w", allowZip64=True) as archive:
        for name in members:
            path = folder / name
            stat = path.stat()
            info = zipfile.ZipInfo(name, date_time=time.localtime(stat.st_mtime)[:6])
            info.external_attr = 0o644 << 16
            info.compress_type = (zipfile.ZIP_STORED if name.endswith(".png")
                                  else zipfile.ZIP_DEFLATED)
            archive.writestr(info, path.read_bytes())
            chunk = tail.drain()
            for start in range(0, len(chunk), ZIP_CHUNK):
                yield chunk[start:start + ZIP_CHUNK]
    yield tail.drain()  # the central directory


def write_zip(folder: Path, target: Path) -> Path:
    """Save the streamed zip to a file, atomically (temporary name, then rename)."""
    tmp = target.with_name(f".{target.name}.partial-{uuid.uuid4().hex[:8]}")
    try:
        with open(tmp, "wb") as fh:
            for chunk in stream_zip(folder):
                fh.write(chunk)
        os.replace(tmp, target)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return target
