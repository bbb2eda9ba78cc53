"""The c2pa mark: signed last, read back for real with c2pa-python's Reader."""

from __future__ import annotations

import io
import json

import c2pa
import pytest

from core.errors import SigningError
from provenance.c2pa_sign.credentials import load_credentials
from provenance.c2pa_sign.mark import C2paMark, C2paOptions
from provenance.c2pa_sign.signer import PemFileSigner
from provenance.label.embed import read_xmp
from provenance.label.metadata import MetadataLabel
from provenance.label.visible import VisibleLabel
from provenance.label.xmp import parse_packet
from provenance.ledger.bodies import WatermarkFacts
from provenance.marks import Artifact
from provenance.source_type import COMPOSITE_WITH_TRAINED_ALGORITHMIC_MEDIA, TRAINED_ALGORITHMIC_MEDIA
from provenance.testing import CallbackSigner, FailingSigner, mark_context

MEDIA = {"png": "image/png", "jpeg": "image/jpeg", "webp": "image/webp"}


@pytest.fixture(scope="module")
def signer(pki) -> PemFileSigner:  # noqa: ANN001
    pair = pki.valid("sign-tests")
    return PemFileSigner(load_credentials(pair.chain, pair.key))


@pytest.fixture(scope="module")
def mark(signer) -> C2paMark:  # noqa: ANN001
    m = C2paMark(signer, provider="AssayTest")
    m.probe()
    return m


def _read(data: bytes, fmt: str, trust_pem: str | None = None) -> tuple[str, dict, dict]:
    ctx = None
    if trust_pem:
        ctx = c2pa.Context.from_dict(
            {"trust": {"trust_anchors": trust_pem}, "verify": {"verify_trust": True}}
        )
    with c2pa.Reader(MEDIA[fmt], io.BytesIO(data), context=ctx) as r:
        store = json.loads(r.json())
        return (
            r.get_validation_state(),
            r.get_validation_results() or {},
            store["manifests"][store["active_manifest"]],
        )


def _marked(photo, mark, fmt, ctx, *, watermark=None):  # noqa: ANN001, ANN202
    art = Artifact(image=photo, format=fmt)
    art = VisibleLabel().apply(art, ctx)
    art = MetadataLabel("AssayTest").apply(art, ctx)
    if watermark is not None:
        art.facts["watermark"] = watermark
    return mark.apply(art, ctx)


@pytest.mark.parametrize("fmt", ["png", "jpeg", "webp"])
def test_signed_file_validates_with_trained_algorithmic_media_first(photo, mark, pki, fmt):
    ctx = mark_context()
    art = _marked(
        photo,
        mark,
        fmt,
        ctx,
        watermark=WatermarkFacts(
            scheme="org.assay.watermark.v1",
            payload="0a1b2c3d4e5f60",
            bits=56,
            psnr=40.0,
            weakened=False,
            masked=True,
        ).to_body(),
    )
    state, results, m = _read(art.data, fmt, pki.ca_pem.read_text())
    assert state == "Trusted"
    assert not results["activeManifest"].get("failure")
    assertions = {a["label"]: a["data"] for a in m["assertions"]}
    first = assertions["c2pa.actions.v2"]["actions"][0]
    assert first["action"] == "c2pa.created"
    assert first["digitalSourceType"] == TRAINED_ALGORITHMIC_MEDIA
    assert (
        first["softwareAgent"]["name"].startswith("Assay ")
        and "assay-default" in first["softwareAgent"]["name"]
    )
    assert first["softwareAgent"]["version"] == "r1"
    assert first["when"] == "2026-11-25T12:00:00Z"
    assert assertions["c2pa.soft-binding"]["alg"] == "org.assay.watermark.v1"
    record = assertions["org.assay.record"]
    assert record["record_id"] == ctx.record_id and record["content_id"] == ctx.content_id
    assert record["policy"] == {"id": "default", "digest": ctx.policy_digest}
    assert record["model"]["model_id"] == "assay-default" and record["model"]["seed"] == 1234
    assert record["provider"] == "AssayTest"
    assert "prompt" not in record
    # the XMP label was signed with the pixels and is still there
    props = parse_packet(read_xmp(art.data))
    assert json.loads(props["TC260:AIGC"])["ProduceID"] == ctx.content_id
    fact = art.facts["c2pa"]
    assert fact["manifest_digest"].startswith("sha256:") and fact["manifest_label"] == m["label"]
    assert fact["development_certificate"] is False


def test_edits_open_the_input_as_parent_ingredient(photo, mark):
    ctx = mark_context(edit=True, input_image=photo.resize((256, 256)))
    art = _marked(photo, mark, "png", ctx)
    state, _results, m = _read(art.data, "png")
    assert state == "Valid"
    actions = {a["label"]: a["data"] for a in m["assertions"]}["c2pa.actions.v2"]["actions"]
    assert actions[0]["action"] == "c2pa.opened"
    assert actions[0]["parameters"]["ingredients"]  # linked to the parent ingredient
    assert actions[1]["digitalSourceType"] == COMPOSITE_WITH_TRAINED_ALGORITHMIC_MEDIA
    assert [i["relationship"] for i in m["ingredients"]] == ["parentOf"]


def test_prompt_goes_in_only_when_the_policy_passes_it_and_the_mark_allows(photo, mark):
    ctx = mark_context(prompt="a red fox")
    art = _marked(photo, mark, "jpeg", ctx)
    assert {a["label"]: a["data"] for a in _read(art.data, "jpeg")[2]["assertions"]}["org.assay.record"][
        "prompt"
    ] == "a red fox"
    ctx = mark_context(prompt="a red fox", options=C2paOptions.model_validate({"prompt": "never"}))
    art = mark.apply(Artifact(image=photo, format="jpeg"), ctx)
    assert (
        "prompt"
        not in {a["label"]: a["data"] for a in _read(art.data, "jpeg")[2]["assertions"]}["org.assay.record"]
    )


def test_an_hsm_style_callback_signer_signs(photo, signer):
    hsm = CallbackSigner(signer)
    mark = C2paMark(hsm)
    art = mark.apply(Artifact(image=photo.resize((128, 128)), format="png"), mark_context())
    assert hsm.calls >= 1
    assert _read(art.data, "png")[0] == "Valid"


def test_a_failing_signer_releases_nothing(photo, signer):
    mark = C2paMark(FailingSigner(signer))
    art = Artifact(image=photo.resize((128, 128)), format="png")
    with pytest.raises(SigningError, match="C2PA signing failed"):
        mark.apply(art, mark_context())
    assert art.data is None


def test_a_certificate_that_expires_while_running_fails_each_request(photo, signer):
    import datetime as dt

    later = signer.not_after + dt.timedelta(seconds=1)
    mark = C2paMark(signer, clock=lambda: later)
    with pytest.raises(SigningError, match="expired"):
        mark.apply(Artifact(image=photo.resize((64, 64)), format="png"), mark_context())
