"""`verify`: did this gateway make this image, and what is its record?

A lookup, so it returns a typed report rather than raising on what it does not find (style §9):
each method says what it found and which record it points to, with how much that is worth —

- ``c2pa``: the manifest's validation state from c2pa-rs, and whether its signer chains to the
  operator's trust list (``trusted``) or merely verifies (``valid``); the Assay assertion names the
  record. Only a trusted manifest's record id counts as signed: a valid manifest from an unknown
  signer, or an invalid one (forged, corrupted, pixels changed), is reported and is only a claim.
- ``xmp``: the ``TC260:AIGC`` label and the IPTC source type. Unsigned, so a record it names
  (``ProduceID`` = content id) is a claim until another method agrees.
- ``watermark``: the payload the watermark decoder recovers, looked up in the released-image index.
  It survives metadata stripping, recompression and resizing.
- ``phash``: perceptual-hash neighbours among the gateway's released images (similarity only).
- ``features``: released images whose local features (ORB keypoints) the image shares under a
  verified geometric transform (:mod:`provenance.released_features`): a cropped, captioned,
  mirrored or rotated repost whose watermark and metadata are gone (similarity, with its
  estimated false-match rate). Looked up only when no trusted manifest or watermark found a
  released record.

Bad input (not an image, a bomb, a truncated file) raises the 4xx errors of
:func:`core.images.decode_image`; nothing in an upload can cause anything else.
"""

from __future__ import annotations

import hashlib
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, Literal, Protocol

from PIL import Image
from pydantic import BaseModel, ConfigDict, Field, computed_field

from core.errors import AssayError, ConfigError
from core.images import DecodeLimits, decode_image
from provenance.c2pa_sign.manifest import ASSAY_ASSERTION, SOFT_BINDING
from provenance.c2pa_sign.sdk import ManifestReader, ManifestReading
from provenance.label.embed import read_xmp, sniff_format
from provenance.label.xmp import DIGITAL_SOURCE_TYPE, TC260_AIGC, Tc260Aigc, XmpError, parse_packet
from provenance.released import (
    DEFAULT_RADIUS,
    find_by_phash,
    find_by_watermark,
    get_release,
    has_detail,
    phash64,
)
from provenance.released_features import find_by_features
from provenance.source_type import AI_SOURCE_TYPES

log = logging.getLogger("assay.verify")

Method = Literal["c2pa", "xmp", "watermark", "phash", "features"]
#: how much a method's pointer is worth, strongest first
Strength = Literal["signed", "watermark", "similarity", "claim"]
_RANK = {"signed": 0, "watermark": 1, "similarity": 2, "claim": 3}


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True)


class FileInfo(_Model):
    format: str | None
    width: int
    height: int
    bytes: int
    sha256: str


class Issue(_Model):
    code: str
    explanation: str = ""


class C2paResult(_Model):
    state: Literal["absent", "valid", "trusted", "invalid", "unsupported"]
    #: the signer chains to the operator's trust list
    trusted: bool = False
    trust_list: str | None = None
    signer: str | None = None
    issuer: str | None = None
    manifest_label: str | None = None
    record_id: str | None = None
    content_id: str | None = None
    digital_source_types: list[str] = Field(default_factory=list)
    software_agent: str | None = None
    created: str | None = None
    watermark_payload: str | None = None
    #: the watermark scheme the manifest's soft-binding assertion names (``assay-wm2``)
    watermark_alg: str | None = None
    failures: list[Issue] = Field(default_factory=list)
    error: str | None = None

    @computed_field  # type: ignore[prop-decorator]
    @property
    def ai_generated(self) -> bool:
        return bool(set(self.digital_source_types) & AI_SOURCE_TYPES)


