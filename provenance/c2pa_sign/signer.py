"""The `Signer` interface: what signs a C2PA claim, so that an HSM or a cloud KMS can be added.

Why an interface: the private key of a production operator often must not leave an HSM/KMS.
C2PA signing needs only two things from a signer — the certificate chain to embed and a
signature over the claim bytes — so that is the whole interface. :class:`PemFileSigner` is the
built-in implementation (key and chain from PEM files, checked at start-up); an HSM signer
implements the same two members and is handed to :class:`provenance.c2pa_sign.mark.C2paMark`.

One signer per process: :func:`process_signer` builds it once (thread-safe) from settings.
"""

from __future__ import annotations

import datetime as dt
import threading
from typing import Any, Protocol, runtime_checkable

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding, rsa

from core.errors import SigningError
from provenance.c2pa_sign.credentials import SigningCredentials, credentials_from_settings


@runtime_checkable
class Signer(Protocol):
    """Signs C2PA claims. Implementations must be thread-safe."""

    #: C2PA algorithm: es256 | es384 | es512 | ps256 | ps384 | ps512 | ed25519
    alg: str
    #: leaf certificate first, then the intermediates (PEM)
    chain_pem: bytes
    #: when the leaf stops being valid (checked before every signature)
    not_after: dt.datetime
    #: true for a generated development certificate (reported by /readyz)
    development: bool

    def sign(self, data: bytes) -> bytes:
        """The signature over ``data`` (ECDSA: DER or raw r||s; RSA-PSS; Ed25519). Raise on failure."""


class PemFileSigner:
    """A signer whose key and chain come from PEM files (checked by :mod:`credentials`)."""

    def __init__(self, creds: SigningCredentials) -> None:
        self.creds = creds
        self.alg = creds.alg
        self.chain_pem = creds.chain_pem()
        self.not_after = creds.not_after
        self.development = creds.development

    @property
    def subject(self) -> str:
        return self.creds.subject

    def pem_material(self) -> tuple[bytes, bytes]:
        """(chain, key) PEM, so the C2PA library can sign natively instead of calling back."""
        return self.chain_pem, self.creds.key_pem()

    def sign(self, data: bytes) -> bytes:
        key = self.creds.key
        try:
            if isinstance(key, ec.EllipticCurvePrivateKey):
                h = {"es256": hashes.SHA256(), "es384": hashes.SHA384(), "es512": hashes.SHA512()}[self.alg]
                return key.sign(data, ec.ECDSA(h))
            if isinstance(key, rsa.RSAPrivateKey):
                h = {"ps256": hashes.SHA256(), "ps384": hashes.SHA384(), "ps512": hashes.SHA512()}[self.alg]
                return key.sign(data, padding.PSS(mgf=padding.MGF1(h), salt_length=h.digest_size), h)
            if isinstance(key, ed25519.Ed25519PrivateKey):
                return key.sign(data)
        except Exception as exc:  # noqa: BLE001 - any key failure is a signing failure
            raise SigningError(f"signing with {self.creds.key_path} failed: {exc}") from exc
        raise SigningError(f"unsupported key type {type(key).__name__}")  # pragma: no cover


_lock = threading.Lock()
_signers: dict[tuple[Any, ...], Signer] = {}


def process_signer(settings: Any) -> Signer:
    """The process's one signer for these settings (built and checked on first call)."""
    key = (str(settings.signing_cert), str(settings.signing_key), str(settings.keys_dir), settings.env)
    signer = _signers.get(key)
    if signer is None:
        with _lock:
            signer = _signers.get(key)
            if signer is None:
                signer = PemFileSigner(credentials_from_settings(settings))
                _signers[key] = signer
    return signer
