"""Witness cosignatures of checkpoints (C2SP tlog-cosignature, tlog-witness): both sides.

Why: a signed checkpoint proves what the operator says, not that it says the same to everyone.
A witness, run by someone else, remembers the last checkpoint it cosigned for a log and cosigns
a new one only with a consistency proof from that one; a checkpoint that k of n independent
witnesses cosigned cannot be a split view unless they all collude.

* :class:`Cosigner` / :class:`CosignerKey`: Ed25519 ``cosignature/v1`` keys (key id algorithm
  byte 0x04, a timestamped signature over ``cosignature/v1\\ntime <t>\\n`` + checkpoint text).
* :class:`Witness`: the witness of other operators' logs (``assay audit witness``): verifies the
  log's signature, the old size against its own state (409 with its size), the consistency proof
  (422), then persists the new state atomically and returns its cosignature line.
* :class:`WitnessCollector`: this log's side: sends each new checkpoint to the configured
  witnesses with a consistency proof from the size each last cosigned, stores the cosignatures
  in the stored note (one note, all its signatures: served as is at ``/log/checkpoint``), and
  tells which checkpoint is *published*: the newest with at least k valid cosignatures.

Imports: ``core``, ``provenance.keys`` and ``provenance.ledger`` only; HTTP comes in as a function.
"""

from __future__ import annotations

import base64
import binascii
import fcntl
import hashlib
import json
import logging
import os
import struct
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, NoEncryption, PrivateFormat, PublicFormat
from sqlalchemy import desc, select, update

from core.errors import AssayError, ConfigError, Forbidden, InvalidRequest, NotFound
from core.store import table_of
from core.store.locks import exclusive
from provenance.keys import read_private, write_private
from provenance.ledger.checkpoint import CHECKPOINT_LOCK, Checkpoint, Checkpoints, parse_checkpoint
from provenance.ledger.merkle import EMPTY_ROOT, HASH_SIZE, ProofError, verify_consistency
from provenance.ledger.note import SIG_PREFIX, NoteError, NoteVerifier, split_note
from provenance.ledger.tables import LedgerCheckpointRow

log = logging.getLogger("assay.ledger.witness")

ALG_COSIGNATURE_V1 = 0x04
COSIGNATURE_HEADER = "cosignature/v1\n"
#: the most consistency proof lines a request may carry (tlog-witness)
MAX_PROOF_LINES = 63
WITNESS_SKEY_FILE = "witness.skey"
WITNESS_VKEY_FILE = "witness.vkey"
_cp_t = table_of(LedgerCheckpointRow)


def _b64(text: str, what: str) -> bytes:
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise InvalidRequest(f"{what} is not base64") from None


def cosignature_key_id(name: str, public_key: bytes) -> bytes:
    return hashlib.sha256(name.encode() + b"\n" + bytes([ALG_COSIGNATURE_V1]) + public_key).digest()[:4]


def cosigned_message(checkpoint_text: str, timestamp: int) -> bytes:
    """What a cosignature/v1 signs: the header, the time line, then the checkpoint's text."""
    return f"{COSIGNATURE_HEADER}time {timestamp}\n{checkpoint_text}".encode()


