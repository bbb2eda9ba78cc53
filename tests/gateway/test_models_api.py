"""GET /v1/models: the OpenAI list shape, with the modes and adapters a caller may ask for."""

from __future__ import annotations


def test_the_catalog_lists_the_served_model_with_its_modes(client, auth, state) -> None:
    r = client.get("/v1/models", headers=auth)
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["object"] == "list" and len(body["data"]) == 1
    entry = body["data"][0]
    assert entry["object"] == "model" and entry["id"] == state.backend.info.model_id
    assert entry["assay"]["pipeline_class"] == "StableDiffusionPipeline"
    assert entry["assay"]["modes"][0] == "txt2img" and "img2img" in entry["assay"]["modes"]
    assert entry["assay"]["adapters"] == []
    one = client.get(f"/v1/models/{entry['id']}", headers=auth)
    assert one.status_code == 200 and one.json() == entry


def test_an_unknown_model_is_404_naming_what_is_served(client, auth) -> None:
    r = client.get("/v1/models/not-here", headers=auth)
    assert r.status_code == 404
    assert "not served here" in r.json()["error"]["message"]


def test_the_catalog_needs_a_key(client) -> None:
    assert client.get("/v1/models").status_code == 401
