"""training/images.py: every image that reaches face cropping is upright, 8-bit, in the
asked mode, and anything unusable is refused with ImageError naming the file."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from training.face_track import detect_each
from training.images import ImageError, load_image, open_image


def png_bytes(image: Image.Image, fmt: str = "PNG", **kwargs) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, fmt, **kwargs)
    return buffer.getvalue()


def test_corrupt_bytes_are_refused_naming_the_file(tmp_path):
    path = tmp_path / "S005_001_00000003.png"
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + b"\x00garbage" * 40)
    with pytest.raises(ImageError, match="S005_001_00000003.png"):
        load_image(path)


def test_truncated_png_is_refused(tmp_path):
    noise = np.random.default_rng(0).integers(0, 255, (120, 160), dtype=np.uint8)
    data = png_bytes(Image.fromarray(noise))
    path = tmp_path / "cut.png"
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(ImageError, match=r"cut.png: (corrupt or truncated|cannot read)"):
        load_image(path, mode="L")


def test_zero_size_and_missing_and_non_image_files(tmp_path):
    empty = tmp_path / "empty.png"
    empty.write_bytes(b"")
    with pytest.raises(ImageError, match="empty.png: empty image file"):
        load_image(empty)
    with pytest.raises(ImageError, match="nowhere.png: no such image file"):
        load_image(tmp_path / "nowhere.png")
    text = tmp_path / "readme.png"
    text.write_text("this is not a picture\n")
    with pytest.raises(ImageError, match="readme.png: not an image file"):
        load_image(text)
    with pytest.raises(ImageError, match="empty image data"):
        load_image(b"")


def test_huge_dimensions_are_refused_before_decoding(tmp_path):
    # 9000 x 6000 = 54 MP: a 1-bit PNG of it is a few kB on disk (a "decompression bomb").
    path = tmp_path / "bomb.png"
    Image.new("1", (9000, 6000)).save(path)
    assert path.stat().st_size < 200_000
    with pytest.raises(ImageError, match=r"bomb.png: image is 9000x6000 .* above the limit"):
        open_image(path)
    with pytest.raises(ImageError, match="bomb.png"):
        detect_each([path])  # what `onset crop` loads a frame with
    small = tmp_path / "small.png"
    Image.new("L", (200, 200)).save(small)
    with pytest.raises(ImageError, match="above the limit of 10,000 pixels"):
        load_image(small, max_pixels=10_000)


def test_exif_orientation_is_applied():
    # Stored 60 wide x 40 high with a white top-left corner; EXIF 6 = rotate 90 clockwise.
    stored = np.zeros((40, 60), np.uint8)
    stored[:10, :10] = 255
    exif = Image.Exif()
    exif[0x0112] = 6
    data = png_bytes(Image.fromarray(stored), "JPEG", exif=exif, quality=95)
    upright = load_image(data, mode="L")
    assert upright.shape == (60, 40)
    assert upright[:10, -10:].mean() > 200 and upright[:10, :10].mean() < 50


def test_modes_are_normalised():
    rgba = np.zeros((20, 20, 4), np.uint8)
    rgba[..., 0] = 200
    rgba[:, 10:, 3] = 255  # left half fully transparent
    out = load_image(png_bytes(Image.fromarray(rgba, "RGBA")))
    assert out.shape == (20, 20, 3)
    assert (out[:, :10] == 255).all() and (out[:, 10:] == [200, 0, 0]).all()

    la = Image.fromarray(np.dstack([np.full((8, 8), 50, np.uint8),
                                    np.full((8, 8), 255, np.uint8)]), "LA")
    assert (load_image(png_bytes(la), mode="L") == 50).all()

    palette = Image.fromarray(rgba[..., :3]).convert("P")
    assert load_image(png_bytes(palette)).shape == (20, 20, 3)

    # 16-bit: scaled to 8 bits, not clipped (Pillow's convert("L") would give all 255).
    deep = np.array([[0, 32896, 65535]], np.uint16).repeat(4, axis=0)
    out16 = load_image(png_bytes(Image.fromarray(deep)), mode="L")
    assert out16[0].tolist() == [0, 128, 255]

    gray_as_rgb = load_image(png_bytes(Image.fromarray(np.full((6, 6), 77, np.uint8))))
    assert gray_as_rgb.shape == (6, 6, 3) and (gray_as_rgb == 77).all()

    cmyk = Image.new("CMYK", (10, 10), (0, 255, 255, 0))  # pure red in CMYK
    red = load_image(png_bytes(cmyk, "JPEG", quality=95))
    assert red[..., 0].mean() > 200 and red[..., 1].mean() < 50


def test_arrays_are_normalised_and_bad_arrays_refused():
    floats = np.array([[0.0, 0.5, 1.0]])
    assert load_image(floats, mode="L").tolist() == [[0, 128, 255]]
    assert load_image(np.full((4, 4, 1), 9, np.uint8), mode="L").shape == (4, 4)
    with pytest.raises(ImageError, match="expected an HxW or HxWx3/4"):
        load_image(np.zeros((4, 4, 2), np.uint8))
    with pytest.raises(ImageError, match="zero size"):
        load_image(np.zeros((0, 4), np.uint8))
    with pytest.raises(ImageError, match="NaN"):
        load_image(np.array([[np.nan, 1.0]]))
    with pytest.raises(ValueError, match="mode must be one of"):
        load_image(floats, mode="CMYK")