@dataclass(frozen=True)
class CosignerKey:
    """A witness's public key, as a vkey ``<name>+<key id hex>+base64(0x04 ‖ key)``."""

    name: str
    public_key: bytes

    @property
    def key_id(self) -> bytes:
        return cosignature_key_id(self.name, self.public_key)

    def vkey(self) -> str:
        raw = base64.b64encode(bytes([ALG_COSIGNATURE_V1]) + self.public_key).decode()
        return f"{self.name}+{self.key_id.hex()}+{raw}"

    @classmethod
    def from_vkey(cls, vkey: str) -> CosignerKey:
        parts = vkey.strip().split("+", 2)
        if len(parts) != 3 or not parts[0] or any(c.isspace() for c in parts[0]):
            raise ConfigError(
                f"witness key {vkey[:60]!r} does not read <name>+<key id hex>+<base64 key>",
                param="witness",
            )
        name, hexid, b64 = parts
        try:
            raw = base64.b64decode(b64, validate=True)
            kid = bytes.fromhex(hexid)
        except (binascii.Error, ValueError):
            raise ConfigError(f"witness key {name!r} has bad hex or base64", param="witness") from None
        if len(raw) != 33 or raw[0] != ALG_COSIGNATURE_V1:
            raise ConfigError(
                f"witness key {name!r} is not an Ed25519 cosignature/v1 (type 0x04) key",
                param="witness",
            )
        key = cls(name, raw[1:])
        if key.key_id != kid:
            raise ConfigError(f"witness key {name!r}: key id {hexid} does not match the key", param="witness")
        return key

    def verify(self, checkpoint_text: str, raw: bytes) -> int:
        """Check one cosignature (key id ‖ u64 time ‖ signature) on the text; its timestamp."""
        if len(raw) != 4 + 8 + 64 or raw[:4] != self.key_id:
            raise NoteError(f"not a cosignature/v1 by witness {self.name}")
        (timestamp,) = struct.unpack(">Q", raw[4:12])
        if timestamp >= 1 << 63:
            raise NoteError(f"cosignature by {self.name} has a timestamp beyond 2^63-1")
        try:
            Ed25519PublicKey.from_public_bytes(self.public_key).verify(
                raw[12:], cosigned_message(checkpoint_text, timestamp)
            )
        except InvalidSignature:
            raise NoteError(f"the cosignature by witness {self.name} is invalid") from None
        return timestamp

    def cosigned_at(self, note: str) -> int | None:
        """The timestamp of this witness's valid cosignature on ``note``, or None."""
        text, sigs = split_note(note)
        for name, raw in sigs:
            if name == self.name and raw[:4] == self.key_id:
                try:
                    return self.verify(text, raw)
                except NoteError:
                    return None
        return None


class Cosigner:
    """A witness's private key: cosigns checkpoints."""

    def __init__(self, name: str, key: Ed25519PrivateKey) -> None:
        if not name or any(c.isspace() or c == "+" for c in name):
            raise ConfigError(f"witness name {name!r} must be non-empty, without spaces or '+'")
        self.name = name
        self._key = key
        self.public = CosignerKey(name, key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw))

    @classmethod
    def generate(cls, name: str) -> Cosigner:
        return cls(name, Ed25519PrivateKey.generate())

    def skey(self) -> str:
        seed = self._key.private_bytes(Encoding.Raw, PrivateFormat.Raw, NoEncryption())
        raw = base64.b64encode(bytes([ALG_COSIGNATURE_V1]) + seed).decode()
        return f"PRIVATE+KEY+{self.name}+{self.public.key_id.hex()}+{raw}"

    @classmethod
    def from_skey(cls, skey: str) -> Cosigner:
        parts = skey.strip().split("+", 4)
        if len(parts) != 5 or parts[:2] != ["PRIVATE", "KEY"]:
            raise ConfigError("a witness key reads PRIVATE+KEY+<name>+<key id hex>+<base64 key>")
        name, hexid, b64 = parts[2:]
        try:
            raw = base64.b64decode(b64, validate=True)
        except (binascii.Error, ValueError):
            raise ConfigError("witness key has bad base64") from None
        if len(raw) != 33 or raw[0] != ALG_COSIGNATURE_V1:
            raise ConfigError("witness key is not an Ed25519 cosignature/v1 (type 0x04) key")
        signer = cls(name, Ed25519PrivateKey.from_private_bytes(raw[1:]))
        if signer.public.key_id.hex() != hexid.lower():
            raise ConfigError(f"witness key id {hexid} does not match the key")
        return signer

    def cosign(self, checkpoint_text: str, timestamp: int) -> str:
        """The note signature line of a cosignature/v1 on the checkpoint text."""
        sig = self._key.sign(cosigned_message(checkpoint_text, timestamp))
        raw = self.public.key_id + struct.pack(">Q", timestamp) + sig
        return f"{SIG_PREFIX}{self.name} {base64.b64encode(raw).decode()}\n"


