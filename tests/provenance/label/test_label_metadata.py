"""The metadata label: TC260:AIGC (GB 45438 Annex E) and the IPTC source type, in PNG, JPEG and WebP."""

from __future__ import annotations

import io
import json
from types import SimpleNamespace

import pytest
from PIL import Image
from pydantic import ValidationError

from core.errors import ConfigError
from provenance.label.embed import encode_image, read_xmp
from provenance.label.metadata import MetadataLabel, MetadataLabelOptions, build
from provenance.label.xmp import Tc260Aigc, XmpError, build_packet, parse_packet
from provenance.marks import Artifact
from provenance.source_type import COMPOSITE_WITH_TRAINED_ALGORITHMIC_MEDIA, TRAINED_ALGORITHMIC_MEDIA
from provenance.testing import mark_context

AIGC_KEYS = [
    "Label",
    "ContentProducer",
    "ProduceID",
    "ReservedCode1",
    "ContentPropagator",
    "PropagateID",
    "ReservedCode2",
]


def _settings(**kw):
    return SimpleNamespace(provider_name=kw.get("name", "Assay"), provider_code=kw.get("code"))


@pytest.mark.parametrize("fmt", ["png", "jpeg", "webp"])
def test_xmp_label_is_written_into_the_file_and_reads_back(photos, fmt):
    mark = build(_settings(code="001191110102MACQD9K64010000"))
    ctx = mark_context()
    art = mark.apply(Artifact(image=photos["coffee"], format=fmt), ctx)
    data = art.encode()
    assert Image.open(io.BytesIO(data)).format == {"png": "PNG", "jpeg": "JPEG", "webp": "WEBP"}[fmt]
    raw = read_xmp(data)
    assert raw is not None
    # Pillow finds it where the format keeps XMP, too (PNG iTXt, JPEG APP1, WebP "XMP " chunk)
    assert Image.open(io.BytesIO(data)).info["xmp"] == raw
    props = parse_packet(raw)
    aigc = json.loads(props["TC260:AIGC"])
    assert list(aigc) == AIGC_KEYS
    assert aigc["Label"] == "1"
    assert aigc["ContentProducer"] == "001191110102MACQD9K64010000"
    assert aigc["ProduceID"] == ctx.content_id
    assert aigc["ContentPropagator"] == "" and aigc["PropagateID"] == ""
    assert props["Iptc4xmpExt:DigitalSourceType"] == TRAINED_ALGORITHMIC_MEDIA
    assert (
        b"http://www.tc260.org.cn/ns/AIGC/1.0/" in raw
        and b"http://iptc.org/std/Iptc4xmpExt/2008-02-29/" in raw
    )


def test_edits_are_composite_and_propagation_can_repeat_the_producer(photos):
    art = MetadataLabel("AssayCo").apply(
        Artifact(image=photos["astronaut"]),
        mark_context(edit=True, options=MetadataLabelOptions.model_validate({"propagation": "same"})),
    )
    assert art.xmp["Iptc4xmpExt:DigitalSourceType"] == COMPOSITE_WITH_TRAINED_ALGORITHMIC_MEDIA
    aigc = json.loads(art.xmp["TC260:AIGC"])
    assert aigc["ContentPropagator"] == "AssayCo" and aigc["PropagateID"] == aigc["ProduceID"]
    assert art.facts["label.metadata"]["digital_source_type"] == COMPOSITE_WITH_TRAINED_ALGORITHMIC_MEDIA


def test_the_json_is_compact_and_in_annex_e_order():
    text = Tc260Aigc(ContentProducer="Assay", ProduceID="X1").validate().to_json()
    assert text == (
        '{"Label":"1","ContentProducer":"Assay","ProduceID":"X1","ReservedCode1":"",'
        '"ContentPropagator":"","PropagateID":"","ReservedCode2":""}'
    )
    assert Tc260Aigc.from_json('{"AIGC":' + text + "}") == Tc260Aigc.from_json(text)


def test_a_producer_annex_e_forbids_is_refused_at_start_up():
    with pytest.raises(ConfigError, match="ASSAY_PROVIDER_NAME"):
        build(_settings(name="Example Corp"))
    with pytest.raises(ConfigError, match="ASSAY_PROVIDER_CODE"):
        build(_settings(code='bad"code'))
    with pytest.raises(ValidationError, match="producer"):  # a policy naming it is refused at load
        MetadataLabelOptions.model_validate({"producer": "has space"})


def test_unknown_prefixes_and_hostile_packets_are_refused():
    with pytest.raises(XmpError, match="namespace"):
        build_packet({"nope:Thing": "x"})
    with pytest.raises(XmpError, match="DOCTYPE"):
        parse_packet('<!DOCTYPE x [<!ENTITY a "aaaa">]><x:xmpmeta xmlns:x="adobe:ns:meta/"/>')
    with pytest.raises(XmpError, match="malformed"):
        parse_packet("<x:xmpmeta xmlns:x='adobe:ns:meta/'><rdf:RDF></x:xmpmeta>")
    # values with markup characters round-trip escaped
    props = parse_packet(build_packet({"dc:title": '<a & "b">'}))
    assert props["dc:title"] == '<a & "b">'


@pytest.mark.parametrize("fmt", ["png", "jpeg", "webp"])
def test_read_xmp_survives_truncation_and_garbage(fmt):
    data = encode_image(Image.new("RGB", (64, 64), (10, 20, 30)), fmt, build_packet({"dc:title": "t"}))
    for cut in (5, 20, 60, len(data) // 2):
        read_xmp(data[:cut])  # never raises
    assert read_xmp(b"\x89PNG\r\n\x1a\n" + b"\xff" * 40) is None
    assert read_xmp(b"not an image at all") is None
    assert read_xmp(encode_image(Image.new("RGB", (64, 64)), fmt)) is None
