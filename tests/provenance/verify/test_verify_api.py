"""POST /v1/verify and `assay verify`: a gateway image (and an edited copy) verifies; bad uploads are 4xx."""

from __future__ import annotations

import base64
import dataclasses
import io
import json
from pathlib import Path

import pytest
from PIL import Image

from provenance.marks import Artifact
from provenance.released import release_row, system_name
from provenance.tables import ReleasedImage
from provenance.testing import mark_context
from provenance.watermark.mark import WatermarkOptions


@pytest.fixture
def db_url(tmp_path) -> str:  # noqa: ANN001
    """SQLite only here: the lookups run on PostgreSQL too in test_verify_lookup.py, and each gateway
    built for these tests loads the policy's checks, which takes tens of seconds."""
    return f"sqlite:///{tmp_path / 'assay.db'}"


@pytest.fixture
def settings(tmp_path, db_url):  # noqa: ANN001, ANN201
    """The repository's policy packs with their content checks switched off: these tests are about
    the marks and verify, and loading every check's model would take most of a minute."""
    import yaml

    from core.settings import Settings

    repo = Path(__file__).resolve().parents[3] / "policies"
    folder = tmp_path / "policies"
    folder.mkdir()
    for f in repo.glob("*.yaml"):
        pack = yaml.safe_load(f.read_text(encoding="utf-8"))
        pack["checks"] = {"prompt": [], "input_image": [], "output_image": []}
        (folder / f.name).write_text(yaml.safe_dump(pack, allow_unicode=True), encoding="utf-8")
    return Settings(data_dir=tmp_path / "data", database_url=db_url, policy_dir=folder, default_steps=2)


@pytest.fixture
def with_index(state):  # noqa: ANN001, ANN201
    # until the lead's Alembic revision includes released_images, create it for these tests
    ReleasedImage.metadata.create_all(state.db.engine, tables=[ReleasedImage.__table__], checkfirst=True)
    return state


def _marked(
    state, fmt="png", size=256, marks=("label.visible", "label.metadata", "c2pa"), options=None
) -> tuple[bytes, str]:  # noqa: ANN001
    """An image marked by the gateway's own marks (the default policy's), without running a model."""
    from skimage import data as samples

    ctx = mark_context()
    art = Artifact(image=Image.fromarray(samples.coffee()).resize((size, size)), format=fmt)
    for name in marks:
        art = state.marks.get(name).apply(art, dataclasses.replace(ctx, options=(options or {}).get(name)))
    with state.db.session() as s:
        s.add(
            release_row(
                ctx.record_id,
                ctx.content_id,
                art.image,
                tenant="acme",
                created_at=ctx.created_at,
                system=system_name(ctx.model),
                watermark=(art.facts.get("watermark") or {}).get("payload"),
            )
        )
    return art.data, ctx.record_id


def _generate(client, auth, fmt="png", size="256x256") -> tuple[bytes, str]:  # noqa: ANN001
    r = client.post(
        "/v1/images/generations",
        headers=auth,
        json={"prompt": "a red circle", "size": size, "seed": 3, "output_format": fmt},
    )
    assert r.status_code == 200, r.text
    body = r.json()
    return base64.b64decode(body["data"][0]["b64_json"]), body["assay"]["record_id"]


def test_a_generated_image_verifies_with_its_record(client, auth, with_index) -> None:
    data, record_id = _generate(client, auth)
    r = client.post("/v1/verify", headers=auth, files={"image": ("x.png", data, "image/png")})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["c2pa"]["state"] == "trusted" and body["c2pa"]["ai_generated"]
    assert (
        "http://cv.iptc.org/newscodes/digitalsourcetype/trainedAlgorithmicMedia"
        in body["c2pa"]["digital_source_types"]
    )
    assert body["record_id"] == record_id
    assert body["records"][0]["in_ledger"] is True
    assert body["summary"].startswith(f"record {record_id}")
    # every mark of the default policy is in the released file
    assert body["xmp"]["tc260"]["Label"] == "1" and body["xmp"]["tc260"]["ProduceID"].startswith(record_id)
    assert body["xmp"]["digital_source_type"].endswith("/trainedAlgorithmicMedia")
    assert body["watermark"]["detected"] and body["c2pa"]["watermark_payload"] == body["watermark"]["payload"]
    fact = with_index.ledger.get(record_id).body["outputs"][0]["marks"]
    assert fact["label.visible"]["glyph_ratio"] >= 0.05 and fact["c2pa"]["manifest_digest"].startswith(
        "sha256:"
    )


