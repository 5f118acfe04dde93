"""Safe image loading for everything that takes images (CK+ frames, uploaded photos).

Every entry point returns a plain ``uint8`` NumPy array in a known mode ("L" = HxW
grayscale, "RGB" = HxWx3), whatever came in: EXIF-rotated phone photos, RGBA/LA/P with
transparency, 16-bit PNGs, CMYK JPEGs. Anything we cannot trust (an empty or truncated
file, something that is not an image, an image so large it would exhaust memory) raises
``ImageError`` naming the file, so a bad frame in a 10,000-frame export is easy to find.
"""

from __future__ import annotations

import io
import os
import warnings
from pathlib import Path
from typing import BinaryIO

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

# 50 megapixels covers any phone photo (a 200 MP sensor bins to 12-50 MP) while a
# decompression bomb (a tiny PNG that claims 50,000 x 50,000) is refused before decoding.
MAX_PIXELS = 50_000_000
MODES = ("L", "RGB")

ImageSource = str | os.PathLike | bytes | BinaryIO | Image.Image | np.ndarray


class ImageError(ValueError):
    """An image could not be used; the message names the file (or "<bytes>", "<array>")."""


def describe(source: object, name: str | None = None) -> str:
    """A short human name for an image source, used in every error message."""
    if name:
        return name
    if isinstance(source, (str, os.PathLike)):
        return str(source)
    if isinstance(source, (bytes, bytearray)):
        return f"<{len(source)} bytes>"
    if isinstance(source, np.ndarray):
        return f"<array {source.shape} {source.dtype}>"
    if isinstance(source, Image.Image):
        return f"<PIL image {source.size[0]}x{source.size[1]} {source.mode}>"
    return getattr(source, "name", None) or f"<{type(source).__name__}>"


def open_image(source: ImageSource, *, max_pixels: int = MAX_PIXELS,
               name: str | None = None) -> Image.Image:
    """Open and fully decode an image file/bytes/stream, upright per its EXIF orientation."""
    label = describe(source, name)
    if isinstance(source, Image.Image):
        image = source
    else:
        stream = _as_stream(source, label)
        try:
            # Our own pixel check below gives a clearer message than Pillow's bomb warning.
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", Image.DecompressionBombWarning)
                image = Image.open(stream)
        except Image.DecompressionBombError as exc:
            raise ImageError(f"{label}: image is too large to open safely ({exc})") from exc
        except UnidentifiedImageError as exc:
            raise ImageError(f"{label}: not an image file (unrecognised format)") from exc
        except OSError as exc:
            raise ImageError(f"{label}: cannot read image ({exc})") from exc
    width, height = image.size
    if width <= 0 or height <= 0:
        raise ImageError(f"{label}: image has zero size ({width}x{height})")
    if width * height > max_pixels:
        raise ImageError(
            f"{label}: image is {width}x{height} = {width * height:,} pixels, above the "
            f"limit of {max_pixels:,} pixels")
    try:
        image.load()  # decode now so truncation is reported here, naming the file
        image = ImageOps.exif_transpose(image)
    except (OSError, SyntaxError, ValueError, Image.DecompressionBombError) as exc:
        raise ImageError(f"{label}: corrupt or truncated image ({exc})") from exc
    return image


def load_image(source: ImageSource, *, mode: str = "RGB", max_pixels: int = MAX_PIXELS,
               name: str | None = None) -> np.ndarray:
    """Any supported image source -> uint8 array in ``mode`` ("L": HxW, "RGB": HxWx3).

    Arrays are converted without copying files around: HxW, HxWx1, HxWx3, HxWx4 in uint8,
    uint16 (scaled to 8 bits), bool or float in [0, 1] (scikit-image's convention).
    """
    if mode not in MODES:
        raise ValueError(f"mode must be one of {MODES}, not {mode!r}")
    label = describe(source, name)
    if isinstance(source, np.ndarray):
        return _convert_array(source, mode, max_pixels, label)
    image = open_image(source, max_pixels=max_pixels, name=name)
    return _convert_pil(image, mode, label)


