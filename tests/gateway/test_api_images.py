"""The OpenAI-compatible image API: generations, edits, errors, auth, records (SQLite and PostgreSQL)."""

from __future__ import annotations

import base64
import io

import pytest
from PIL import Image

from core.errors import BackendError, StoreError


def _png(size=(64, 64), color=(200, 30, 30)) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", size, color).save(buf, format="PNG")
    return buf.getvalue()


def _decode(b64: str) -> Image.Image:
    return Image.open(io.BytesIO(base64.b64decode(b64)))


def test_generation_returns_images_and_a_record(client, auth, state) -> None:
    r = client.post(
        "/v1/images/generations",
        headers=auth,
        json={"prompt": "a red circle on a white background", "n": 2, "size": "256x256", "seed": 7},
    )
    assert r.status_code == 200, r.text
    body = r.json()
    assert len(body["data"]) == 2 and isinstance(body["created"], int)
    assert all(_decode(d["b64_json"]).size == (256, 256) for d in body["data"])
    rec = state.ledger.get(body["assay"]["record_id"], tenant="acme")
    assert rec is not None and rec.kind == "generation" and rec.decision == "allow"
    assert rec.body["model"]["seeds"] == [7, 8]
    assert rec.body["model"]["weights_digest"].startswith("sha256:")
    assert [o["sha256"] for o in rec.body["outputs"]] == [i["sha256"] for i in body["assay"]["images"]]
    assert rec.prompt == "a red circle on a white background"  # default policy stores plain text


def test_url_response_format_serves_the_released_bytes(client, auth) -> None:
    r = client.post(
        "/v1/images/generations",
        headers=auth,
        json={"prompt": "a green square", "response_format": "url", "size": "256x256"},
    )
    assert r.status_code == 200, r.text
    url = r.json()["data"][0]["url"]
    path = url.split("://", 1)[1].split("/", 1)[1]
    img = client.get("/" + path)
    assert img.status_code == 200 and img.headers["content-type"] == "image/png"
    assert Image.open(io.BytesIO(img.content)).size == (256, 256)
    assert client.get("/" + path.replace("sig=", "sig=0")).status_code == 404


def test_wrong_or_missing_key_is_401(client) -> None:
    r = client.post("/v1/images/generations", json={"prompt": "x"})
    assert r.status_code == 401 and r.json()["error"]["code"] == "invalid_api_key"
    r = client.post(
        "/v1/images/generations", headers={"Authorization": "Bearer ask_wrong"}, json={"prompt": "x"}
    )
    assert r.status_code == 401


def test_auditor_may_not_generate(client, state) -> None:
    key, _ = state.keys.create("acme", "auditor")
    r = client.post(
        "/v1/images/generations", headers={"Authorization": f"Bearer {key}"}, json={"prompt": "x"}
    )
    assert r.status_code == 403


@pytest.mark.parametrize(
    "body,param,status",
    [
        ({"prompt": "x", "model": "dall-e-3"}, "model", 404),
        ({"prompt": "x", "size": "333x333"}, "size", 400),
        ({"prompt": "x", "n": 5}, "n", 400),
        ({"prompt": "x" * 2001}, "prompt", 400),
        ({"prompt": ""}, "prompt", 400),
        ({"prompt": "a\x00b"}, "prompt", 400),
        ({"n": 1}, "prompt", 400),
    ],
)
def test_bad_input_is_a_clear_4xx_and_nothing_is_generated(client, auth, state, body, param, status) -> None:
    before = state.ledger.head().size
    r = client.post("/v1/images/generations", headers=auth, json=body)
    assert r.status_code == status, r.text
    err = r.json()["error"]
    assert err["param"] == param and err["message"]
    # invalid input is refused before generation; a refusal record may exist, never an image
    after = state.ledger.head().size
    for i in range(before, after):
        rec = state.ledger.get_index(i)
        assert rec.decision in ("invalid",) and all(o["blob"] is None for o in rec.body["outputs"])


def test_invalid_json_and_invalid_utf8_are_400(client, auth) -> None:
    r = client.post(
        "/v1/images/generations",
        headers={**auth, "content-type": "application/json"},
        content=b'{"prompt": "\xff\xfe"}',
    )
    assert r.status_code == 400
    r = client.post(
        "/v1/images/generations", headers={**auth, "content-type": "application/json"}, content=b"{"
    )
    assert r.status_code == 400


def test_edit_with_image_and_mask(client, auth, state) -> None:
    files = {
        "image": ("in.png", _png(), "image/png"),
        "mask": ("mask.png", _png(color=(255, 255, 255)), "image/png"),
    }
    r = client.post(
        "/v1/images/edits",
        headers=auth,
        files=files,
        data={"prompt": "make it blue", "size": "256x256", "n": "1"},
    )
    assert r.status_code == 200, r.text
    rec = state.ledger.get(r.json()["assay"]["record_id"])
    assert rec.body["request"]["mode"] == "inpaint" and len(rec.body["request"]["inputs"]) == 1
    assert rec.body["model"]["pipeline_class"] == "StableDiffusionInpaintPipeline"
    r = client.post(
        "/v1/images/edits",
        headers=auth,
        files={"image": ("in.png", _png(), "image/png")},
        data={"prompt": "img2img", "size": "256x256"},
    )
    assert r.status_code == 200, r.text