def test_a_cropped_rotated_framed_recompressed_copy_still_finds_its_record(
    client, auth, with_index, tmp_path, monkeypatch
) -> None:
    """The copies that circulate: a crop, turned a little, framed like a screenshot, recompressed,
    with no manifest left. The geometric watermark (assay-wm2, a policy's choice) still leads to the
    record, through the API and through `assay verify`, which say what was undone."""
    import cv2
    import numpy as np
    from typer.testing import CliRunner

    from gateway.cli.main import app

    data, record_id = _marked(
        with_index,
        size=512,
        marks=("label.visible", "label.metadata", "watermark", "c2pa"),
        options={"watermark": WatermarkOptions(scheme="assay-wm2")},
    )
    released = client.post("/v1/verify", headers=auth, files={"image": ("x.png", data, "image/png")}).json()
    assert released["c2pa"]["watermark_alg"] == "assay-wm2"  # the soft binding names the scheme
    assert released["c2pa"]["watermark_payload"] == released["watermark"]["payload"]
    a = np.asarray(Image.open(io.BytesIO(data)).convert("RGB"))
    a = a[40:472, 30:462]  # a crop keeping ~84% of each side, off centre
    m = cv2.getRotationMatrix2D((a.shape[1] / 2, a.shape[0] / 2), 4.0, 1.0)
    a = cv2.warpAffine(a, m, (a.shape[1], a.shape[0]), borderMode=cv2.BORDER_REFLECT)
    a = cv2.copyMakeBorder(a, 60, 60, 40, 40, cv2.BORDER_CONSTANT, value=(255, 255, 255))
    buf = io.BytesIO()
    Image.fromarray(a).save(buf, "JPEG", quality=85)
    r = client.post("/v1/verify", headers=auth, files={"image": ("copy.jpg", buf.getvalue(), "image/jpeg")})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["c2pa"]["state"] != "trusted"  # the manifest did not survive the edit
    assert body["watermark"]["detected"] and body["watermark"]["algorithm"] == "assay-wm2"
    said = body["watermark"]["transform"]
    angle = float(said.split("rotate ")[1].split("°")[0])
    assert 3.5 <= angle <= 4.5, said
    assert body["record_id"] == record_id
    assert any(m["method"] == "watermark" for m in body["records"][0]["methods"])
    path = tmp_path / "copy.jpg"
    path.write_bytes(buf.getvalue())
    s = with_index.settings
    monkeypatch.setenv("ASSAY_DATA_DIR", str(s.data_dir))
    monkeypatch.setenv("ASSAY_DATABASE_URL", s.db_url)
    monkeypatch.setenv("ASSAY_POLICY_DIR", str(s.policy_dir))
    res = CliRunner().invoke(app, ["verify", str(path)])
    assert res.exit_code == 0, res.output
    assert f"record {record_id}" in res.output and "rotate 4" in res.output, res.output


@pytest.mark.parametrize(
    "payload", [b"", b"GIF89a-not-really", b"hello world", b"\x89PNG\r\n\x1a\n" + b"\0" * 64]
)
def test_bad_uploads_are_4xx(client, auth, with_index, payload) -> None:
    r = client.post(
        "/v1/verify", headers=auth, files={"image": ("x.bin", payload, "application/octet-stream")}
    )
    assert r.status_code in (400, 415), r.text
    assert r.json()["error"]["code"] in ("invalid_image", "unsupported_media")


def test_truncated_and_missing_uploads_are_4xx(client, auth, with_index) -> None:
    buf = io.BytesIO()
    Image.new("RGB", (128, 128), (1, 2, 3)).save(buf, "PNG")
    r = client.post("/v1/verify", headers=auth, files={"image": ("x.png", buf.getvalue()[:120], "image/png")})
    assert r.status_code == 400 and r.json()["error"]["code"] == "invalid_image"
    r = client.post("/v1/verify", headers=auth, data={"note": "no file"})
    assert r.status_code == 400 and r.json()["error"]["param"] == "image"
    r = client.post("/v1/verify", headers=auth, content=b"raw")
    assert r.status_code == 400


def test_verify_needs_a_key_unless_public_mode(client, auth, with_index) -> None:
    data, record_id = _marked(with_index)
    r = client.post("/v1/verify", files={"image": ("x.png", data, "image/png")})
    assert r.status_code == 401
    with_index.settings.public_verify = True
    try:
        r = client.post("/v1/verify", files={"image": ("x.png", data, "image/png")})
    finally:
        with_index.settings.public_verify = False
    assert r.status_code == 200, r.text
    assert set(r.json()) == {"detected", "provider", "system", "time", "id", "marks"}
    assert r.json()["marks"] == {
        "c2pa": "trusted",
        "c2pa_signer": r.json()["marks"]["c2pa_signer"],
        "metadata_label": True,
        "watermark": False,  # _marked applies no watermark
        "hash_match": True,
        "feature_match": False,  # a trusted manifest found the record: no feature lookup
    }
    assert r.json()["marks"]["c2pa_signer"]
    assert r.json()["id"] == record_id and r.json()["system"] == "assay-default (r1)"
    assert "acme" not in r.text and "01JDQ3V6ZK7C3M5W0Y8N2P4R6T-0" not in r.text