class XmpResult(_Model):
    present: bool = False
    tc260: dict[str, str] | None = None
    digital_source_type: str | None = None
    error: str | None = None

    @computed_field  # type: ignore[prop-decorator]
    @property
    def content_id(self) -> str | None:
        return (self.tc260 or {}).get("ProduceID") or None

    @computed_field  # type: ignore[prop-decorator]
    @property
    def ai_generated(self) -> bool:
        return (self.tc260 or {}).get("Label") in (
            "1",
            "2",
            "3",
        ) or self.digital_source_type in AI_SOURCE_TYPES


class WatermarkResult(_Model):
    available: bool = False
    detected: bool = False
    payload: str | None = None
    algorithm: str | None = None
    #: the edit the decoder undid to read the mark (``crop+rotate 4.8°+flip``; "none": as marked)
    transform: str | None = None
    error: str | None = None


class PhashHit(_Model):
    record_id: str
    content_id: str
    distance: int


class PhashResult(_Model):
    hash: str | None = None
    skipped: str | None = None
    radius: int = DEFAULT_RADIUS
    matches: list[PhashHit] = Field(default_factory=list)


class FeatureHit(_Model):
    record_id: str
    content_id: str
    #: RANSAC inliers of the verified transform (more is surer)
    inliers: int
    #: estimated chance that an unrelated image reaches as many inliers
    false_match_rate: float
    mirrored: bool
    rotation_deg: float
    #: released-image pixels per query pixel
    scale: float
    #: [x, y, w, h]: the part of the query the released image covers, and what of it is shown
    query_box: list[int]
    source_box: list[int]


class FeatureResult(_Model):
    #: the lookup ran (False: not needed, or no index to search; ``skipped`` says which)
    searched: bool = False
    skipped: str | None = None
    matches: list[FeatureHit] = Field(default_factory=list)


class MethodHit(_Model):
    method: Method
    strength: Strength
    detail: str = ""


class RecordHit(_Model):
    """One ledger record the image points to, and every method that pointed there."""

    record_id: str
    content_id: str | None = None
    methods: list[MethodHit]
    #: the record is in this gateway's released-image index
    released: bool = False
    #: the record is in the ledger (None: no ledger was consulted)
    in_ledger: bool | None = None
    created_at: datetime | None = None
    system: str | None = None
    tenant: str | None = None

    @computed_field  # type: ignore[prop-decorator]
    @property
    def strength(self) -> Strength:
        return min((m.strength for m in self.methods), key=_RANK.__getitem__)


class VerifyReport(_Model):
    file: FileInfo
    c2pa: C2paResult
    xmp: XmpResult
    watermark: WatermarkResult
    phash: PhashResult
    features: FeatureResult = Field(default_factory=FeatureResult)
    records: list[RecordHit] = Field(default_factory=list)
    #: the best-supported record id (strongest method, then most methods), or None
    record_id: str | None = None
    #: some method says the image is AI-generated or was released by this gateway
    ai_generated: bool = False
    provider: str | None = None

    @computed_field  # type: ignore[prop-decorator]
    @property
    def summary(self) -> str:
        if self.record_id:
            best = self.records[0]
            how = ", ".join(f"{m.method} ({m.strength})" for m in best.methods)
            return f"record {self.record_id}: found by {how}"
        if self.ai_generated:
            return "labelled as AI-generated, but no record of this gateway matches"
        return "no provenance found"


class PublicMarks(_Model):
    """Which marks the image carries, as the public may see them: no payloads, ids or tenants."""

    #: the C2PA manifest's validation state (``trusted``: its signer chains to the trust list)
    c2pa: Literal["absent", "valid", "trusted", "invalid", "unsupported"] = "absent"
    #: the manifest's signer (certificate subject), only where the manifest verifies
    c2pa_signer: str | None = None
    #: an AI-generated label in the metadata (TC260 AIGC, or an AI IPTC digital source type)
    metadata_label: bool = False
    #: this gateway's invisible watermark was read
    watermark: bool = False
    #: the image looks like (perceptual hash) an image this gateway released
    hash_match: bool = False
    #: the image shows part of an image this gateway released (local features, verified geometry)
    feature_match: bool = False


