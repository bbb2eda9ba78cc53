"""verify: every method finds the record of a released image; stripped copies still resolve; bad input is a
4xx."""

from __future__ import annotations

import io
import random
import struct
import zlib
from datetime import datetime
from types import SimpleNamespace

import pytest
from PIL import Image

from core.errors import ImageDecodeError, UnsupportedMedia
from provenance.c2pa_sign.credentials import load_credentials
from provenance.c2pa_sign.mark import C2paMark
from provenance.c2pa_sign.signer import PemFileSigner
from provenance.marks import Artifact
from provenance.released import DEFAULT_RADIUS, bands, find_by_phash, release_row, to_unsigned
from provenance.tables import ReleasedImage
from provenance.testing import jpeg_bytes as jpeg
from provenance.testing import mark_context
from provenance.verify import PublicMarks, PublicVerifyReport, Verifier, to_public


def _verifier(settings, db, decoder=None):  # noqa: ANN001, ANN202
    return Verifier(settings, db, decoder=decoder)


def test_a_released_image_is_found_by_c2pa_xmp_and_phash(release, vphotos, verify_settings, index_db):
    rel = release(vphotos[0])
    release(vphotos[1], n=1)
    report = _verifier(verify_settings, index_db).verify(rel.data)
    assert report.record_id == rel.ctx.record_id
    assert report.c2pa.state == "trusted" and report.c2pa.trusted and not report.c2pa.failures
    assert report.c2pa.ai_generated and report.xmp.ai_generated and report.ai_generated
    assert report.xmp.content_id == rel.ctx.content_id
    best = report.records[0]
    assert {m.method: m.strength for m in best.methods} == {
        "c2pa": "signed",
        "xmp": "claim",
        "phash": "similarity",
    }
    assert best.released and best.system == "assay-default (r1)" and best.tenant == "acme"
    assert len(report.records) == 1  # the other released image is not a neighbour
    assert report.phash.matches[0].distance == 0
    assert "found by c2pa (signed)" in report.summary


def test_a_stripped_recompressed_half_size_copy_still_resolves(release, vphotos, verify_settings, index_db):
    rel = release(vphotos[2], watermark="00c0ffee1234")
    release(vphotos[3], n=1, watermark="00deadbeef99")
    copy = jpeg(rel.image.resize((256, 256), Image.Resampling.BILINEAR), 75)  # no metadata survives
    seen = []

    def fake_decoder(image):  # noqa: ANN001, ANN202 - stands in for the watermark capability's decoder
        seen.append(image.size)
        return SimpleNamespace(scheme="test.wm", payload_hex="00c0ffee1234")

    report = _verifier(verify_settings, index_db, fake_decoder).verify(copy)
    assert seen == [(256, 256)]
    assert report.c2pa.state == "absent" and not report.xmp.present
    assert report.record_id == rel.ctx.record_id
    methods = {m.method for m in report.records[0].methods}
    assert methods == {"watermark", "phash"}
    assert report.watermark.detected and report.watermark.payload == "00c0ffee1234"


def test_the_real_watermark_finds_the_record_of_a_stripped_copy(release, vphotos, verify_settings, index_db):
    """Acceptance: metadata stripped, JPEG 75, 0.5x (not scaled back): the real watermark decoder
    (provenance.watermark) recovers the payload and the index maps it to the record."""
    pytest.importorskip("provenance.watermark")
    rel = release(vphotos[1], real_watermark=True, n=5)
    release(vphotos[0], real_watermark=True, n=6)
    small = rel.image.resize((256, 256), Image.Resampling.BILINEAR)
    copy = jpeg(small, 75)
    report = Verifier(verify_settings, index_db).verify(copy)  # the default decoder: provenance.watermark
    assert report.watermark.available and report.watermark.detected
    assert report.watermark.payload == rel.facts["watermark"]["payload"]
    assert report.record_id == rel.ctx.record_id
    assert "watermark" in {m.method for m in report.records[0].methods}
    assert {m.method for m in report.records[0].methods} == {"watermark", "phash"}
    assert report.c2pa.state == "absent" and not report.xmp.present


def test_a_decoder_that_crashes_is_reported_not_raised(release, vphotos, verify_settings, index_db):
    rel = release(vphotos[0])

    def broken(image):  # noqa: ANN001, ANN202
        raise RuntimeError("boom")

    report = _verifier(verify_settings, index_db, broken).verify(rel.data)
    assert report.watermark.available and not report.watermark.detected and "boom" in report.watermark.error
    assert report.record_id == rel.ctx.record_id


def test_a_forged_manifest_is_invalid_and_only_a_claim(release, vphotos, verify_settings, index_db):
    rel = release(vphotos[0], fmt="jpeg")
    forged = bytearray(rel.data)
    at = forged.find(rel.ctx.record_id.encode(), forged.find(b"record_id"))  # inside the Assay assertion
    forged[at : at + 26] = b"01JDQ3V6ZK7C3M5W0Y8N2P4R99"  # point the Assay assertion at another record
    report = _verifier(verify_settings, index_db).verify(bytes(forged))
    assert report.c2pa.state == "invalid"
    assert "assertion.hashedURI.mismatch" in {f.code for f in report.c2pa.failures}
    claimed = next(r for r in report.records if r.record_id == "01JDQ3V6ZK7C3M5W0Y8N2P4R99")
    assert claimed.strength == "claim" and not claimed.released
    assert report.record_id == rel.ctx.record_id  # the real record, through XMP and pHash
    # pixels changed after signing: the hard binding fails
    tampered = bytearray(rel.data)
    sos = tampered.rfind(b"\xff\xda")
    tampered[sos + 600] ^= 0x01
    report = _verifier(verify_settings, index_db).verify(bytes(tampered))
    assert report.c2pa.state == "invalid" and "assertion.dataHash.mismatch" in {
        f.code for f in report.c2pa.failures
    }
    # a corrupt signature box is a clear "invalid" with the reader's reason
    broken = bytearray(rel.data)
    k = broken.find(b"c2pa.signature")
    broken[k + 40] ^= 0xFF
    report = _verifier(verify_settings, index_db).verify(bytes(broken))
    assert report.c2pa.state == "invalid" and (report.c2pa.error or report.c2pa.failures)


