"""The image checks inside the gateway: an edit of a photo with a face is held for review naming the
input image; hostile uploads get a clear 4xx and nothing is generated or stored (SQLite and PostgreSQL)."""

from __future__ import annotations

import struct
import zlib

import pytest
from PIL import Image


def _png_header_only(width: int, height: int) -> bytes:
    def chunk(kind: bytes, data: bytes) -> bytes:
        return (
            struct.pack(">I", len(data))
            + kind
            + data
            + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
        )

    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0))
        + chunk(b"IDAT", zlib.compress(b"\x00" * 64))
        + chunk(b"IEND", b"")
    )


def test_edit_of_a_photo_with_a_face_is_held_for_review_naming_the_input(
    client, auth, state, photo, enc
) -> None:
    files = {"image": ("portrait.jpg", enc(photo("hopper"), "JPEG", quality=90), "image/jpeg")}
    r = client.post(
        "/v1/images/edits",
        headers=auth,
        files=files,
        data={"prompt": "paint her as an oil portrait", "size": "256x256"},
    )
    assert r.status_code == 202, r.text
    body = r.json()
    assert body["data"] == [] and body["assay"]["status"] == "held" and body["assay"]["decision"] == "review"
    assert "real_person" in body["assay"]["categories"]
    assert any("input_image[0]" in reason and "image.faces" in reason for reason in body["assay"]["reasons"])
    rec = state.ledger.get(body["assay"]["record_id"], tenant="acme")
    faces = [v for v in rec.body["verdicts"] if v["check"] == "image.faces"]
    assert faces and faces[0]["target"] == {"kind": "input_image", "index": 0}
    assert faces[0]["evidence"]["count"] == 1


@pytest.mark.parametrize(
    "name,payload,status,words",
    [
        ("bomb.png", "bomb", 400, "decompression bomb"),
        ("cut.png", "truncated", 400, "truncated"),
        ("strip.png", "strip", 400, "smaller than"),
        ("notes.png", "text", 415, "not an image"),
    ],
)
def test_hostile_uploads_get_a_clear_4xx_and_nothing_is_stored(
    client, auth, state, photo, enc, name, payload, status, words
) -> None:
    data = {
        "bomb": lambda: enc(Image.new("1", (8000, 8000)), "PNG"),
        "truncated": lambda: enc(photo("astronaut"))[:40_000],
        "strip": lambda: _png_header_only(1, 100_000),
        "text": lambda: b"Dear diary, today I uploaded a text file.\n" * 30,
    }[payload]()
    before = state.ledger.head().size
    blobs_before = sorted(p for p in state.settings.blob_dir.rglob("*") if p.is_file())
    r = client.post(
        "/v1/images/edits",
        headers=auth,
        files={"image": (name, data, "image/png")},
        data={"prompt": "x", "size": "256x256"},
    )
    assert r.status_code == status, r.text
    err = r.json()["error"]
    assert err["param"] == "image" and words in err["message"]
    for i in range(before, state.ledger.head().size):  # at most a refusal record, never an image
        rec = state.ledger.get_index(i)
        assert rec.decision == "invalid" and all(o["blob"] is None for o in rec.body["outputs"])
    assert sorted(p for p in state.settings.blob_dir.rglob("*") if p.is_file()) == blobs_before
