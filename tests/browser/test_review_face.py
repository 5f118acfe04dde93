"""The face view in a real browser: nothing fetched until F, then the box and eye points of
the current frame drawn over the frame where CK+'s landmark file puts the face, the aligned
crop beside it, the box following the scrubber, neighbours prefetched, and MTCNN on
request."""

from pathlib import Path

import numpy as np
import pytest
from sqlalchemy import select

from app.models import DatasetSource, Frame, Sequence, Subject

pytestmark = pytest.mark.browser


def _landmark_box(site, frame_id: int) -> tuple[float, float, float, float]:
    """The face box straight from the frame's landmark file (independent of the app)."""
    with site.session_factory() as session:
        relative = session.scalar(select(Frame.landmarks_path).where(Frame.id == frame_id))
        root = Path(session.scalar(select(DatasetSource.root)))
    points = np.loadtxt(root / relative)
    (x1, y1), (x2, y2) = points.min(axis=0), points.max(axis=0)
    return x1, y1, x2 - x1, y2 - y1


def _drawn_box(page) -> tuple[float, float, float, float]:
    rect = page.locator("#face-svg rect.face-box")
    return tuple(float(rect.get_attribute(name)) for name in ("x", "y", "width", "height"))


def _iou(a, b) -> float:
    iw = max(0.0, min(a[0] + a[2], b[0] + b[2]) - max(a[0], b[0]))
    ih = max(0.0, min(a[1] + a[3], b[1] + b[3]) - max(a[1], b[1]))
    return iw * ih / (a[2] * a[3] + b[2] * b[3] - iw * ih)


def _current_frame_id(page) -> int:
    number = int(page.inner_text("#frame-no"))
    return page.evaluate(f"window.OnsetReview.frames.find((f) => f.number === {number}).id")


def _wait_for_box_of(page, frame_id: int, source_label: str, timeout: float = 10_000) -> None:
    page.wait_for_function(
        """([id, label]) => {
            const layer = document.getElementById('face-layer');
            const shown = window.OnsetReview.frames[window.OnsetReview.current()].id === id;
            return shown && !layer.hidden && !layer.classList.contains('stale')
                && document.getElementById('face-label').textContent.startsWith(label);
        }""", arg=[frame_id, source_label], timeout=timeout)


def test_face_view_draws_the_box_on_the_face_and_the_crop(open_page, site, shoot):
    with site.session_factory() as session:
        sequence_id = session.scalars(
            select(Sequence.id).join(Subject).order_by(Subject.code, Sequence.code)).all()[0]
        width, height = session.execute(select(Frame.width, Frame.height).where(
            Frame.sequence_id == sequence_id)).first()
    page = open_page("rev2")
    face_requests: list[str] = []
    page.on("request", lambda r: face_requests.append(r.url) if "/face.json" in r.url else None)
    page.goto(f"/sequences/{sequence_id}")
    page.wait_for_selector("body[data-review-ready][data-face-ready]")
    assert page.is_hidden("#face-side") and page.is_hidden("#face-layer")
    page.wait_for_timeout(300)
    assert face_requests == []  # off: the page costs the server no face work

    page.keyboard.press("f")
    frame_id = _current_frame_id(page)
    _wait_for_box_of(page, frame_id, "landmarks")
    page.wait_for_function("() => document.getElementById('face-crop').naturalWidth === 160")
    assert page.get_attribute("#face-toggle", "aria-pressed") == "true"

    # The box is the landmark file's box, in frame pixels ...
    expected = _landmark_box(site, frame_id)
    assert np.allclose(_drawn_box(page), expected, atol=0.2)
    assert page.locator("#face-svg circle.face-eye").count() == 2
    # ... and on screen it lies over the picture at the same place.
    image = page.locator("#frame-main").bounding_box()
    drawn = page.locator("#face-svg rect.face-box").bounding_box()
    scale = image["width"] / width
    assert abs(image["height"] / height - scale) < 0.01
    assert abs(drawn["x"] - (image["x"] + expected[0] * scale)) < 4
    assert abs(drawn["y"] - (image["y"] + expected[1] * scale)) < 4
    assert abs(drawn["width"] - expected[2] * scale) < 6
    for name in ("left", "right"):  # each eye dot inside the box on screen
        eye = page.locator("#face-svg circle.face-eye").nth(0 if name == "left" else 1)
        box = eye.bounding_box()
        cx, cy = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
        assert drawn["x"] < cx < drawn["x"] + drawn["width"]
        assert drawn["y"] < cy < drawn["y"] + drawn["height"]
    assert "landmarks" in page.inner_text("#face-facts")
    assert page.is_checked("#face-side input[value=landmarks]")

    # The neighbours were prefetched, so scrubbing back draws the next box from memory.
    page.wait_for_function("() => performance.getEntriesByType('resource')"
                           ".filter((e) => e.name.includes('/face.json')).length >= 3")
    page.keyboard.press("ArrowLeft")
    previous = _current_frame_id(page)
    assert previous != frame_id
    _wait_for_box_of(page, previous, "landmarks")
    assert np.allclose(_drawn_box(page), _landmark_box(site, previous), atol=0.2)
    shoot(page, "review-face", full_page=False)

    # MTCNN on request: it runs once over the sequence and finds the same face.
    page.click("#face-side label:has(input[value=mtcnn])")
    _wait_for_box_of(page, previous, "MTCNN", timeout=150_000)
    assert _iou(_drawn_box(page), _landmark_box(site, previous)) > 0.4
    page.wait_for_function("() => document.getElementById('face-crop').naturalWidth === 160")
    shoot(page, "review-face-mtcnn", full_page=False)

    page.keyboard.press("?")
    assert "face view" in page.inner_text("#help")
    page.keyboard.press("Escape")
    page.keyboard.press("f")
    assert page.is_hidden("#face-side") and page.is_hidden("#face-layer")