@pytest.mark.parametrize(
    "payload,status",
    [
        (b"this is not an image at all", 415),
        (_png()[:60], 400),  # truncated
    ],
)
def test_edit_rejects_non_images(client, auth, payload, status) -> None:
    r = client.post(
        "/v1/images/edits",
        headers=auth,
        files={"image": ("x.png", payload, "image/png")},
        data={"prompt": "x", "size": "256x256"},
    )
    assert r.status_code == status, r.text
    assert r.json()["error"]["param"] == "image"


def test_oversize_upload_is_413(client, auth, state) -> None:
    big = b"\x89PNG" + b"0" * (state.settings.max_body_bytes + 10)
    r = client.post(
        "/v1/images/edits", headers=auth, files={"image": ("x.png", big, "image/png")}, data={"prompt": "x"}
    )
    assert r.status_code == 413


# --- fail closed ---------------------------------------------------------------------------------
class _Exploding:
    name = "test.exploding"
    targets = frozenset({"prompt", "output_image"})

    def run(self, item):  # noqa: ANN001, ANN201
        raise RuntimeError("detector crashed")


def _use_policy_with_check(state, check_name: str) -> None:
    from gateway.policy import Policy

    base = state.policies.get("default").model_dump()
    base.update(id="faulty", checks={"prompt": [], "input_image": [], "output_image": [{"name": check_name}]})
    state.policies.add(Policy.model_validate(base))
    state.keys.ensure_tenant("acme", "faulty")
    state.keys.set_policy("acme", "faulty")


def test_failing_check_releases_nothing_and_is_recorded(client, auth, state) -> None:
    state.checks.add(_Exploding())
    _use_policy_with_check(state, "test.exploding")
    r = client.post("/v1/images/generations", headers=auth, json={"prompt": "x", "size": "256x256"})
    assert r.status_code == 503 and "data" not in r.json()
    assert r.json()["error"]["code"] == "check_failed"
    rec = state.ledger.get(r.json()["assay"]["record_id"])
    assert rec.decision == "failed" and rec.body["error"]["stage"] == "output_checks"
    assert all(o["blob"] is None and o["sha256"] is None for o in rec.body["outputs"])


def test_failing_backend_releases_nothing_and_is_recorded(client, auth, state, monkeypatch) -> None:
    def boom(_req):  # noqa: ANN001, ANN202
        raise BackendError("GPU fell over")

    monkeypatch.setattr(state.backend, "generate", boom)
    r = client.post("/v1/images/generations", headers=auth, json={"prompt": "x", "size": "256x256"})
    assert r.status_code == 502 and r.json()["error"]["code"] == "backend_error"
    rec = state.ledger.get(r.json()["assay"]["record_id"])
    assert rec.decision == "failed" and rec.body["error"]["stage"] == "backend"


def test_failing_store_releases_nothing(client, auth, state, monkeypatch) -> None:
    def down(*_a, **_k):  # noqa: ANN002, ANN003, ANN202
        raise StoreError("database unreachable")

    monkeypatch.setattr(state.ledger, "append", down)
    r = client.post("/v1/images/generations", headers=auth, json={"prompt": "x", "size": "256x256"})
    assert r.status_code == 503 and r.json()["error"]["code"] == "store_unavailable"
    assert "data" not in r.json()


def test_health_ready_metrics(client, auth) -> None:
    assert client.get("/healthz").json() == {"status": "ok"}
    ready = client.get("/readyz").json()
    assert ready["components"]["store"] == "ok" and ready["components"]["model"] == "ok"
    client.post("/v1/images/generations", headers=auth, json={"prompt": "x", "size": "256x256"})
    m = client.get("/metrics").text
    assert "assay_stage_seconds_bucket" in m and 'assay_decisions_total{status="allow"}' not in m
    assert 'assay_decisions_total{status="released"}' in m


def test_a_control_image_for_a_model_without_control_is_a_400_not_ignored(client, auth, state) -> None:
    for transport in ("json", "multipart"):
        if transport == "json":
            r = client.post(
                "/v1/images/generations",
                headers=auth,
                json={
                    "prompt": "a red circle",
                    "size": "256x256",
                    "control_image": base64.b64encode(_png()).decode(),
                    "control_type": "canny",
                },
            )
        else:
            r = client.post(
                "/v1/images/generations",
                headers=auth,
                files={"control_image": ("c.png", _png(), "image/png")},
                data={"prompt": "a red circle", "size": "256x256", "control_type": "canny"},
            )
        assert r.status_code == 400, r.text
        err = r.json()["error"]
        assert err["param"] == "control_type" and "has no canny control" in err["message"]


def test_multipart_generation_fields_are_validated_like_json(client, auth) -> None:
    r = client.post(
        "/v1/images/generations",
        headers=auth,
        files={"control_image": ("c.png", _png(), "image/png")},
        data={"prompt": "a", "n": "99"},
    )
    assert r.status_code == 400, r.text
    assert r.json()["error"]["param"] == "n"
