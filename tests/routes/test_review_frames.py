"""Frame images over HTTP: by id only, path traversal refused, ETag/304 caching, clear errors
for broken files, and the weight of a 40-frame filmstrip of a demo sequence."""

import pytest
from PIL import Image
from sqlalchemy import select

from app.models import Frame, Sequence
from app.services.importer import import_ckplus
from tests.support.ckplus import SeqSpec, frame_path, write_ckplus
from tests.support.web import login

GRAY = SeqSpec("S005", "001", frames=3, size=(640, 490), mode="L")
COLOUR = SeqSpec("S006", "001", frames=2, size=(720, 480), mode="RGB")


@pytest.fixture
def dataset(session_factory, tmp_path):
    root = write_ckplus(tmp_path / "ck", [GRAY, COLOUR])
    with session_factory() as session:
        import_ckplus(session, root=root)
        session.commit()
        frames = {path.rsplit("/", 1)[1]: fid
                  for fid, path in session.execute(select(Frame.id, Frame.path))}
    return root, frames


@pytest.fixture
def signed_in(client, make_user):
    make_user("rev1")
    login(client, "rev1")
    return client


def test_frames_come_with_etag_and_answer_304(signed_in, dataset):
    client, (_, frames) = signed_in, dataset
    fid = frames["S005_001_00000002.png"]
    for url, kind in ((f"/frames/{fid}.png", "image/png"),
                      (f"/frames/{fid}/thumb.jpg", "image/jpeg"),
                      (f"/frames/{fid}/view.jpg", "image/jpeg")):
        first = client.get(url)
        assert first.status_code == 200 and first.headers["content-type"] == kind
        assert first.headers["cache-control"].startswith("private, max-age=")
        etag = first.headers["etag"]
        again = client.get(url, headers={"If-None-Match": etag})
        assert again.status_code == 304 and again.content == b""
        assert client.get(url, headers={"If-None-Match": '"other"'}).status_code == 200


def test_grayscale_and_colour_thumbnails(signed_in, dataset, tmp_path):
    client, (_, frames) = signed_in, dataset
    for name, mode in (("S005_001_00000001.png", "L"), ("S006_001_00000001.png", "RGB")):
        out = tmp_path / f"{name}.jpg"
        out.write_bytes(client.get(f"/frames/{frames[name]}/thumb.jpg").content)
        with Image.open(out) as image:
            assert image.mode == mode


@pytest.mark.parametrize("url", [
    "/frames/..%2f..%2fetc%2fpasswd",
    "/frames/..%2f..%2fetc%2fpasswd.png",
    "/frames/1/../../x",
    "/frames/%2e%2e/%2e%2e/etc/passwd",
    "/frames/-1.png",
    "/frames/1.png%00.jpg",
    "/frames/etc/passwd/thumb.jpg",
])
def test_path_traversal_urls_find_nothing(signed_in, dataset, url):
    response = signed_in.get(url)
    assert response.status_code == 404
    assert b"root:" not in response.content


def test_a_poisoned_database_path_is_refused(signed_in, dataset, session_factory, tmp_path):
    client, (_, frames) = signed_in, dataset
    (tmp_path / "secret.png").write_bytes(b"top secret")
    fid = frames["S005_001_00000001.png"]
    with session_factory() as session:
        session.get(Frame, fid).path = "../secret.png"
        session.commit()
    for url in (f"/frames/{fid}.png", f"/frames/{fid}/thumb.jpg"):
        response = client.get(url)
        assert response.status_code == 404 and b"top secret" not in response.content
        assert "outside the dataset folder" in response.json()["detail"]


def test_missing_and_corrupt_files_are_clear_errors_not_500(signed_in, dataset):
    client, (root, frames) = signed_in, dataset
    frame_path(root, GRAY, 1).unlink()
    gone = client.get(f"/frames/{frames['S005_001_00000001.png']}/thumb.jpg")
    assert gone.status_code == 404 and "missing" in gone.json()["detail"]
    frame_path(root, GRAY, 2).write_bytes(b"not a png at all")
    for suffix in (".png", "/thumb.jpg", "/view.jpg"):
        broken = client.get(f"/frames/{frames['S005_001_00000002.png']}{suffix}")
        assert broken.status_code == 422 and "S005_001_00000002.png" in broken.json()["detail"]
    assert client.get("/frames/424242.png").status_code == 404


def test_a_40_frame_filmstrip_weighs_under_400_kb(client, make_user, session_factory,
                                                  tmp_path):
    """Measured on a generated demo sequence (640x490 grayscale, 40 frames)."""
    from app.demo import generate_demo

    demo = tmp_path / "demo"
    generate_demo(demo, subjects=1, seed=15, workers=1)  # its sequence 010 has 40 frames
    with session_factory() as session:
        import_ckplus(session, root=demo)
        session.commit()
        seq_id = session.scalar(select(Sequence.id).where(Sequence.frame_count == 40))
        frame_ids = session.scalars(select(Frame.id).where(Frame.sequence_id == seq_id)
                                    .order_by(Frame.number)).all()
    make_user("rev1")
    login(client, "rev1")
    assert len(frame_ids) == 40
    sizes = [len(client.get(f"/frames/{fid}/thumb.jpg").content) for fid in frame_ids]
    originals = sum(len(client.get(f"/frames/{fid}.png").content) for fid in frame_ids[:5])
    assert sum(sizes) < 400_000, f"filmstrip weighs {sum(sizes)} bytes"
    assert min(sizes) > 500  # real pictures, not error bodies
    assert sum(sizes[:5]) * 3 < originals  # far lighter than the PNGs it stands for
