"""C2SP signed notes with Ed25519 (https://c2sp.org/signed-note): sign, verify, key encodings.

Why this format: it is what transparency logs (Go's checksum database, Sigstore's Rekor v2,
Tessera) publish checkpoints in, so a third party can check an Assay checkpoint with existing
tools (e.g. ``golang.org/x/mod/sumdb/note``). The format is small and fixed; no maintained Python
package implements it, so it is written out here.

* note    = text (UTF-8 lines, each ending in ``\\n``) + ``\\n`` + signature lines
* sigline = ``— <key name> <base64(key id ‖ signature)>\\n`` (U+2014, a space)
* key id  = SHA-256(key name ‖ ``\\n`` ‖ 0x01 ‖ public key)[:4] for Ed25519 (algorithm byte 0x01)
* vkey    = ``<name>+<hex key id>+<base64(0x01 ‖ public key)>``
* skey    = ``PRIVATE+KEY+<name>+<hex key id>+<base64(0x01 ‖ private seed)>``

Cryptography errors are translated to :class:`~core.errors.IntegrityError` (bad signatures)
or :class:`~core.errors.ConfigError` (unusable keys) here, at one boundary.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
from dataclasses import dataclass

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, NoEncryption, PrivateFormat, PublicFormat

from core.errors import ConfigError, IntegrityError

ALG_ED25519 = 0x01
SIG_PREFIX = "\u2014 "
_NAME_RE = re.compile(r"^[^\s+]+$")


class NoteError(IntegrityError):
    """A signed note is malformed or carries no valid signature from the expected key."""

    code = "checkpoint_invalid"


def _b64decode(text: str, what: str) -> bytes:
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise NoteError(f"{what} is not valid base64") from exc


def key_id(name: str, public_key: bytes) -> bytes:
    return hashlib.sha256(name.encode() + b"\n" + bytes([ALG_ED25519]) + public_key).digest()[:4]


def _check_name(name: str) -> None:
    if not name or not _NAME_RE.match(name):
        raise ConfigError(f"signed-note key name {name!r} must be non-empty, without spaces or '+'")


@dataclass(frozen=True)
class NoteVerifier:
    """An Ed25519 public key with its name, as published in a vkey string."""

    name: str
    public_key: bytes

    @property
    def key_id(self) -> bytes:
        return key_id(self.name, self.public_key)

    def vkey(self) -> str:
        return (
            f"{self.name}+{self.key_id.hex()}+"
            f"{base64.b64encode(bytes([ALG_ED25519]) + self.public_key).decode()}"
        )

    @classmethod
    def from_vkey(cls, vkey: str) -> NoteVerifier:
        parts = vkey.strip().split("+", 2)
        if len(parts) != 3:
            raise ConfigError("a verifier key reads <name>+<key id hex>+<base64 key>", param="public_key")
        name, hexid, b64 = parts
        _check_name(name)
        try:
            raw = base64.b64decode(b64, validate=True)
            kid = bytes.fromhex(hexid)
        except (binascii.Error, ValueError):
            raise ConfigError("verifier key has bad hex or base64", param="public_key") from None
        if len(raw) != 33 or raw[0] != ALG_ED25519:
            raise ConfigError("verifier key is not an Ed25519 (algorithm 1) key", param="public_key")
        v = cls(name, raw[1:])
        if v.key_id != kid:
            raise ConfigError(f"verifier key id {hexid} does not match the key", param="public_key")
        return v

    def open(self, note: str) -> str:
        """Return the note's text if it carries a valid signature by this key; else raise NoteError."""
        text, sigs = split_note(note)
        pub = Ed25519PublicKey.from_public_bytes(self.public_key)
        found = False
        for name, raw in sigs:
            if name != self.name or raw[:4] != self.key_id:
                continue
            found = True
            try:
                pub.verify(raw[4:], text.encode("utf-8"))
            except InvalidSignature:
                raise NoteError(
                    f"the signature by {self.name} on this note is invalid",
                    hint="the note was altered after signing, or signed by another key",
                ) from None
            return text
        if not found:
            raise NoteError(f"the note carries no signature by key {self.name} ({self.key_id.hex()})")
        raise AssertionError("unreachable")  # pragma: no cover


class NoteSigner:
    """An Ed25519 private key that signs notes under a key name."""

    def __init__(self, name: str, private_key: Ed25519PrivateKey) -> None:
        _check_name(name)
        self.name = name
        self._key = private_key
        pub = private_key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
        self.verifier = NoteVerifier(name, pub)

    @classmethod
    def generate(cls, name: str) -> NoteSigner:
        return cls(name, Ed25519PrivateKey.generate())

    @classmethod
    def from_skey(cls, skey: str) -> NoteSigner:
        parts = skey.strip().split("+", 4)
        if len(parts) != 5 or parts[:2] != ["PRIVATE", "KEY"]:
            raise ConfigError("a signer key reads PRIVATE+KEY+<name>+<key id hex>+<base64 key>")
        name, hexid, b64 = parts[2:]
        try:
            raw = base64.b64decode(b64, validate=True)
        except (binascii.Error, ValueError):
            raise ConfigError("signer key has bad base64") from None
        if len(raw) != 33 or raw[0] != ALG_ED25519:
            raise ConfigError("signer key is not an Ed25519 (algorithm 1) key")
        signer = cls(name, Ed25519PrivateKey.from_private_bytes(raw[1:]))
        if signer.verifier.key_id.hex() != hexid.lower():
            raise ConfigError(f"signer key id {hexid} does not match the key")
        return signer

    def skey(self) -> str:
        seed = self._key.private_bytes(Encoding.Raw, PrivateFormat.Raw, NoEncryption())
        return (
            f"PRIVATE+KEY+{self.name}+{self.verifier.key_id.hex()}+"
            f"{base64.b64encode(bytes([ALG_ED25519]) + seed).decode()}"
        )

    def sign(self, text: str) -> str:
        """The signed note: ``text`` followed by a blank line and this key's signature line."""
        check_text(text)
        sig = self._key.sign(text.encode("utf-8"))
        return f"{text}\n{SIG_PREFIX}{self.name} {base64.b64encode(self.verifier.key_id + sig).decode()}\n"


def check_text(text: str) -> None:
    if not text.endswith("\n") or "\n\n" in text or text.startswith("\n"):
        raise NoteError("note text must be non-empty lines, each ending in a newline, with no blank line")
    if any(ord(c) < 0x20 and c != "\n" for c in text):
        raise NoteError("note text must not hold control characters")


def split_note(note: str) -> tuple[str, list[tuple[str, bytes]]]:
    """Split a signed note into its text and (key name, key id ‖ signature) pairs."""
    if not note.endswith("\n"):
        raise NoteError("a signed note ends with a newline")
    cut = note.rfind("\n\n")
    if cut < 0:
        raise NoteError("a signed note has a blank line between its text and its signatures")
    text = note[: cut + 1]
    check_text(text)
    sigs: list[tuple[str, bytes]] = []
    for line in note[cut + 2 :].splitlines():
        if not line.startswith(SIG_PREFIX):
            raise NoteError(f"signature line {line[:40]!r} does not start with '\u2014 '")
        name, sep, b64 = line[len(SIG_PREFIX) :].rpartition(" ")
        if not sep or not name:
            raise NoteError("a signature line reads '\u2014 <name> <base64>'")
        raw = _b64decode(b64, "signature")
        if len(raw) < 5:
            raise NoteError("a signature is too short")
        sigs.append((name, raw))
    if not sigs:
        raise NoteError("the note carries no signature")
    return text, sigs