class PublicVerifyReport(_Model):
    """What the public detection endpoint reveals: provider, system, time and id, and which marks
    were found — nothing else (no prompt, tenant, requester or payload)."""

    detected: bool
    provider: str | None = None
    system: str | None = None
    time: datetime | None = None
    id: str | None = None
    marks: PublicMarks = Field(default_factory=PublicMarks)


def public_marks(report: VerifyReport) -> PublicMarks:
    c2pa = report.c2pa
    return PublicMarks(
        c2pa=c2pa.state,
        c2pa_signer=c2pa.signer if c2pa.state in ("valid", "trusted") else None,
        metadata_label=report.xmp.ai_generated,
        watermark=report.watermark.detected,
        hash_match=bool(report.phash.matches),
        feature_match=bool(report.features.matches),
    )


def to_public(report: VerifyReport) -> PublicVerifyReport:
    marks = public_marks(report)
    best = next((r for r in report.records if r.released and r.strength != "claim"), None)
    if best is None:
        return PublicVerifyReport(detected=report.ai_generated, marks=marks)
    return PublicVerifyReport(
        detected=True,
        provider=report.provider,
        system=best.system,
        time=best.created_at,
        id=best.record_id,
        marks=marks,
    )


# --- trust list ----------------------------------------------------------------------------------
@dataclass(frozen=True)
class TrustList:
    pem: str | None
    source: str


def operator_trust_list(settings: Any) -> TrustList:
    """The CA certificates whose signers count as "trusted": ``ASSAY_TRUST_ANCHORS``, or else the
    root of the operator's own signing chain (or the development CA), so that at least the
    gateway's own manifests are recognised."""
    path = getattr(settings, "trust_anchors", None)
    if path:
        try:
            return TrustList(Path(path).read_text("ascii"), f"ASSAY_TRUST_ANCHORS ({path})")
        except (OSError, UnicodeDecodeError) as exc:
            raise ConfigError(
                f"cannot read the trust anchors {path}: {exc}", param="ASSAY_TRUST_ANCHORS"
            ) from exc
    chain = getattr(settings, "signing_cert", None)
    if chain:
        from cryptography import x509
        from cryptography.hazmat.primitives import serialization

        try:
            certs = x509.load_pem_x509_certificates(Path(chain).read_bytes())
        except (OSError, ValueError) as exc:
            raise ConfigError(
                f"cannot read the signing chain {chain}: {exc}", param="ASSAY_SIGNING_CERT"
            ) from exc
        return TrustList(
            certs[-1].public_bytes(serialization.Encoding.PEM).decode("ascii"),
            f"root of ASSAY_SIGNING_CERT ({chain})",
        )
    if settings.is_production:
        return TrustList(None, "none configured")
    from provenance.c2pa_sign.credentials import DEV_CA_CERT, ensure_dev_credentials

    ensure_dev_credentials(Path(settings.keys_dir))  # the same CA the c2pa mark signs with (idempotent)
    return TrustList((Path(settings.keys_dir) / DEV_CA_CERT).read_text("ascii"), "development CA")


# --- the verifier --------------------------------------------------------------------------------
class WatermarkReadingLike(Protocol):
    """What verify needs of a decoder's reading (:class:`provenance.watermark.decode.WatermarkReading`)."""

    @property
    def payload_hex(self) -> str: ...

    @property
    def scheme(self) -> str: ...


#: the watermark decoder: an image -> its reading, or None where no mark reads
WatermarkDecoder = Callable[[Image.Image], WatermarkReadingLike | None]


def _default_decoder(settings: Any) -> WatermarkDecoder | None:
    """The watermark capability's decoder under the operator's keys (the marking key first)."""
    try:
        from provenance.watermark import decode_watermark
        from provenance.watermark.key import scheme_params
    except ImportError:
        return None
    keys = scheme_params(settings)

    def decode(image: Image.Image) -> Any:
        for params in keys:  # every scheme (assay-wm2 first, then assay-wm1) under every key
            reading = decode_watermark(image, params=params, scheme=None)
            if reading is not None:
                return reading
        return None

    return decode