def load_cosigner(state_dir: Path, name: str | None) -> Cosigner:
    """The witness key in ``state_dir`` (created 0600 on first use, when ``name`` is given)."""
    path = state_dir / WITNESS_SKEY_FILE
    if path.exists():
        cosigner = Cosigner.from_skey(read_private(path, what="witness key").decode("utf-8"))
        if name is not None and name != cosigner.name:
            raise ConfigError(
                f"the witness key in {path} is named {cosigner.name!r}, not {name!r}",
                hint="drop --name, or use another --state-dir for another witness",
            )
        return cosigner
    if not name:
        raise ConfigError(f"no witness key at {path}", hint="give --name to create one")
    state_dir.mkdir(parents=True, exist_ok=True)
    cosigner = Cosigner.generate(name)
    if not write_private(path, (cosigner.skey() + "\n").encode()):
        return load_cosigner(state_dir, name)  # another process created it first
    (state_dir / WITNESS_VKEY_FILE).write_text(cosigner.public.vkey() + "\n")
    return cosigner


# --- the witness ---------------------------------------------------------------------------------
class WitnessConflict(AssayError):
    """The old size is not the size the witness last cosigned (409, body: that size)."""

    code = "witness_conflict"
    status = 409

    def __init__(self, message: str, *, size: int) -> None:
        super().__init__(message, hint=f"send old {size} and a consistency proof from that size")
        self.size = size


class WitnessUnprocessable(AssayError):
    """The checkpoint is not consistent with what the witness cosigned before (422)."""

    code = "witness_inconsistent"
    status = 422


@dataclass(frozen=True)
class AddCheckpoint:
    old_size: int
    proof: list[bytes]
    note: str


def parse_add_checkpoint(body: str) -> AddCheckpoint:
    """Parse an add-checkpoint body: ``old <n>``, proof lines, a blank line, the checkpoint note."""
    head, sep, note = body.partition("\n\n")
    if not sep:
        raise InvalidRequest("add-checkpoint body needs a blank line before the checkpoint")
    lines = head.split("\n")
    first = lines[0]
    size_text = first[4:] if first.startswith("old ") else ""
    if not size_text.isdigit() or (len(size_text) > 1 and size_text[0] == "0"):
        raise InvalidRequest(f"first line {first[:40]!r} is not 'old <size>' in decimal")
    if len(lines) - 1 > MAX_PROOF_LINES:
        raise InvalidRequest(f"more than {MAX_PROOF_LINES} consistency proof lines")
    proof = [_b64(line, "a consistency proof line") for line in lines[1:]]
    if any(len(p) != HASH_SIZE for p in proof):
        raise InvalidRequest(f"a consistency proof line is not a {HASH_SIZE}-byte hash")
    return AddCheckpoint(int(size_text), proof, note)


class Witness:
    """A witness for other operators' logs: one cosigner key, one state file of sizes and roots.

    The state (origin -> the size and root it last cosigned) is read, checked and replaced
    under a process lock and an exclusive file lock, and written (fsync, rename) before the
    cosignature is returned, so two concurrent requests cannot roll the state back.
    """

    def __init__(
        self,
        cosigner: Cosigner,
        logs: Sequence[NoteVerifier],
        state_path: Path,
        *,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if not logs:
            raise ConfigError("a witness needs at least one log key", hint="pass --log-key <vkey>")
        self.cosigner = cosigner
        self.logs = {v.name: v for v in logs}
        self.state_path = state_path
        self._clock = clock
        self._lock = threading.Lock()

    def state(self) -> dict[str, dict[str, object]]:
        try:
            data = json.loads(self.state_path.read_text())
        except FileNotFoundError:
            return {}
        if not isinstance(data, dict):
            raise ConfigError(f"witness state {self.state_path} is not a JSON object")
        return data

    def _write(self, data: dict[str, dict[str, object]]) -> None:
        tmp = self.state_path.with_suffix(".tmp")
        with open(tmp, "w") as f:
            json.dump(data, f, indent=1, sort_keys=True)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, self.state_path)

    def add_checkpoint(self, body: str) -> str:
        """Check a submission and cosign it; raises the error whose status the spec names."""
        req = parse_add_checkpoint(body)
        try:
            text, _ = split_note(req.note)
        except NoteError as exc:
            raise InvalidRequest(f"the checkpoint is not a signed note: {exc.message}") from None
        origin = text.split("\n", 1)[0]
        verifier = self.logs.get(origin)
        if verifier is None:
            raise NotFound(f"this witness does not witness the log {origin!r}")
        try:
            cp = parse_checkpoint(req.note, verifier)
        except NoteError as exc:
            raise Forbidden(f"checkpoint of {origin!r} not signed by its key: {exc.message}") from None
        if req.old_size > cp.size:
            raise InvalidRequest(f"old size {req.old_size} is larger than the checkpoint size {cp.size}")
        if cp.size == 0 and cp.root != EMPTY_ROOT:
            raise WitnessUnprocessable("a checkpoint of size 0 must have the empty tree's root")
        self.state_path.parent.mkdir(parents=True, exist_ok=True)
        with self._lock, open(self.state_path.with_suffix(".lock"), "a") as lockf:
            fcntl.flock(lockf, fcntl.LOCK_EX)
            state = self.state()
            known = state.get(origin) or {}
            known_size = int(known.get("size", 0))  # type: ignore[call-overload]
            if req.old_size != known_size:
                raise WitnessConflict(
                    f"old size {req.old_size} is not the last size cosigned ({known_size})",
                    size=known_size,
                )
            if req.old_size == 0:
                if req.proof:
                    raise WitnessUnprocessable("a consistency proof from size 0 must be empty")
            else:
                old_root = base64.b64decode(str(known["root"]))
                try:
                    verify_consistency(req.old_size, cp.size, req.proof, old_root, cp.root)
                except ProofError as exc:
                    log.warning("witness refused %s at size %d: %s", origin, cp.size, exc.message)
                    raise WitnessUnprocessable(
                        f"checkpoint of size {cp.size} is not consistent with the one cosigned at "
                        f"size {req.old_size}: {exc.message}"
                    ) from None
            line = self.cosigner.cosign(text, int(self._clock()))
            state[origin] = {"size": cp.size, "root": cp.root_b64}
            self._write(state)
        return line