def test_other_tenants_see_the_record_but_not_its_tenant(client, auth, with_index) -> None:
    data, record_id = _marked(with_index)
    own = client.post("/v1/verify", headers=auth, files={"image": ("x.png", data, "image/png")}).json()
    assert own["records"][0]["tenant"] == "acme" and own["record_id"] == record_id
    other_key, _ = with_index.keys.create("globex", "requester", name="other tenant")
    other = client.post(
        "/v1/verify",
        headers={"Authorization": f"Bearer {other_key}"},
        files={"image": ("x.png", data, "image/png")},
    ).json()
    assert other["record_id"] == record_id and other["records"][0]["tenant"] is None
    auditor_key, _ = with_index.keys.create("globex", "auditor", name="auditor")
    audit = client.post(
        "/v1/verify",
        headers={"Authorization": f"Bearer {auditor_key}"},
        files={"image": ("x.png", data, "image/png")},
    ).json()
    assert audit["records"][0]["tenant"] == "acme"


def test_the_cli_prints_the_record_id(client, auth, with_index, tmp_path, monkeypatch) -> None:
    from typer.testing import CliRunner

    from gateway.cli.main import app

    data, record_id = _marked(with_index, fmt="jpeg")
    path = tmp_path / "x.jpg"
    path.write_bytes(data)
    s = with_index.settings
    monkeypatch.setenv("ASSAY_DATA_DIR", str(s.data_dir))
    monkeypatch.setenv("ASSAY_DATABASE_URL", s.db_url)
    monkeypatch.setenv("ASSAY_POLICY_DIR", str(s.policy_dir))
    runner = CliRunner()
    res = runner.invoke(app, ["verify", str(path)])
    assert res.exit_code == 0, res.output
    assert f"record {record_id}" in res.output and "C2PA: trusted" in res.output
    res = runner.invoke(app, ["verify", str(path), "--json"])
    assert res.exit_code == 0 and json.loads(res.output)["record_id"] == record_id
    (tmp_path / "bad.jpg").write_bytes(b"nope")
    res = runner.invoke(app, ["verify", str(tmp_path / "bad.jpg")])
    assert res.exit_code == 2 and "not an image" in res.output


@pytest.fixture
def photo_gateway(settings):  # noqa: ANN001, ANN201
    """The gateway on a photo backend: the tiny diffusion model paints noise, which no blurred
    copy keeps any keypoints of; a photo is what a repost of a real output looks like."""
    from fastapi.testclient import TestClient

    from gateway.app import create_app
    from gateway.state import AppState
    from models.testing import PhotoBackend

    st = AppState(settings, backend=PhotoBackend(photos=("coffee", "chelsea")))
    key, _ = st.keys.create("acme", "requester", name="verify-features")
    try:
        with TestClient(create_app(state=st)) as c:
            yield c, st, {"Authorization": f"Bearer {key}"}
    finally:
        st.close()


def test_a_stripped_repost_with_its_watermark_blurred_away_finds_its_record(
    photo_gateway, tmp_path, monkeypatch
) -> None:
    """Issue 18: a cropped (70% of each side), captioned and mirrored copy of a released image,
    stripped of metadata, its watermark destroyed by blur, gets its record id from `POST
    /v1/verify` and `assay verify`, through the local features recorded at release."""
    from typer.testing import CliRunner

    from gateway.cli.main import app
    from provenance.testing import repost
    from provenance.watermark.image import decode_watermark

    client, state, auth = photo_gateway
    released = []
    for seed in (1, 2, 3):
        r = client.post(
            "/v1/images/generations", headers=auth, json={"prompt": "a cat", "size": "512x512", "seed": seed}
        )
        assert r.status_code == 200, r.text
        released.append((base64.b64decode(r.json()["data"][0]["b64_json"]), r.json()["assay"]["record_id"]))
    data, record_id = released[1]
    copy = repost(Image.open(io.BytesIO(data)))
    assert decode_watermark(Image.open(io.BytesIO(copy)), scheme=None) is None

    r = client.post("/v1/verify", headers=auth, files={"image": ("repost.jpg", copy, "image/jpeg")})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["c2pa"]["state"] == "absent" and not body["watermark"]["detected"]
    assert body["record_id"] == record_id, body["summary"]
    assert body["records"][0]["methods"][0]["method"] == "features" and body["records"][0]["in_ledger"]
    assert body["features"]["matches"][0]["mirrored"] is True

    path = tmp_path / "repost.jpg"
    path.write_bytes(copy)
    s = state.settings
    monkeypatch.setenv("ASSAY_DATA_DIR", str(s.data_dir))
    monkeypatch.setenv("ASSAY_DATABASE_URL", s.db_url)
    monkeypatch.setenv("ASSAY_POLICY_DIR", str(s.policy_dir))
    res = CliRunner().invoke(app, ["verify", str(path), "--json"])
    assert res.exit_code == 0, res.output
    assert json.loads(res.output)["record_id"] == record_id
