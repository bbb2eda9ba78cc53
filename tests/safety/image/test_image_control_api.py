"""A control image is an input image: a ControlNet request whose control image carries a face is held
exactly as an edit of that photo is (the same checks, categories and face evidence), and the
record names the control image (SQLite and PostgreSQL)."""

from __future__ import annotations

import base64
import hashlib
from pathlib import Path
from typing import Any

import pytest


@pytest.fixture(scope="module")
def tiny_backend(tiny_sd_folder: Path, tmp_path_factory: pytest.TempPathFactory) -> Any:
    """The session's tiny SD pipeline with a tiny canny ControlNet (this module only)."""
    from models.diffusers_backend import DiffusersBackend
    from models.tiny import save_tiny_control

    cn = save_tiny_control("controlnet", tiny_sd_folder, tmp_path_factory.mktemp("cn") / "cn-canny")
    return DiffusersBackend(str(tiny_sd_folder), default_steps=2, controls={"canny": cn})


@pytest.fixture
def settings(tmp_path: Path, db_url: str) -> Any:
    """The shipped policies with the watermark floor at 37 dB: a tiny random-weight model paints
    white noise, which needs ~37.7 dB to carry the mark (see family_policies in
    tests/models/test_families.py); the approved image here is such noise."""
    from core.settings import Settings

    repo = Path(__file__).resolve().parents[3]
    folder = tmp_path / "policies"
    folder.mkdir()
    for pack in (repo / "policies").glob("*.yaml"):
        text = pack.read_text(encoding="utf-8")
        if pack.name == "default.yaml":
            assert "\n    - watermark\n" in text, "the default policy's watermark step moved"
            text = text.replace(
                "\n    - watermark\n", "\n    - {name: watermark, options: {min_psnr: 37.0}}\n"
            )
        (folder / pack.name).write_text(text, encoding="utf-8")
    return Settings(
        data_dir=tmp_path / "data",
        database_url=db_url,
        policy_dir=folder,
        default_steps=2,
        backend_timeout_s=900,
    )


def _faces(verdicts: list[dict[str, Any]]) -> list[tuple[Any, ...]]:
    return [
        (v["check"], v["category"], v["score"], v["target"], v["evidence"]["count"])
        for v in verdicts
        if v["check"] == "image.faces"
    ]


@pytest.mark.slow
def test_a_control_image_with_a_face_is_held_as_an_edit_input_is(client, auth, state, photo, enc) -> None:
    portrait = enc(photo("hopper"), "JPEG", quality=90)
    edit = client.post(
        "/v1/images/edits",
        headers=auth,
        files={"image": ("portrait.jpg", portrait, "image/jpeg")},
        data={"prompt": "paint her as an oil portrait", "size": "256x256"},
    )
    control = client.post(
        "/v1/images/generations",
        headers=auth,
        json={
            "prompt": "paint her as an oil portrait",
            "size": "256x256",
            "control_image": base64.b64encode(portrait).decode(),
            "control_type": "canny",
            "control_strength": 0.8,
        },
    )
    assert edit.status_code == control.status_code == 202, control.text
    e, c = edit.json()["assay"], control.json()["assay"]
    assert c["status"] == e["status"] == "held" and c["decision"] == e["decision"] == "review"
    assert c["categories"] == e["categories"] and "real_person" in c["categories"]
    assert c["reasons"] == e["reasons"]  # both name input_image[0] and image.faces
    assert any("input_image[0]" in r and "image.faces" in r for r in c["reasons"])
    rec_e = state.ledger.get(e["record_id"], tenant="acme")
    rec_c = state.ledger.get(c["record_id"], tenant="acme")
    assert _faces(rec_c.body["verdicts"]) == _faces(rec_e.body["verdicts"]) != []
    inputs = [v for v in rec_e.body["verdicts"] if v["target"]["kind"] == "input_image"]
    controls = [v for v in rec_c.body["verdicts"] if v["target"]["kind"] == "input_image"]
    assert [v["check"] for v in controls] == [v["check"] for v in inputs]
    facts = rec_c.body["request"]["control"]
    assert facts["sha256"] == hashlib.sha256(portrait).hexdigest() == rec_e.body["request"]["inputs"][0]
    assert facts["control_type"] == "canny" and facts["strength"] == 0.8 and facts["input_index"] == 0
    assert rec_c.body["request"]["mode"] == "txt2img" and rec_c.body["request"]["inputs"] == []
    assert rec_c.body["model"]["pipeline_class"] == "StableDiffusionControlNetPipeline"
    assert rec_c.body["model"]["adapters"] == ["controlnet:canny:ControlNetModel strength 0.8"]
    # the reviewer sees the control image as the item's input, with its face evidence
    reviewer = _reviewer(state)
    detail = client.get(f"/v1/reviews/{c['review_id']}/detail", headers=reviewer)
    assert detail.status_code == 200, detail.text
    assert detail.json()["inputs"] == 1
    held_input = client.get(f"/v1/reviews/{c['review_id']}/inputs/0", headers=reviewer)
    assert held_input.status_code == 200
    import io

    import numpy as np
    from PIL import Image

    shown = np.asarray(Image.open(io.BytesIO(held_input.content)).convert("RGB"), float)
    assert np.array_equal(shown, np.asarray(Image.open(io.BytesIO(portrait)).convert("RGB"), float))
    # approved, the released file names the control image as an inputTo ingredient, not a parent
    assert client.post(f"/v1/reviews/{c['review_id']}/claim", headers=reviewer).status_code == 200
    ok = client.post(
        f"/v1/reviews/{c['review_id']}/approve", headers=reviewer, json={"reason_code": "no_violation"}
    )
    assert ok.status_code == 200 and ok.json()["state"] == "approved", ok.text
    released = client.get(f"/v1/reviews/{c['review_id']}", headers=auth).json()
    data = base64.b64decode(released["data"][0]["b64_json"])
    import json

    import c2pa

    with c2pa.Reader("image/png", io.BytesIO(data)) as reader:
        store = json.loads(reader.json())
    manifest = store["manifests"][store["active_manifest"]]
    assert [(i["relationship"], i["title"]) for i in manifest["ingredients"]] == [
        ("inputTo", "control-canny.png")
    ]


def _reviewer(state) -> dict[str, str]:  # noqa: ANN001
    key, _ = state.keys.create("acme", "reviewer", name="control reviewer")
    return {"Authorization": f"Bearer {key}"}


def test_an_undecodable_control_image_is_a_400_and_nothing_is_generated(client, auth, state) -> None:
    before = state.ledger.head().size
    r = client.post(
        "/v1/images/generations",
        headers=auth,
        json={
            "prompt": "x",
            "size": "256x256",
            "control_image": base64.b64encode(b"Dear diary, not an image.\n" * 30).decode(),
            "control_type": "canny",
        },
    )
    assert r.status_code == 415, r.text
    assert r.json()["error"]["param"] == "control_image"
    for i in range(before, state.ledger.head().size):  # at most a refusal record, never an image
        rec = state.ledger.get_index(i)
        assert rec.decision == "invalid" and rec.body["outputs"] == []