def test_a_valid_manifest_from_someone_else_is_not_trusted(vpki, vphotos, verify_settings, index_db):
    pair, _other_ca = vpki.other_ca()
    mark = C2paMark(PemFileSigner(load_credentials(pair.chain, pair.key)))
    data = mark.apply(Artifact(image=vphotos[1], format="png"), mark_context()).data
    report = _verifier(verify_settings, index_db).verify(data)
    assert report.c2pa.state == "valid" and not report.c2pa.trusted
    assert "signingCredential.untrusted" in {f.code for f in report.c2pa.failures}
    assert report.records[0].strength == "claim" and not report.records[0].released
    assert to_public(report).id is None


@pytest.mark.parametrize(
    "make, error",
    [
        (lambda: b"", ImageDecodeError),
        (lambda: b"%PDF-1.7 definitely not an image", UnsupportedMedia),
        (lambda: jpeg(Image.new("RGB", (64, 64), (200, 10, 10)), 90)[:200], ImageDecodeError),
    ],
)
def test_bad_uploads_get_a_clear_4xx(verify_settings, index_db, make, error):
    with pytest.raises(error) as info:
        _verifier(verify_settings, index_db).verify(make())
    assert 400 <= info.value.status < 500


@pytest.mark.parametrize("fmt", ["GIF", "BMP", "TIFF"])
def test_other_image_formats_are_verified_without_c2pa_errors(verify_settings, index_db, fmt):
    buf = io.BytesIO()
    Image.new("RGB", (64, 64), (9, 90, 200)).save(buf, fmt)
    report = _verifier(verify_settings, index_db).verify(buf.getvalue())
    assert report.c2pa.state in ("absent", "unsupported") and report.record_id is None
    assert report.file.format == fmt.lower()


def test_a_decompression_bomb_is_refused_before_decoding(verify_settings, index_db):
    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    bomb = (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", struct.pack(">IIBBBBB", 8000, 8000, 8, 2, 0, 0, 0))
        + chunk(b"IDAT", zlib.compress(b"\x00" * 1000))
        + chunk(b"IEND", b"")
    )
    with pytest.raises(ImageDecodeError, match="pixels|bomb"):
        _verifier(verify_settings, index_db).verify(bomb)


def test_public_mode_reveals_provider_system_time_and_id_only(release, vphotos, verify_settings, index_db):
    rel = release(vphotos[0])
    public = to_public(_verifier(verify_settings, index_db).verify(rel.data))
    assert set(PublicVerifyReport.model_fields) == {"detected", "provider", "system", "time", "id", "marks"}
    assert set(PublicMarks.model_fields) == {
        "c2pa",
        "c2pa_signer",
        "metadata_label",
        "watermark",
        "hash_match",
        "feature_match",
    }
    assert public.detected and public.id == rel.ctx.record_id and public.provider == "AssayTest"
    assert public.system == "assay-default (r1)" and public.time == rel.ctx.created_at.replace(tzinfo=None)
    nothing = to_public(_verifier(verify_settings, index_db).verify(jpeg(Image.new("RGB", (64, 64)), 90)))
    assert nothing == PublicVerifyReport(detected=False)


def test_banded_phash_search_finds_everything_within_the_radius(index_db):
    rng = random.Random(3)
    target = rng.getrandbits(64)
    with index_db.session() as s:
        for i in range(200):
            h = rng.getrandbits(64)
            _insert(s, f"noise-{i}", h)
        for d in range(0, 9):
            flipped = target
            for bit in rng.sample(range(64), d):
                flipped ^= 1 << bit
            _insert(s, f"d{d}", flipped)
    with index_db.session() as s:
        found = {m.row.content_id: m.distance for m in find_by_phash(s, target, limit=50)}
    assert {k for k in found if k.startswith("d")} == {f"d{d}" for d in range(DEFAULT_RADIUS + 1)}
    assert all(found[f"d{d}"] == d for d in range(DEFAULT_RADIUS + 1))


def _insert(session, content_id: str, h: int) -> None:  # noqa: ANN001
    from provenance.released import to_signed

    b = bands(h)
    session.add(
        ReleasedImage(
            content_id=content_id,
            record_id="R" + content_id,
            tenant="t",
            created_at=datetime(2026, 1, 1),
            system="s",
            phash=to_signed(h),
            ph0=b[0],
            ph1=b[1],
            ph2=b[2],
            ph3=b[3],
            ph4=b[4],
            ph5=b[5],
        )
    )
    assert to_unsigned(to_signed(h)) == h


def test_flat_images_are_not_phash_matched(verify_settings, index_db):
    grey = Image.new("RGB", (128, 128), (128, 128, 128))
    with index_db.session() as s:
        s.add(release_row("R1", "C1", grey, tenant="t", created_at=datetime(2026, 1, 1), system="s"))
    report = _verifier(verify_settings, index_db).verify(
        jpeg(Image.new("RGB", (128, 128), (127, 128, 129)), 95)
    )
    assert report.phash.skipped and not report.records