class Verifier:
    """Answers ``verify`` for one gateway; built once per process, thread-safe.

    ``db`` is the gateway's :class:`gateway.store.Database` (None: no index lookups), ``ledger``
    anything with ``get(record_id)`` (the :class:`provenance.ledger.Ledger`), ``decoder`` the
    watermark decoder (default: :func:`provenance.watermark.decode_watermark` under the operator's
    watermark keys, when installed).
    """

    def __init__(
        self,
        settings: Any,
        db: Any = None,
        *,
        ledger: Any = None,
        decoder: WatermarkDecoder | None | Literal["default"] = "default",
        trust: TrustList | None = None,
        limits: DecodeLimits | None = None,
    ) -> None:
        self.settings = settings
        self.db = db
        self.ledger = ledger
        self.decoder = _default_decoder(settings) if decoder == "default" else decoder
        self.trust = trust or operator_trust_list(settings)
        self.reader = ManifestReader(self.trust.pem)
        self.limits = limits or DecodeLimits(max_bytes=getattr(settings, "max_body_bytes", 25 * 1024 * 1024))

    def verify(self, data: bytes, *, name: str = "image") -> VerifyReport:
        image = decode_image(data, limits=self.limits, name=name)
        fmt = sniff_format(data)
        file = FileInfo(
            format=fmt,
            width=image.width,
            height=image.height,
            bytes=len(data),
            sha256=hashlib.sha256(data).hexdigest(),
        )
        c2pa_res = self._c2pa(data, fmt)
        xmp_res = self._xmp(data)
        wm_res = self._watermark(image)
        ph_res, ph_value = self._phash_value(image)

        hits: dict[str, dict[str, Any]] = {}

        def point(record_id: str | None, content_id: str | None, hit: MethodHit, row: Any = None) -> None:
            if not record_id:
                return
            h = hits.setdefault(record_id, {"content_id": content_id, "methods": [], "row": None})
            h["content_id"] = h["content_id"] or content_id
            if all(m.method != hit.method for m in h["methods"]):
                h["methods"].append(hit)
            h["row"] = h["row"] or row

        with self._session() as s:
            # c2pa: the record id is in the signed Assay assertion; it counts as "signed" only when
            # the signer is on the operator's trust list (anyone can sign a manifest naming a record)
            if c2pa_res.record_id:
                strength: Strength = "signed" if c2pa_res.state == "trusted" else "claim"
                detail = f"manifest {c2pa_res.state}" + (", signer trusted" if c2pa_res.trusted else "")
                row = get_release(s, c2pa_res.content_id) if (s is not None and c2pa_res.content_id) else None
                if row is not None and row.record_id != c2pa_res.record_id:
                    row = None  # the manifest's ids contradict the index: not this gateway's release
                point(
                    c2pa_res.record_id,
                    c2pa_res.content_id,
                    MethodHit(method="c2pa", strength=strength, detail=detail),
                    row,
                )
            # xmp: ProduceID is the content id; the index maps it to the record
            if xmp_res.content_id and s is not None:
                row = get_release(s, xmp_res.content_id)
                if row is not None:
                    point(
                        row.record_id,
                        row.content_id,
                        MethodHit(method="xmp", strength="claim", detail="TC260:AIGC ProduceID"),
                        row,
                    )
            # watermark
            if wm_res.detected and wm_res.payload and s is not None:
                for row in find_by_watermark(s, wm_res.payload):
                    point(
                        row.record_id,
                        row.content_id,
                        MethodHit(
                            method="watermark",
                            strength="watermark",
                            detail=f"payload {wm_res.payload}"
                            + (
                                f", read after undoing {wm_res.transform}"
                                if wm_res.transform and wm_res.transform != "none"
                                else ""
                            ),
                        ),
                        row,
                    )
            # phash
            if ph_value is not None and s is not None:
                matches = find_by_phash(s, ph_value, radius=ph_res.radius)
                ph_res = ph_res.model_copy(
                    update={
                        "matches": [
                            PhashHit(
                                record_id=m.row.record_id, content_id=m.row.content_id, distance=m.distance
                            )
                            for m in matches
                        ]
                    }
                )
                for m in matches:
                    point(
                        m.row.record_id,
                        m.row.content_id,
                        MethodHit(method="phash", strength="similarity", detail=f"distance {m.distance}"),
                        m.row,
                    )
            # local features: only when nothing stronger found a released record
            found = any(
                h["row"] is not None and any(m.strength in ("signed", "watermark") for m in h["methods"])
                for h in hits.values()
            )
            if s is None:
                feat_res = FeatureResult(skipped="no released-image index to search")
            elif found:
                feat_res = FeatureResult(skipped="a trusted manifest or the watermark found the record")
            else:
                feat_res = self._features(s, image)
                for fm in feat_res.matches:
                    row = get_release(s, fm.content_id)
                    point(
                        fm.record_id,
                        fm.content_id,
                        MethodHit(
                            method="features",
                            strength="similarity",
                            detail=f"{fm.inliers} matching keypoints"
                            + (", mirrored" if fm.mirrored else "")
                            + f", false-match rate ~{fm.false_match_rate:.0e}",
                        ),
                        row,
                    )

        records = []
        for rid, h in hits.items():
            row = h["row"]
            records.append(
                RecordHit(
                    record_id=rid,
                    content_id=h["content_id"],
                    methods=h["methods"],
                    released=row is not None,
                    in_ledger=self._in_ledger(rid),
                    created_at=row.created_at if row is not None else None,
                    system=row.system if row is not None else None,
                    tenant=row.tenant if row is not None else None,
                )
            )
        records.sort(key=lambda r: (_RANK[r.strength], -len(r.methods), not r.released))
        best = records[0].record_id if records else None
        ai = (
            c2pa_res.ai_generated
            or xmp_res.ai_generated
            or wm_res.detected
            or any(r.released for r in records)
        )
        return VerifyReport(
            file=file,
            c2pa=c2pa_res,
            xmp=xmp_res,
            watermark=wm_res,
            phash=ph_res,
            features=feat_res,
            records=records,
            record_id=best,
            ai_generated=ai,
            provider=getattr(self.settings, "provider_name", None),
        )

    # -- methods ----------------------------------------------------------------------------------
    def _c2pa(self, data: bytes, fmt: str | None) -> C2paResult:
        reading: ManifestReading = self.reader.read(data, fmt)
        base = dict(
            state=reading.state,
            trust_list=self.trust.source,
            error=reading.error,
            failures=[Issue(code=f.code, explanation=f.explanation) for f in reading.failures],
        )
        m = reading.manifest
        if not m:
            return C2paResult(**base)
        sig = m.get("signature_info") or {}
        assertions = {a.get("label"): a.get("data") for a in m.get("assertions", []) if isinstance(a, dict)}
        actions = []
        for label in ("c2pa.actions.v2", "c2pa.actions"):
            actions += list((assertions.get(label) or {}).get("actions", []) or [])
        dst = [
            a.get("digitalSourceType") for a in actions if isinstance(a, dict) and a.get("digitalSourceType")
        ]
        agent = next(
            (a.get("softwareAgent") for a in actions if isinstance(a, dict) and a.get("softwareAgent")), None
        )
        if isinstance(agent, dict):
            agent = " ".join(str(agent.get(k)) for k in ("name", "version") if agent.get(k))
        created = next((a.get("when") for a in actions if isinstance(a, dict) and a.get("when")), None)
        assay = assertions.get(ASSAY_ASSERTION) or {}
        sb = assertions.get(SOFT_BINDING) or {}
        wm = None
        blocks = sb.get("blocks") if isinstance(sb, dict) else None
        if blocks and isinstance(blocks[0], dict) and blocks[0].get("value"):
            import base64
            import binascii

            try:
                wm = base64.b64decode(blocks[0]["value"], validate=True).hex()
            except (binascii.Error, ValueError):
                wm = None
        return C2paResult(
            **base,
            trusted=reading.state == "trusted",
            signer=sig.get("common_name"),
            issuer=sig.get("issuer"),
            manifest_label=reading.manifest_label,
            record_id=str(assay["record_id"]) if isinstance(assay, dict) and assay.get("record_id") else None,
            content_id=str(assay["content_id"])
            if isinstance(assay, dict) and assay.get("content_id")
            else None,
            digital_source_types=[str(d) for d in dst],
            software_agent=str(agent) if agent else None,
            created=str(created) if created else None,
            watermark_payload=wm,
            watermark_alg=str(sb["alg"]) if isinstance(sb, dict) and sb.get("alg") else None,
        )

    @staticmethod
    def _xmp(data: bytes) -> XmpResult:
        raw = read_xmp(data)
        if raw is None:
            return XmpResult()
        try:
            props = parse_packet(raw)
        except XmpError as exc:
            return XmpResult(present=True, error=exc.message)
        tc = None
        err = None
        if TC260_AIGC in props:
            try:
                aigc = Tc260Aigc.from_json(props[TC260_AIGC])
                tc = {k: getattr(aigc, k) for k in aigc.__dataclass_fields__}
            except XmpError as exc:
                err = exc.message
        return XmpResult(
            present=True, tc260=tc, digital_source_type=props.get(DIGITAL_SOURCE_TYPE), error=err
        )

    def _watermark(self, image: Image.Image) -> WatermarkResult:
        if self.decoder is None:
            return WatermarkResult(available=False, error="no watermark decoder is installed")
        try:
            reading = self.decoder(image)
        except Exception as exc:  # noqa: BLE001 - a decoder failure must not turn an upload into a 5xx
            log.warning("watermark decoder failed: %s", exc, exc_info=True)
            return WatermarkResult(available=True, error=f"decoder failed: {type(exc).__name__}: {exc}")
        if reading is None:
            return WatermarkResult(available=True)
        return WatermarkResult(
            available=True,
            detected=True,
            payload=reading.payload_hex,
            algorithm=reading.scheme,
            transform=getattr(reading, "transform", None),
        )

    @staticmethod
    def _features(session: Any, image: Image.Image) -> FeatureResult:
        try:
            matches = find_by_features(session, image)
        except AssayError as exc:  # e.g. the feature extractor refused the image
            return FeatureResult(skipped=exc.message)
        return FeatureResult(
            searched=True,
            matches=[
                FeatureHit(
                    record_id=m.row.record_id,
                    content_id=m.row.content_id,
                    inliers=m.inliers,
                    false_match_rate=m.false_match_rate,
                    mirrored=m.mirrored,
                    rotation_deg=round(m.rotation_deg, 2),
                    scale=round(m.scale, 4),
                    query_box=m.query_box,
                    source_box=m.source_box,
                )
                for m in matches
            ],
        )

    @staticmethod
    def _phash_value(image: Image.Image) -> tuple[PhashResult, int | None]:
        if not has_detail(image):
            return PhashResult(skipped="the image is too flat for a perceptual hash"), None
        h = phash64(image)
        return PhashResult(hash=f"{h:016x}"), h

    def _session(self):  # noqa: ANN202
        import contextlib

        if self.db is None:
            return contextlib.nullcontext(None)
        return self.db.session()

    def _in_ledger(self, record_id: str) -> bool | None:
        if self.ledger is None:
            return None
        return self.ledger.get(record_id) is not None


_verifier_lock = threading.Lock()


def verifier_for(state: Any) -> Verifier:
    """The process's :class:`Verifier` for a gateway state (settings, db, ledger), built once."""
    v = getattr(state, "_assay_verifier", None)
    if v is None:
        with _verifier_lock:
            v = getattr(state, "_assay_verifier", None)
            if v is None:
                v = Verifier(state.settings, state.db, ledger=getattr(state, "ledger", None))
                state._assay_verifier = v
    return v
