"""Fakes and fixtures for testing marks and verification (shipped, like httpx's MockTransport).

- :func:`mark_context` — a :class:`MarkContext` with a plausible model and record.
- :class:`TestPki` — a throwaway CA with good and deliberately bad signing credentials
  (expired, not yet valid, key of another certificate, chain in the wrong order, a CA as leaf,
  a second CA that is not on the operator's trust list).
- :class:`CallbackSigner` — a :class:`~provenance.c2pa_sign.signer.Signer` without PEM material,
  so the C2PA library calls back into ``sign`` as it would for an HSM/KMS.
- :class:`FailingSigner` — an HSM that does not answer.
"""

from __future__ import annotations

import datetime as dt
import io
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cryptography.hazmat.primitives.asymmetric import ec

from core.errors import SigningError
from models.base import ModelInfo
from provenance.c2pa_sign.credentials import _pem_cert, _pem_key, _write_private, make_ca, make_leaf
from provenance.c2pa_sign.signer import PemFileSigner
from provenance.marks import MarkContext

if TYPE_CHECKING:  # pragma: no cover
    from PIL import Image

ORG = "Assay Test PKI"
FIXED_TIME = dt.datetime(2026, 11, 25, 12, 0, 0, tzinfo=dt.UTC)


def jpeg_bytes(image: Image.Image, quality: int) -> bytes:
    """``image`` as a JPEG file without metadata (what a re-upload to a social network leaves)."""
    buf = io.BytesIO()
    image.convert("RGB").save(buf, "JPEG", quality=quality)
    return buf.getvalue()


def mark_context(**overrides: Any) -> MarkContext:
    model = ModelInfo(
        backend="diffusers",
        model_id="assay-default",
        revision="r1",
        seeds=[1234, 1235],
        steps=20,
        width=512,
        height=512,
    )
    base: dict[str, Any] = dict(
        record_id="01JDQ3V6ZK7C3M5W0Y8N2P4R6T",
        content_id="01JDQ3V6ZK7C3M5W0Y8N2P4R6T-0",
        image_index=0,
        tenant="acme",
        policy_id="default",
        policy_digest="sha256:" + "ab" * 32,
        model=model,
        created_at=FIXED_TIME,
        check_summary={"verdicts": 0, "categories": []},
    )
    base.update(overrides)
    return MarkContext(**base)


@dataclass(frozen=True)
class PemPair:
    chain: Path
    key: Path


class TestPki:
    """A CA in ``folder`` and helpers that write signing credentials of every kind beside it."""

    __test__ = False  # not a pytest test class

    def __init__(self, folder: Path, now: dt.datetime | None = None) -> None:
        self.folder = Path(folder)
        self.folder.mkdir(parents=True, exist_ok=True)
        self.now = now or dt.datetime.now(dt.UTC)
        self.ca, self.ca_key = make_ca("Assay Test Root CA", now=self.now, organization=ORG)
        self.ca_pem = self.folder / "test-ca.pem"
        self.ca_pem.write_bytes(_pem_cert(self.ca))

    def _write(self, name: str, certs: list, key: Any) -> PemPair:
        chain, key_path = self.folder / f"{name}-chain.pem", self.folder / f"{name}.key.pem"
        chain.write_bytes(_pem_cert(*certs))
        _write_private(key_path, _pem_key(key))
        return PemPair(chain, key_path)

    def valid(self, name: str = "valid", **kw: Any) -> PemPair:
        leaf, key = make_leaf(
            self.ca, self.ca_key, f"Assay test signer {name}", now=self.now, organization=ORG, **kw
        )
        return self._write(name, [leaf, self.ca], key)

    def expired(self) -> PemPair:
        leaf, key = make_leaf(
            self.ca,
            self.ca_key,
            "expired signer",
            now=self.now - dt.timedelta(days=400),
            days=30,
            organization=ORG,
        )
        return self._write("expired", [leaf, self.ca], key)

    def not_yet_valid(self) -> PemPair:
        leaf, key = make_leaf(
            self.ca,
            self.ca_key,
            "future signer",
            now=self.now + dt.timedelta(days=30),
            not_before=self.now + dt.timedelta(days=10),
            organization=ORG,
        )
        return self._write("future", [leaf, self.ca], key)

    def mismatched(self) -> PemPair:
        leaf, _key = make_leaf(self.ca, self.ca_key, "mismatched signer", now=self.now, organization=ORG)
        return self._write("mismatched", [leaf, self.ca], ec.generate_private_key(ec.SECP256R1()))

    def wrong_order(self) -> PemPair:
        leaf, key = make_leaf(self.ca, self.ca_key, "misordered signer", now=self.now, organization=ORG)
        return self._write("misordered", [self.ca, leaf], key)

    def ca_as_leaf(self) -> PemPair:
        return self._write("ca-as-leaf", [self.ca], self.ca_key)

    def other_ca(self) -> tuple[PemPair, Path]:
        """Credentials from a second CA that the operator does not trust, and that CA's PEM."""
        ca, ca_key = make_ca("Somebody Else's CA", now=self.now, organization="Elsewhere")
        leaf, key = make_leaf(ca, ca_key, "somebody else", now=self.now, organization="Elsewhere")
        other = self.folder / "other-ca.pem"
        other.write_bytes(_pem_cert(ca))
        return self._write("other", [leaf, ca], key), other


class CallbackSigner:
    """Delegates to a PEM signer but hides its key, so c2pa signs through the callback (HSM path)."""

    def __init__(self, inner: PemFileSigner) -> None:
        self.inner = inner
        self.alg = inner.alg
        self.chain_pem = inner.chain_pem
        self.not_after = inner.not_after
        self.development = inner.development
        self.calls = 0

    def sign(self, data: bytes) -> bytes:
        self.calls += 1
        return self.inner.sign(data)


class SlowSigner(CallbackSigner):
    """An HSM/KMS that answers after ``delay_s`` (or never, while ``release`` is not set)."""

    def __init__(self, inner: PemFileSigner, delay_s: float) -> None:
        super().__init__(inner)
        self.delay_s = delay_s
        self.release = threading.Event()

    def sign(self, data: bytes) -> bytes:
        self.calls += 1
        self.release.wait(self.delay_s)
        return self.inner.sign(data)


class FailingSigner(CallbackSigner):
    """An HSM/KMS that fails every signature."""

    def sign(self, data: bytes) -> bytes:
        self.calls += 1
        raise SigningError("HSM unreachable: connection refused")


def repost(image: Any, *, keep: float = 0.7, blur: float = 2.0, quality: int = 80) -> bytes:
    """A released image as reposts circulate: ``keep`` of each side cropped off centre, mirrored,
    captioned, blurred (radius 2 destroys the watermark), JPEG without metadata."""
    from PIL import ImageDraw, ImageFilter, ImageOps

    w, h = image.size
    cw, ch = round(w * keep), round(h * keep)
    x0, y0 = round((w - cw) * 0.3), round((h - ch) * 0.6)
    copy = ImageOps.mirror(image.convert("RGB").crop((x0, y0, x0 + cw, y0 + ch)))
    draw = ImageDraw.Draw(copy)
    draw.rectangle((0, ch - 40, cw, ch), fill=(0, 0, 0))
    draw.text((10, ch - 32), "you won't believe this!!", fill=(255, 255, 255))
    copy = copy.filter(ImageFilter.GaussianBlur(blur))
    buf = io.BytesIO()
    copy.save(buf, "JPEG", quality=quality)
    return buf.getvalue()