# --- this log's side -------------------------------------------------------------------------------
@dataclass(frozen=True)
class WitnessEndpoint:
    """A witness this log asks: its key and its submission prefix (``.../add-checkpoint`` below)."""

    key: CosignerKey
    url: str


def parse_witnesses(text: str | None) -> list[WitnessEndpoint]:
    """``<vkey> <url>`` per entry, entries separated by newlines or commas."""
    out: list[WitnessEndpoint] = []
    for entry in (text or "").replace(",", "\n").splitlines():
        entry = entry.strip()
        if not entry:
            continue
        parts = entry.split()
        if len(parts) != 2 or not parts[1].startswith(("http://", "https://")):
            raise ConfigError(
                f"witness entry {entry[:80]!r} does not read '<vkey> <http(s) url>'",
                param="ASSAY_LEDGER_WITNESSES",
            )
        out.append(WitnessEndpoint(CosignerKey.from_vkey(parts[0]), parts[1].rstrip("/")))
    if len({w.key.name for w in out}) != len(out):
        raise ConfigError("two configured witnesses have the same name", param="ASSAY_LEDGER_WITNESSES")
    return out


@dataclass(frozen=True)
class Response:
    status: int
    text: str


#: (url, body) -> response; the gateway passes an HTTP client, tests may pass a witness directly
Post = Callable[[str, str], Response]


@dataclass(frozen=True)
class CollectResult:
    size: int
    cosigned_by: list[str]
    refused: dict[str, str]  # witness name -> why
    published: bool