def _as_stream(source: ImageSource, label: str) -> BinaryIO:
    if isinstance(source, (bytes, bytearray)):
        if not source:
            raise ImageError(f"{label}: empty image data (0 bytes)")
        return io.BytesIO(source)
    if isinstance(source, (str, os.PathLike)):
        path = Path(source)
        if not path.is_file():
            raise ImageError(f"{label}: no such image file")
        if path.stat().st_size == 0:
            raise ImageError(f"{label}: empty image file (0 bytes)")
        return io.BytesIO(path.read_bytes())
    if hasattr(source, "read"):
        return source  # an open binary stream (e.g. an upload); Pillow reports garbage
    raise ImageError(f"{label}: unsupported image source type {type(source).__name__}")


def _convert_pil(image: Image.Image, mode: str, label: str) -> np.ndarray:
    if image.mode in ("I", "I;16", "I;16B", "I;16L", "I;16N", "F"):
        # Pillow's own convert("L") clips 16-bit values at 255 (all-white frames); scale.
        return _convert_array(np.asarray(image), mode, MAX_PIXELS, label)
    if image.mode in ("RGBA", "LA", "PA") or (image.mode == "P" and "transparency" in image.info):
        # Transparent areas become white, not the arbitrary colour stored under alpha 0.
        rgba = image.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        image = Image.alpha_composite(background, rgba)
    try:
        return np.asarray(image.convert(mode), dtype=np.uint8)
    except (OSError, ValueError) as exc:
        raise ImageError(f"{label}: cannot convert {image.mode} image to {mode} ({exc})") from exc


def _convert_array(array: np.ndarray, mode: str, max_pixels: int, label: str) -> np.ndarray:
    if array.ndim == 3 and array.shape[2] == 1:
        array = array[:, :, 0]
    if array.ndim not in (2, 3) or (array.ndim == 3 and array.shape[2] not in (3, 4)):
        raise ImageError(f"{label}: expected an HxW or HxWx3/4 image array")
    height, width = array.shape[:2]
    if height == 0 or width == 0:
        raise ImageError(f"{label}: image has zero size ({width}x{height})")
    if height * width > max_pixels:
        raise ImageError(f"{label}: image is {width}x{height}, above the limit of "
                         f"{max_pixels:,} pixels")
    array = _to_uint8(array, label)
    if array.ndim == 3 and array.shape[2] == 4:
        alpha = array[:, :, 3:4].astype(np.float32) / 255.0
        array = (array[:, :, :3] * alpha + 255.0 * (1.0 - alpha)).round().astype(np.uint8)
    if mode == "RGB":
        return array if array.ndim == 3 else np.repeat(array[:, :, None], 3, axis=2)
    if array.ndim == 2:
        return array
    return np.asarray(Image.fromarray(array, "RGB").convert("L"), dtype=np.uint8)


def _to_uint8(array: np.ndarray, label: str) -> np.ndarray:
    if array.dtype == np.uint8:
        return array
    if array.dtype == bool:
        return array.astype(np.uint8) * 255
    if array.dtype == np.uint16 or (np.issubdtype(array.dtype, np.integer)
                                    and array.max(initial=0) > 255):
        return (np.clip(array, 0, 65535).astype(np.uint32) // 257).astype(np.uint8)
    if np.issubdtype(array.dtype, np.integer):
        return np.clip(array, 0, 255).astype(np.uint8)
    if np.issubdtype(array.dtype, np.floating):
        if not np.isfinite(array).all():
            raise ImageError(f"{label}: image array contains NaN or infinite values")
        # Float images follow scikit-image: [0, 1]; larger values mean a 0..255 scale.
        scale = 255.0 if array.max(initial=0.0) <= 1.0 else 1.0
        return np.clip(array * scale, 0, 255).round().astype(np.uint8)
    raise ImageError(f"{label}: unsupported image array dtype {array.dtype}")
