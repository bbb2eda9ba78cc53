"""XMP packets: building the one Assay writes and reading the ones it is shown.

Why by hand: the packet Assay writes is small and fixed (a handful of simple properties), and
no maintained Python library writes XMP without a native toolkit (python-xmp-toolkit needs
Exempi). Reading is defensive because `verify` parses XMP from untrusted uploads: packets are
size-capped, DOCTYPEs (the door to entity expansion) are refused, and any parse failure is a
:class:`XmpError` the caller reports, never a crash.

Properties are addressed by qualified name (``TC260:AIGC``, ``Iptc4xmpExt:DigitalSourceType``),
the same keys :class:`provenance.marks.Artifact` keeps in ``xmp``.
"""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from collections.abc import Mapping
from dataclasses import dataclass
from xml.sax.saxutils import escape

from core.errors import AssayError

NAMESPACES: dict[str, str] = {
    "TC260": "http://www.tc260.org.cn/ns/AIGC/1.0/",
    "Iptc4xmpExt": "http://iptc.org/std/Iptc4xmpExt/2008-02-29/",
    "dc": "http://purl.org/dc/elements/1.1/",
    "xmp": "http://ns.adobe.com/xap/1.0/",
    "xmpMM": "http://ns.adobe.com/xap/1.0/mm/",
    "dcterms": "http://purl.org/dc/terms/",
}
_PREFIX_OF = {uri: prefix for prefix, uri in NAMESPACES.items()}
RDF = "http://www.w3.org/1999/02/22-rdf-syntax-ns#"
X = "adobe:ns:meta/"

#: XMP larger than this is not parsed (a real label packet is under 2 kB)
MAX_XMP_BYTES = 1 << 20

TC260_AIGC = "TC260:AIGC"
DIGITAL_SOURCE_TYPE = "Iptc4xmpExt:DigitalSourceType"


class XmpError(AssayError):
    """An XMP packet that cannot be built or parsed (named property, malformed XML)."""

    code = "invalid_xmp"
    status = 400


def build_packet(props: Mapping[str, str]) -> str:
    """One XMP packet holding ``props`` (qualified name -> text) as simple properties.

    Raises :class:`XmpError` for a prefix Assay has no namespace for, so that a typo can never
    write a property nobody can read.
    """
    used: dict[str, str] = {}
    body = []
    for qname, value in props.items():
        prefix, sep, local = qname.partition(":")
        if not sep or not local or prefix not in NAMESPACES:
            raise XmpError(
                f"XMP property {qname!r} has no known namespace prefix",
                hint=f"known prefixes: {', '.join(sorted(NAMESPACES))}",
            )
        used[prefix] = NAMESPACES[prefix]
        body.append(f"   <{qname}>{escape(str(value))}</{qname}>")
    ns = "".join(f'\n    xmlns:{p}="{u}"' for p, u in sorted(used.items()))
    return (
        '<?xpacket begin="\ufeff" id="W5M0MpCehiHzreSzNTczkc9d"?>\n'
        f'<x:xmpmeta xmlns:x="{X}">\n'
        f' <rdf:RDF xmlns:rdf="{RDF}">\n'
        f'  <rdf:Description rdf:about=""{ns}>\n'
        + "\n".join(body)
        + "\n  </rdf:Description>\n </rdf:RDF>\n</x:xmpmeta>\n"
        '<?xpacket end="w"?>'
    )


def _qname(tag: str) -> str:
    if tag.startswith("{"):
        uri, _, local = tag[1:].partition("}")
        prefix = _PREFIX_OF.get(uri)
        return f"{prefix}:{local}" if prefix else tag
    return tag