class WitnessCollector:
    """Collects cosignatures on this log's checkpoints and says which checkpoint is published."""

    def __init__(
        self, checkpoints: Checkpoints, witnesses: Sequence[WitnessEndpoint], quorum: int, post: Post
    ) -> None:
        if witnesses and not 1 <= quorum <= len(witnesses):
            raise ConfigError(
                f"witness quorum {quorum} is outside 1..{len(witnesses)} configured witnesses",
                param="ASSAY_LEDGER_WITNESS_QUORUM",
            )
        self.checkpoints = checkpoints
        self.witnesses = list(witnesses)
        self.quorum = quorum
        self._post = post

    @property
    def ledger(self):  # noqa: ANN201
        return self.checkpoints.ledger

    def _stored(self, limit: int | None = None) -> list[Checkpoint]:
        stmt = select(_cp_t.c.note, _cp_t.c.created_at).order_by(desc(_cp_t.c.size))
        if limit is not None:
            stmt = stmt.limit(limit)
        with self.ledger.db.session() as s:
            rows = s.execute(stmt).all()
        out = []
        for r in rows:
            cp = parse_checkpoint(r.note, self.checkpoints.verifier)
            out.append(Checkpoint(cp.origin, cp.size, cp.root, cp.note, r.created_at))
        return out

    def cosigners(self, cp: Checkpoint) -> list[str]:
        """The configured witnesses whose valid cosignature the checkpoint's note carries."""
        return [w.key.name for w in self.witnesses if w.key.cosigned_at(cp.note) is not None]

    def is_published(self, cp: Checkpoint) -> bool:
        return not self.witnesses or len(self.cosigners(cp)) >= self.quorum

    def published(self) -> Checkpoint | None:
        """The newest checkpoint with at least ``quorum`` cosignatures (any, with no witnesses)."""
        if not self.witnesses:
            return self.checkpoints.latest()
        for cp in self._stored(limit=64):
            if self.is_published(cp):
                return cp
        return None

    def _last_cosigned_size(self, w: WitnessEndpoint, below: int) -> int:
        for cp in self._stored(limit=64):
            if cp.size <= below and w.key.cosigned_at(cp.note) is not None:
                return cp.size
        return 0

    def _body(self, old: int, cp: Checkpoint) -> str:
        proof = self.ledger.consistency_proof(old, cp.size) if 0 < old < cp.size else []
        lines = [f"old {old}"] + [base64.b64encode(p).decode() for p in proof]
        return "\n".join(lines) + "\n\n" + cp.note

    def _ask(self, w: WitnessEndpoint, cp: Checkpoint) -> str:
        """One witness's cosignature line on ``cp``; raises AssayError saying why not."""
        old = self._last_cosigned_size(w, cp.size)
        for _ in range(2):
            resp = self._post(f"{w.url}/add-checkpoint", self._body(old, cp))
            if resp.status == 409:
                text = resp.text.strip()
                if not text.isdigit() or int(text) > cp.size or int(text) == old:
                    raise WitnessConflict(f"witness {w.key.name} holds size {text[:20]!r}", size=old)
                old = int(text)
                continue
            if resp.status != 200:
                raise InvalidRequest(f"witness {w.key.name} answered {resp.status}: {resp.text[:200]}")
            text, _ = split_note(cp.note)
            for line in resp.text.splitlines():
                if not line.startswith(SIG_PREFIX):
                    continue
                name, _, b64 = line[len(SIG_PREFIX) :].rpartition(" ")
                if name != w.key.name:
                    continue  # other keys of the witness: ignored
                try:
                    w.key.verify(text, base64.b64decode(b64, validate=True))
                except (NoteError, binascii.Error, ValueError):
                    continue
                return line + "\n"
            raise InvalidRequest(f"witness {w.key.name} returned no valid cosignature by its key")
        raise WitnessConflict(f"witness {w.key.name} kept answering 409", size=old)

    def _store(self, size: int, lines: list[str]) -> Checkpoint:
        with exclusive(self.ledger.db, CHECKPOINT_LOCK) as s:
            note = s.execute(select(_cp_t.c.note).where(_cp_t.c.size == size)).scalar_one()
            have = {line for line in note.splitlines(keepends=True)}
            new = note + "".join(line for line in lines if line not in have)
            parse_checkpoint(new, self.checkpoints.verifier)  # still this log's valid checkpoint
            s.execute(update(_cp_t).where(_cp_t.c.size == size).values(note=new))
        cp = parse_checkpoint(new, self.checkpoints.verifier)
        return cp

    def collect(self, cp: Checkpoint | None = None) -> CollectResult:
        """Ask every witness that has not cosigned ``cp`` (default: the newest checkpoint)."""
        cp = cp or self.checkpoints.create()
        have = set(self.cosigners(cp))
        lines: list[str] = []
        refused: dict[str, str] = {}
        for w in self.witnesses:
            if w.key.name in have:
                continue
            try:
                lines.append(self._ask(w, cp))
            except AssayError as exc:
                refused[w.key.name] = exc.message
            except Exception as exc:  # noqa: BLE001 - a witness that is down is one refusal
                refused[w.key.name] = f"{exc.__class__.__name__}: {exc}"
        if lines:
            cp = self._store(cp.size, lines)
        for name, why in refused.items():
            log.warning("witness %s did not cosign size %d: %s", name, cp.size, why)
        cosigned = self.cosigners(cp)
        return CollectResult(cp.size, cosigned, refused, self.is_published(cp))
