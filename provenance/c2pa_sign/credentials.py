"""The operator's signing credentials: loading, checking, and the development CA.

Why checked at start-up: a C2PA manifest signed with an expired certificate, or with a key that
is not the certificate's, fails validation in every reader — and a gateway that notices only
when a user complains has released unverifiable images. So the chain and key are checked before
the first request: files present and readable, key matches the leaf, every certificate inside
its validity period, each certificate issued by the next, the leaf an end-entity signing
certificate. Every failure is a :class:`ConfigError`
naming the file and what to do.

Development: with no ``ASSAY_SIGNING_CERT``/``ASSAY_SIGNING_KEY``, a development CA and leaf are
generated into ``<data_dir>/keys`` (once; the leaf is re-issued when it nears expiry). With
``ASSAY_ENV=production`` this is refused, as is a development certificate configured by path.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID, ObjectIdentifier

from core.errors import ConfigError
from core.settings import DEV_SIGNING_CHAIN_FILE
from provenance.keys import check_key_file_mode, read_private, write_private

log = logging.getLogger("assay.signing")

PrivateKey = ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey | ed25519.Ed25519PrivateKey

#: the usual extended key usages of a C2PA claim-signing certificate; a leaf without one of them
#: is not refused here (the start-up probe signature decides) but the probe's error names them
COMMON_C2PA_EKUS = frozenset(
    {
        ExtendedKeyUsageOID.EMAIL_PROTECTION,
        ObjectIdentifier("1.3.6.1.5.5.7.3.36"),  # id-kp-documentSigning
    }
)

DEV_CA_CERT = "dev-ca.pem"
DEV_CA_KEY = "dev-ca.key.pem"
DEV_CHAIN = DEV_SIGNING_CHAIN_FILE  # core.settings refuses it in production by this name
DEV_KEY = "dev-signer.key.pem"
DEV_ORG = "Assay development CA (not for production)"
#: a development leaf is re-issued when it has less than this left
DEV_RENEW_BEFORE = dt.timedelta(days=7)


def _now(now: dt.datetime | None) -> dt.datetime:
    return now if now is not None else dt.datetime.now(dt.UTC)


def algorithm_for(key: PrivateKey) -> str:
    """The C2PA signing algorithm (lower-case, as c2pa-rs spells it) for a private key."""
    if isinstance(key, ec.EllipticCurvePrivateKey):
        algs = {"secp256r1": "es256", "secp384r1": "es384", "secp521r1": "es512"}
        if key.curve.name not in algs:
            raise ConfigError(
                f"EC curve {key.curve.name} is not usable for C2PA", hint="use P-256, P-384 or P-521"
            )
        return algs[key.curve.name]
    if isinstance(key, rsa.RSAPrivateKey):
        if key.key_size < 2048:
            raise ConfigError(
                f"RSA key of {key.key_size} bits is too short for C2PA", hint="use 2048 bits or more"
            )
        return "ps256"
    if isinstance(key, ed25519.Ed25519PrivateKey):
        return "ed25519"
    raise ConfigError(
        f"unsupported private key type {type(key).__name__}",
        hint="use an EC (P-256/384/521), RSA (PSS) or Ed25519 key",
    )


@dataclass(frozen=True)
class SigningCredentials:
    """A checked certificate chain (leaf first) and its private key."""

    chain: tuple[x509.Certificate, ...]
    key: PrivateKey
    alg: str
    cert_path: Path
    key_path: Path
    development: bool = False

    @property
    def leaf(self) -> x509.Certificate:
        return self.chain[0]

    @property
    def not_after(self) -> dt.datetime:
        return self.leaf.not_valid_after_utc

    @property
    def subject(self) -> str:
        return self.leaf.subject.rfc4514_string()

    def chain_pem(self) -> bytes:
        return b"".join(c.public_bytes(serialization.Encoding.PEM) for c in self.chain)

    def key_pem(self) -> bytes:
        return self.key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )


def _read(path: Path, what: str, env: str) -> bytes:
    try:
        return path.read_bytes()
    except FileNotFoundError:
        raise ConfigError(
            f"{what} not found: {path}", param=env, hint=f"point {env} at an existing PEM file"
        ) from None
    except OSError as exc:
        raise ConfigError(f"cannot read {what} {path}: {exc.strerror or exc}", param=env) from exc


def load_chain(path: Path) -> tuple[x509.Certificate, ...]:
    data = _read(path, "signing certificate", "ASSAY_SIGNING_CERT")
    try:
        chain = tuple(x509.load_pem_x509_certificates(data))
    except ValueError as exc:
        raise ConfigError(
            f"{path} holds no readable PEM certificate: {exc}",
            param="ASSAY_SIGNING_CERT",
            hint="the file must be a PEM chain, leaf certificate first",
        ) from exc
    return chain


def load_key(path: Path) -> PrivateKey:
    data = _read(path, "signing key", "ASSAY_SIGNING_KEY")
    try:
        key = serialization.load_pem_private_key(data, password=None)
    except TypeError as exc:
        raise ConfigError(
            f"{path} is an encrypted private key; Assay reads unencrypted PKCS#8 PEM",
            param="ASSAY_SIGNING_KEY",
            hint="decrypt it (openssl pkcs8 -topk8 -nocrypt) and protect the file with "
            "permissions, or use an HSM/KMS signer",
        ) from exc
    except (ValueError, UnsupportedAlgorithm) as exc:
        raise ConfigError(
            f"{path} holds no readable PEM private key: {exc}", param="ASSAY_SIGNING_KEY"
        ) from exc
    if not isinstance(key, (ec.EllipticCurvePrivateKey, rsa.RSAPrivateKey, ed25519.Ed25519PrivateKey)):
        raise ConfigError(f"{path}: unsupported key type {type(key).__name__}", param="ASSAY_SIGNING_KEY")
    check_key_file_mode(path, env="ASSAY_SIGNING_KEY")
    return key


def _pub(obj) -> bytes:  # noqa: ANN001 - a public key
    return obj.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)


def check_chain(
    chain: tuple[x509.Certificate, ...],
    key: PrivateKey,
    *,
    now: dt.datetime | None = None,
    where: str = "the signing certificate",
) -> str:
    """Check a chain and key for C2PA signing; return the algorithm. Raises :class:`ConfigError`."""
    t = _now(now)
    if not chain:
        raise ConfigError(f"{where} holds no certificate", param="ASSAY_SIGNING_CERT")
    leaf = chain[0]
    if _pub(leaf.public_key()) != _pub(key.public_key()):
        raise ConfigError(
            f"the signing key does not match the certificate {leaf.subject.rfc4514_string()!r} in {where}",
            param="ASSAY_SIGNING_KEY",
            hint="ASSAY_SIGNING_KEY must be the private key of the "
            "first (leaf) certificate of ASSAY_SIGNING_CERT",
        )
    for i, cert in enumerate(chain):
        name = "the leaf certificate" if i == 0 else f"certificate {i + 1} of the chain"
        if t < cert.not_valid_before_utc:
            raise ConfigError(
                f"{name} ({cert.subject.rfc4514_string()}) in {where} is not valid before "
                f"{cert.not_valid_before_utc.isoformat()}",
                param="ASSAY_SIGNING_CERT",
                hint="check the system clock or use a certificate that is valid now",
            )
        if t > cert.not_valid_after_utc:
            raise ConfigError(
                f"{name} ({cert.subject.rfc4514_string()}) in {where} expired on "
                f"{cert.not_valid_after_utc.isoformat()}",
                param="ASSAY_SIGNING_CERT",
                hint="renew the certificate and restart the gateway",
            )
        if i + 1 < len(chain):
            try:
                cert.verify_directly_issued_by(chain[i + 1])
            except (ValueError, TypeError, InvalidSignature) as exc:
                raise ConfigError(
                    f"certificate {i + 2} of {where} did not issue certificate {i + 1}",
                    param="ASSAY_SIGNING_CERT",
                    hint="order the PEM chain leaf first, then each issuer",
                ) from exc
    try:
        if leaf.extensions.get_extension_for_class(x509.BasicConstraints).value.ca:
            raise ConfigError(
                f"the leaf certificate in {where} is a CA certificate",
                param="ASSAY_SIGNING_CERT",
                hint="sign with an end-entity certificate issued by your CA",
            )
    except x509.ExtensionNotFound:
        pass
    try:
        ku = leaf.extensions.get_extension_for_class(x509.KeyUsage).value
        if not ku.digital_signature:
            raise ConfigError(
                f"the leaf certificate in {where} lacks the digitalSignature key usage",
                param="ASSAY_SIGNING_CERT",
            )
    except x509.ExtensionNotFound:
        pass
    return algorithm_for(key)


def has_common_eku(cert: x509.Certificate) -> bool:
    try:
        return bool(
            set(cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value) & COMMON_C2PA_EKUS
        )
    except x509.ExtensionNotFound:
        return False


def load_credentials(
    cert_path: Path, key_path: Path, *, now: dt.datetime | None = None, development: bool = False
) -> SigningCredentials:
    chain = load_chain(cert_path)
    key = load_key(key_path)
    alg = check_chain(chain, key, now=now, where=str(cert_path))
    return SigningCredentials(chain, key, alg, cert_path, key_path, development)


# --- development CA ------------------------------------------------------------------------------
def _name(cn: str, org: str) -> x509.Name:
    return x509.Name(
        [x509.NameAttribute(NameOID.COMMON_NAME, cn), x509.NameAttribute(NameOID.ORGANIZATION_NAME, org)]
    )


def _ku(*, sign: bool, ca: bool) -> x509.KeyUsage:
    return x509.KeyUsage(
        digital_signature=sign,
        content_commitment=False,
        key_encipherment=False,
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=ca,
        crl_sign=ca,
        encipher_only=False,
        decipher_only=False,
    )


def make_ca(
    common_name: str,
    *,
    now: dt.datetime,
    days: int = 3650,
    organization: str = DEV_ORG,
    key: ec.EllipticCurvePrivateKey | None = None,
) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
    """A self-signed P-256 CA certificate (for development and tests)."""
    key = key or ec.generate_private_key(ec.SECP256R1())
    name = _name(common_name, organization)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=days))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(_ku(sign=False, ca=True), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )
    return cert, key


def make_leaf(
    ca: x509.Certificate,
    ca_key: ec.EllipticCurvePrivateKey,
    common_name: str,
    *,
    now: dt.datetime,
    days: int = 90,
    not_before: dt.datetime | None = None,
    organization: str = DEV_ORG,
    key: PrivateKey | None = None,
    eku: list[ObjectIdentifier] | None = None,
) -> tuple[x509.Certificate, PrivateKey]:
    """An end-entity claim-signing certificate issued by ``ca`` (for development and tests)."""
    key = key or ec.generate_private_key(ec.SECP256R1())
    start = not_before or (now - dt.timedelta(minutes=5))
    cert = (
        x509.CertificateBuilder()
        .subject_name(_name(common_name, organization))
        .issuer_name(ca.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(start)
        .not_valid_after(now + dt.timedelta(days=days))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(_ku(sign=True, ca=False), critical=True)
        .add_extension(x509.ExtendedKeyUsage(eku or [ExtendedKeyUsageOID.EMAIL_PROTECTION]), critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False
        )
        .sign(ca_key, hashes.SHA256())
    )
    return cert, key


def _pem_cert(*certs: x509.Certificate) -> bytes:
    return b"".join(c.public_bytes(serialization.Encoding.PEM) for c in certs)


def _pem_key(key: PrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


def _write_private(path: Path, data: bytes) -> None:
    write_private(path, data, replace=True)


@contextlib.contextmanager
def _dir_lock(folder: Path) -> Iterator[None]:
    """Serialise generation across processes (replicas starting at once share the data dir)."""
    folder.mkdir(parents=True, exist_ok=True)
    fd = os.open(folder / ".dev-ca.lock", os.O_RDWR | os.O_CREAT, 0o600)
    try:
        try:
            import fcntl

            fcntl.flock(fd, fcntl.LOCK_EX)
        except ImportError:  # pragma: no cover - not POSIX
            pass
        yield
    finally:
        os.close(fd)


def ensure_dev_credentials(
    keys_dir: Path, *, now: dt.datetime | None = None, signer_name: str = "Assay development signer"
) -> tuple[Path, Path]:
    """Create (once) a development CA and claim-signing leaf in ``keys_dir``; return (chain, key) paths.

    The CA is kept so that the leaf can be re-issued when it nears expiry; the leaf chain is
    written leaf first. Files are written atomically with mode 0600.
    """
    t = _now(now)
    keys_dir = Path(keys_dir)
    chain_path, key_path = keys_dir / DEV_CHAIN, keys_dir / DEV_KEY
    with _dir_lock(keys_dir):
        ca_path, ca_key_path = keys_dir / DEV_CA_CERT, keys_dir / DEV_CA_KEY
        if ca_path.exists() and ca_key_path.exists():
            ca = x509.load_pem_x509_certificate(ca_path.read_bytes())
            ca_key = serialization.load_pem_private_key(
                read_private(ca_key_path, what="development CA key"), None
            )
            if t > ca.not_valid_after_utc - DEV_RENEW_BEFORE:
                ca, ca_key = make_ca("Assay Development Root CA", now=t)
                _write_private(ca_key_path, _pem_key(ca_key))
                _write_private(ca_path, _pem_cert(ca))
        else:
            ca, ca_key = make_ca("Assay Development Root CA", now=t)
            _write_private(ca_key_path, _pem_key(ca_key))
            _write_private(ca_path, _pem_cert(ca))
        fresh = False
        if chain_path.exists() and key_path.exists():
            try:
                chain = tuple(x509.load_pem_x509_certificates(chain_path.read_bytes()))
                fresh = (
                    len(chain) == 2 and chain[1] == ca and t < chain[0].not_valid_after_utc - DEV_RENEW_BEFORE
                )
            except ValueError:
                fresh = False
        if not fresh:
            leaf, leaf_key = make_leaf(ca, ca_key, signer_name, now=t)  # type: ignore[arg-type]
            _write_private(key_path, _pem_key(leaf_key))
            _write_private(chain_path, _pem_cert(leaf, ca))
    return chain_path, key_path


def is_dev_path(path: Path, keys_dir: Path) -> bool:
    try:
        return Path(path).resolve() == (Path(keys_dir) / DEV_CHAIN).resolve()
    except OSError:  # pragma: no cover
        return False


def credentials_from_settings(settings, *, now: dt.datetime | None = None) -> SigningCredentials:  # noqa: ANN001
    """The operator's checked credentials, or the development ones (generated if needed).

    Raises :class:`ConfigError` for half a configuration, for anything :func:`check_chain`
    rejects, and in production for a missing or development certificate.
    """
    cert, key = settings.signing_cert, settings.signing_key
    if (cert is None) != (key is None):
        missing = "ASSAY_SIGNING_KEY" if key is None else "ASSAY_SIGNING_CERT"
        raise ConfigError(
            f"{missing} is not set while its pair is",
            param=missing,
            hint="set both ASSAY_SIGNING_CERT (PEM chain, leaf first) and ASSAY_SIGNING_KEY "
            "(PKCS#8 PEM), or neither in development",
        )
    if cert is None:
        if settings.is_production:
            raise ConfigError(
                "ASSAY_ENV=production needs the operator's signing certificate; none is configured",
                param="ASSAY_SIGNING_CERT",
                hint="set ASSAY_SIGNING_CERT and ASSAY_SIGNING_KEY to your C2PA claim-signing chain and key "
                "(see README, 'Signing certificates'); development certificates are refused in production",
            )
        cert, key = ensure_dev_credentials(
            settings.keys_dir, now=now, signer_name=f"{settings.provider_name} development signer"
        )
        return load_credentials(Path(cert), Path(key), now=now, development=True)
    cert, key = Path(cert), Path(key)
    creds = load_credentials(cert, key, now=now)
    dev = is_dev_path(cert, settings.keys_dir) or any(
        a.value == DEV_ORG
        for c in creds.chain
        for a in c.subject.get_attributes_for_oid(NameOID.ORGANIZATION_NAME)
    )
    if dev and settings.is_production:
        raise ConfigError(
            f"{cert} is a generated development certificate; ASSAY_ENV=production refuses it",
            param="ASSAY_SIGNING_CERT",
            hint="use the operator's own claim-signing certificate",
        )
    return SigningCredentials(creds.chain, creds.key, creds.alg, cert, key, development=dev)
