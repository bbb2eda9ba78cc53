"""The one boundary between Assay and the ``c2pa`` library (c2pa-python / c2pa-rs).

Everything that touches ``c2pa`` lives here, and every ``C2paError`` becomes an Assay error
here: :class:`SigningError` when signing (the request fails closed), :class:`ConfigError` when a
signer cannot be built, and a typed :class:`ManifestReading` (never an exception) when reading
an upload, because ``verify`` is a lookup that reports what it found.

Settings: thumbnails are off (they cost a re-encode per image and carry the pixels a second
time); trust anchors are configured per reading context, so "valid" (signature and hashes
check out) and "trusted" (the signer chains to the operator's trust list) stay distinct.
"""

from __future__ import annotations

import hashlib
import io
import json
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import c2pa

from core.errors import ConfigError, SigningError
from provenance.c2pa_sign.signer import Signer

_ALGS = {
    "es256": c2pa.C2paSigningAlg.ES256,
    "es384": c2pa.C2paSigningAlg.ES384,
    "es512": c2pa.C2paSigningAlg.ES512,
    "ps256": c2pa.C2paSigningAlg.PS256,
    "ps384": c2pa.C2paSigningAlg.PS384,
    "ps512": c2pa.C2paSigningAlg.PS512,
    "ed25519": c2pa.C2paSigningAlg.ED25519,
}

BUILDER_SETTINGS: dict[str, Any] = {"builder": {"thumbnail": {"enabled": False}}}

#: media types the reader is asked about (others are reported as "unsupported")
READABLE = {
    "png": "image/png",
    "jpeg": "image/jpeg",
    "webp": "image/webp",
    "gif": "image/gif",
    "tiff": "image/tiff",
}


def _msg(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}".strip()


class NativeSigner:
    """A ``c2pa.Signer`` built once from a :class:`Signer`, plus the builder context; thread-safe."""

    def __init__(self, signer: Signer) -> None:
        self.signer = signer
        alg = _ALGS.get(signer.alg)
        if alg is None:
            raise ConfigError(
                f"signing algorithm {signer.alg!r} is not one C2PA knows", hint=f"known: {', '.join(_ALGS)}"
            )
        try:
            material = getattr(signer, "pem_material", None)
            if material is not None:
                chain, key = material()
                self._native = c2pa.Signer.from_info(c2pa.C2paSignerInfo(alg, chain, key, None))
            else:  # an HSM/KMS signer: c2pa calls back into signer.sign for each claim
                self._native = c2pa.Signer.from_callback(
                    signer.sign, alg, signer.chain_pem.decode("ascii"), None
                )
            self._context = c2pa.Context.from_dict(BUILDER_SETTINGS)
        except (c2pa.C2paError, ValueError, TypeError) as exc:
            raise ConfigError(
                f"the C2PA library refused the signing credentials: {_msg(exc)}", param="ASSAY_SIGNING_CERT"
            ) from exc
        self._lock = threading.Lock()

    def sign(
        self,
        manifest: dict[str, Any],
        media_type: str,
        data: bytes,
        *,
        ingredients: Sequence[tuple[dict[str, Any], str, bytes]] = (),
    ) -> SignedAsset:
        """Embed and sign ``manifest`` into the file ``data``, with ``ingredients`` (definition,
        media type, bytes) added in order; raise :class:`SigningError` on any failure."""
        try:
            builder = c2pa.Builder(manifest, context=self._context)
            for ing_json, ing_type, ing_data in ingredients:
                builder.add_ingredient(ing_json, ing_type, io.BytesIO(ing_data))
            out = io.BytesIO()
            with self._lock:
                manifest_bytes = builder.sign(self._native, media_type, io.BytesIO(data), out)
        except c2pa.C2paError as exc:
            raise SigningError(
                f"C2PA signing failed: {_msg(exc)}",
                hint="check the signer (HSM/KMS reachable, key and certificate valid)",
            ) from exc
        except SigningError:
            raise
        except Exception as exc:  # noqa: BLE001 - a signer callback or stream failure: fail closed
            raise SigningError(f"C2PA signing failed: {_msg(exc)}") from exc
        signed = out.getvalue()
        if not signed:
            raise SigningError("C2PA signing produced an empty file")
        return SignedAsset(signed, bytes(manifest_bytes))


