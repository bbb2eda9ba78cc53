"""One review end to end on the real (tiny, random-weight) diffusion model rather than the photo backend."""

from __future__ import annotations

import base64

import pytest

from tests.gateway.review.support import Keys, ledger_ok, make_held


@pytest.fixture
def db_url(tmp_path) -> str:  # noqa: ANN001 - the queue's database behaviour is covered on both elsewhere
    return f"sqlite:///{tmp_path / 'assay.db'}"


@pytest.fixture
def review_backend(tiny_backend):  # noqa: ANN001, ANN201 - the real tiny diffusers pipeline
    return tiny_backend


@pytest.mark.usefixtures("held_policy")
def test_a_generated_image_is_held_then_released_marked(client, keys: Keys, state) -> None:
    held = make_held(client, keys.h("other_requester"))
    rid = held["review_id"]
    who = keys.h("other_tenant_reviewer")
    assert client.post(f"/v1/reviews/{rid}/claim", headers=who).status_code == 200
    r = client.post(f"/v1/reviews/{rid}/approve", headers=who, json={"reason_code": "no_violation"})
    assert r.status_code == 200 and r.json()["state"] == "approved", r.text[:300]
    body = client.get(f"/v1/reviews/{rid}", headers=keys.h("other_requester")).json()
    data = base64.b64decode(body["data"][0]["b64_json"])
    gen = state.ledger.get(held["record_id"])
    assert gen.body["model"]["pipeline_class"] == "StableDiffusionPipeline"
    v = client.post(
        "/v1/verify", headers=keys.h("other_requester"), files={"image": ("x.png", data, "image/png")}
    ).json()
    assert v["record_id"] == held["record_id"] and v["c2pa"]["state"] in ("trusted", "valid")
    ledger_ok(state)
