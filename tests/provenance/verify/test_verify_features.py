"""verify finds a released image by its local features when its marks are gone (issue 18).

A repost as it circulates: cropped to 70% of each side, mirrored, captioned, blurred until the
watermark no longer reads, re-encoded without metadata. Lookups on SQLite and PostgreSQL (the
``index_db`` fixture); the whole path (a generation through the gateway, then ``POST /v1/verify``
and ``assay verify``) in ``test_verify_api.py``.
"""

from __future__ import annotations

import io

from PIL import Image

from provenance.released_features import feature_rows, find_by_features
from provenance.testing import repost
from provenance.verify import Verifier
from provenance.watermark.image import decode_watermark


def test_a_cropped_captioned_mirrored_blurred_repost_finds_its_record(
    release, vphotos, verify_settings, index_db
) -> None:
    rels = [release(p, n=i, real_watermark=True) for i, p in enumerate(vphotos)]
    target = rels[1]
    data = repost(target.image)
    copy = Image.open(io.BytesIO(data))
    assert decode_watermark(copy, scheme=None) is None, "the blur was meant to destroy the watermark"

    report = Verifier(verify_settings, index_db).verify(data)
    assert report.c2pa.state == "absent" and not report.xmp.present and not report.watermark.detected
    assert report.record_id == target.ctx.record_id, report.summary
    best = report.records[0]
    assert [m.method for m in best.methods] == ["features"] and best.released
    hit = report.features.matches[0]
    assert hit.mirrored and hit.inliers >= 12 and hit.false_match_rate < 1e-3
    # the matched region: the copy shows ~70% of each side of the released image
    assert 0.55 <= hit.source_box[2] / target.image.width <= 0.85, hit.source_box
    assert {m.record_id for m in report.features.matches} == {target.ctx.record_id}


def test_other_photos_and_plain_images_match_nothing(release, vphotos, verify_settings, index_db) -> None:
    from skimage import data as samples

    for i, p in enumerate(vphotos[:2]):
        release(p, n=i)
    verifier = Verifier(verify_settings, index_db)
    strangers = [
        Image.fromarray(getattr(samples, n)()).convert("RGB") for n in ("camera", "horse", "moon", "page")
    ]
    plain = [Image.new("RGB", (400, 300), (250, 250, 250)), Image.linear_gradient("L").convert("RGB")]
    for img in strangers + plain:
        buf = io.BytesIO()
        img.save(buf, "PNG")
        report = verifier.verify(buf.getvalue())
        assert report.features.searched and report.features.matches == [], report.features
        assert report.record_id is None


def test_the_lookup_is_skipped_when_the_watermark_already_found_the_record(
    release, vphotos, verify_settings, index_db
) -> None:
    rel = release(vphotos[0], real_watermark=True)
    report = Verifier(verify_settings, index_db).verify(rel.data)
    assert report.record_id == rel.ctx.record_id
    assert not report.features.searched and "watermark" in (report.features.skipped or "")


def test_feature_rows_of_a_plain_image_are_none_and_its_keys_are_distinct(vphotos) -> None:
    assert feature_rows("c-0", "r", Image.new("RGB", (512, 512), (128, 128, 128))) == []
    row, keys = feature_rows("c-1", "r", vphotos[0])
    assert 100 <= row.count <= 256 and len(row.desc) == 32 * row.count and len(row.pts) == 4 * row.count
    values = [k["key"] for k in keys.values]
    assert len(values) == len(set(values)) and all(k["content_id"] == "c-1" for k in keys.values)
    assert max(values) >> 24 == 3  # four tables


def test_find_by_features_on_an_empty_index(index_db, vphotos) -> None:
    with index_db.session() as s:
        assert find_by_features(s, vphotos[0]) == []