@dataclass(frozen=True)
class SignedAsset:
    data: bytes
    manifest: bytes

    @property
    def manifest_digest(self) -> str:
        return "sha256:" + hashlib.sha256(self.manifest).hexdigest()


# --- reading -------------------------------------------------------------------------------------
@dataclass(frozen=True)
class ValidationIssue:
    code: str
    explanation: str = ""


@dataclass(frozen=True)
class ManifestReading:
    """What c2pa-rs says about a file: no manifest, or its validation state and active manifest."""

    state: Literal["absent", "valid", "trusted", "invalid", "unsupported"]
    failures: tuple[ValidationIssue, ...] = ()
    manifest: dict[str, Any] | None = None  # the active manifest (JSON, as c2pa-rs reports it)
    manifest_label: str | None = None
    error: str | None = None  # why reading failed, when it did
    informational: tuple[ValidationIssue, ...] = field(default_factory=tuple)

    @property
    def present(self) -> bool:
        return self.state not in ("absent", "unsupported")


class ManifestReader:
    """Reads C2PA manifests, with the operator's trust anchors (PEM) when given; thread-safe."""

    def __init__(self, trust_anchors_pem: str | None = None) -> None:
        cfg: dict[str, Any] = {"verify": {"verify_trust": bool(trust_anchors_pem)}}
        if trust_anchors_pem:
            cfg["trust"] = {"trust_anchors": trust_anchors_pem}
        try:
            self._context = c2pa.Context.from_dict(cfg)
        except c2pa.C2paError as exc:
            raise ConfigError(
                f"the C2PA library refused the trust anchors: {_msg(exc)}",
                param="ASSAY_TRUST_ANCHORS",
                hint="the file must be a PEM bundle of CA certificates",
            ) from exc
        self.trust_configured = bool(trust_anchors_pem)

    def read(self, data: bytes, fmt: str | None) -> ManifestReading:
        media_type = READABLE.get(fmt or "")
        if media_type is None:
            return ManifestReading(state="unsupported", error=f"C2PA reading does not support format {fmt!r}")
        try:
            reader = c2pa.Reader(media_type, io.BytesIO(data), context=self._context)
        except c2pa.C2paError.ManifestNotFound:
            return ManifestReading(state="absent")
        except c2pa.C2paError.NotSupported as exc:
            return ManifestReading(state="unsupported", error=_msg(exc))
        except c2pa.C2paError as exc:
            return ManifestReading(state="invalid", error=_msg(exc))
        except Exception as exc:  # noqa: BLE001 - any reader failure on an upload is "cannot validate"
            return ManifestReading(state="invalid", error=_msg(exc))
        try:
            with reader:
                state = (reader.get_validation_state() or "").lower()
                results = reader.get_validation_results() or {}
                store = json.loads(reader.json())
                active_label = store.get("active_manifest")
                manifest = (store.get("manifests") or {}).get(active_label) if active_label else None
        except (c2pa.C2paError, ValueError) as exc:
            return ManifestReading(state="invalid", error=_msg(exc))
        active = results.get("activeManifest") or {}
        failures = tuple(
            ValidationIssue(i.get("code", ""), i.get("explanation", "")) for i in active.get("failure", [])
        )
        info = tuple(
            ValidationIssue(i.get("code", ""), i.get("explanation", ""))
            for i in active.get("informational", [])
        )
        # ingredient failures are reported too: a forged parent must not pass silently
        for ing in results.get("ingredientDeltas", []) or []:
            for i in (ing.get("validationDeltas") or {}).get("failure") or []:
                failures += (ValidationIssue(i.get("code", ""), i.get("explanation", "")),)
        verdict: Literal["valid", "trusted", "invalid"] = "invalid"
        if manifest is not None and state in ("valid", "trusted"):
            verdict = "trusted" if state == "trusted" else "valid"
        return ManifestReading(
            state=verdict,
            failures=failures,
            manifest=manifest,
            manifest_label=active_label,
            informational=info,
        )