def parse_packet(raw: bytes | str) -> dict[str, str]:
    """Simple properties of an XMP packet (qualified name -> text); the first value of a list.

    Unknown namespaces keep their Clark name (``{uri}local``).
    """
    data = raw.encode("utf-8") if isinstance(raw, str) else bytes(raw)
    if len(data) > MAX_XMP_BYTES:
        raise XmpError(f"XMP packet of {len(data)} bytes exceeds {MAX_XMP_BYTES} bytes")
    if b"<!DOCTYPE" in data or b"<!ENTITY" in data:
        raise XmpError("XMP packet declares a DOCTYPE or entities; refused")
    start = data.find(b"<x:xmpmeta")
    if start < 0:
        start = data.find(b"<rdf:RDF")
    end_tag = b"</x:xmpmeta>" if data[start : start + 10] == b"<x:xmpmeta" else b"</rdf:RDF>"
    end = data.find(end_tag, max(start, 0))
    if start < 0 or end < 0:
        raise XmpError("no x:xmpmeta / rdf:RDF element in the XMP packet")
    try:
        root = ET.fromstring(data[start : end + len(end_tag)])
    except ET.ParseError as exc:
        raise XmpError(f"malformed XMP: {exc}") from exc
    props: dict[str, str] = {}
    for desc in root.iter(f"{{{RDF}}}Description"):
        for attr, value in desc.attrib.items():
            if not attr.startswith(f"{{{RDF}}}"):
                props.setdefault(_qname(attr), value)
        for child in desc:
            li = child.find(f".//{{{RDF}}}li")
            text = (li.text if li is not None else child.text) or ""
            props.setdefault(_qname(child.tag), text.strip())
    return props


# --- TC260 (GB 45438 Annex E) --------------------------------------------------------------------
_AIGC_KEYS = (
    "Label",
    "ContentProducer",
    "ProduceID",
    "ReservedCode1",
    "ContentPropagator",
    "PropagateID",
    "ReservedCode2",
)
_FORBIDDEN = frozenset(' "\\')


def check_aigc_value(field: str, value: str) -> None:
    """Raise ``ValueError`` unless ``value`` uses the characters GB 45438 Annex E allows."""
    bad = sorted({c for c in value if c in _FORBIDDEN or ord(c) < 0x21 or ord(c) == 0x7F})
    if bad:
        raise ValueError(
            f"{field} {value!r} contains {''.join(bad)!r}: spaces, quotes, backslashes and control "
            "characters are not allowed in TC260:AIGC values"
        )


@dataclass(frozen=True)
class Tc260Aigc:
    """The GB 45438 Annex E label: seven string fields, serialised as JSON in this key order."""

    Label: str = "1"
    ContentProducer: str = ""
    ProduceID: str = ""
    ReservedCode1: str = ""
    ContentPropagator: str = ""
    PropagateID: str = ""
    ReservedCode2: str = ""

    def validate(self) -> Tc260Aigc:
        """Raise ``ValueError`` unless every field is what Annex E allows (done before writing)."""
        if self.Label not in ("1", "2", "3"):
            raise ValueError(f"Label must be '1', '2' or '3', got {self.Label!r}")
        for key in _AIGC_KEYS:
            check_aigc_value(key, getattr(self, key))
        return self

    def to_json(self) -> str:
        return json.dumps(
            {k: getattr(self, k) for k in _AIGC_KEYS}, ensure_ascii=False, separators=(",", ":")
        )

    @classmethod
    def from_json(cls, text: str) -> Tc260Aigc:
        """Parse a ``TC260:AIGC`` value; also accepts the guide's ``{"AIGC": {...}}`` wrapping.

        Lenient on field contents (a foreign file's label is reported as found, not rejected).
        """
        try:
            obj = json.loads(text)
        except (json.JSONDecodeError, RecursionError) as exc:
            raise XmpError(f"TC260:AIGC is not JSON: {exc}") from exc
        if isinstance(obj, dict) and set(obj) == {"AIGC"} and isinstance(obj["AIGC"], dict):
            obj = obj["AIGC"]
        if not isinstance(obj, dict) or "Label" not in obj:
            raise XmpError("TC260:AIGC is not an object with a Label field")
        return cls(**{k: str(obj.get(k, "")) for k in _AIGC_KEYS})
