"""Signed checkpoints of the ledger (https://c2sp.org/tlog-checkpoint), their key, and their schedule.

A checkpoint is the statement "the log named <origin> had <size> records with root <hash>",
signed by the operator's Ed25519 key as a C2SP signed note. Published or handed to an auditor, it
pins the log: any later edit of a record below that size changes the root and is caught, even by
someone who trusts nothing but the public key.

The key lives in ``settings.keys_dir`` as ``ledger-checkpoint.skey`` (the signed-note signer key
string, whose name is the log's origin) with the public ``ledger-checkpoint.vkey`` beside it. In
development it is generated on first use; in production a missing key is a start-up error.
"""

from __future__ import annotations

import base64
import binascii
import logging
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from sqlalchemy import desc, insert, select

from core.errors import ConfigError
from core.settings import CHECKPOINT_KEY_FILE, CHECKPOINT_VKEY_FILE, Settings
from core.store import table_of
from core.store.locks import Leadership, exclusive
from provenance.keys import read_private, write_private
from provenance.ledger.log import Ledger
from provenance.ledger.note import NoteError, NoteSigner, NoteVerifier
from provenance.ledger.record import from_db_time, now_utc, to_db_time
from provenance.ledger.schedule import Periodic
from provenance.ledger.tables import LedgerCheckpointRow

log = logging.getLogger("assay.ledger")

SKEY_FILE = CHECKPOINT_KEY_FILE
VKEY_FILE = CHECKPOINT_VKEY_FILE
_cp_t = table_of(LedgerCheckpointRow)
#: the lock (in the database) under which any replica signs a checkpoint
CHECKPOINT_LOCK = "ledger-checkpoint"


@dataclass(frozen=True)
class Checkpoint:
    origin: str
    size: int
    root: bytes
    note: str  # the whole signed note
    created_at: datetime | None = None

    @property
    def root_b64(self) -> str:
        return base64.b64encode(self.root).decode()


def checkpoint_text(origin: str, size: int, root: bytes) -> str:
    return f"{origin}\n{size}\n{base64.b64encode(root).decode()}\n"


def parse_checkpoint(note: str, verifier: NoteVerifier) -> Checkpoint:
    """Verify the signature and parse the body; the origin must be the key's name."""
    text = verifier.open(note)
    lines = text.split("\n")[:-1]
    if len(lines) < 3:
        raise NoteError("a checkpoint has at least three lines: origin, size, root hash")
    origin, size_text, root_text = lines[:3]
    if origin != verifier.name:
        raise NoteError(f"checkpoint origin {origin!r} is not the log of key {verifier.name!r}")
    if not size_text.isdigit() or (len(size_text) > 1 and size_text[0] == "0"):
        raise NoteError(f"checkpoint size {size_text!r} is not a decimal number")
    try:
        root = base64.b64decode(root_text, validate=True)
    except (binascii.Error, ValueError):
        raise NoteError("checkpoint root is not base64") from None
    if len(root) != 32:
        raise NoteError(f"checkpoint root is {len(root)} bytes, expected 32")
    return Checkpoint(origin, int(size_text), root, note)


# --- the key ---------------------------------------------------------------------------------------
def new_origin(settings: Settings | None = None) -> str:
    """A log name unique to this deployment: <host>/assay-ledger/<random>."""
    host = "assay.local"
    if settings is not None and settings.public_base_url:
        host = settings.public_base_url.split("://", 1)[-1].split("/", 1)[0] or host
    return f"{host}/assay-ledger/{secrets.token_hex(4)}"


def write_key(signer: NoteSigner, keys_dir: Path) -> None:
    """Write the key pair; the secret file is created 0600 (never chmod-ed after). Raises
    ``FileExistsError`` when a key is there already (another process won the race, or a rotation
    that must move the old key away first)."""
    if not write_private(keys_dir / SKEY_FILE, (signer.skey() + "\n").encode()):
        raise FileExistsError(keys_dir / SKEY_FILE)
    (keys_dir / VKEY_FILE).write_text(signer.verifier.vkey() + "\n")


def _read_signer(path: Path) -> NoteSigner:
    """The key at ``path``; refused when other users may read it, a warning when its group may."""
    data = read_private(path, what="ledger checkpoint key")
    try:
        return NoteSigner.from_skey(data.decode("utf-8"))
    except (ConfigError, UnicodeDecodeError) as exc:
        raise ConfigError(
            f"{path} holds no readable checkpoint signer key: {getattr(exc, 'message', exc)}",
            hint="restore the key from its backup, or `assay audit keygen` into an empty keys dir",
        ) from exc


def load_signer(settings: Settings) -> NoteSigner:
    """The operator's checkpoint key; generated into the data dir in development only."""
    path = settings.checkpoint_key_path
    if path.exists():
        return _read_signer(path)
    if settings.is_production:
        raise ConfigError(
            f"no ledger checkpoint key at {path}",
            hint="create one with `assay audit keygen` and keep a copy of the .vkey for auditors",
        )
    signer = NoteSigner.generate(new_origin(settings))
    try:
        write_key(signer, settings.keys_dir)
    except FileExistsError:  # another process won the race: use its key
        return _read_signer(path)
    log.warning("generated a development ledger checkpoint key at %s (origin %s)", path, signer.name)
    return signer


def load_verifier(settings: Settings) -> NoteVerifier:
    vpath = settings.keys_dir / VKEY_FILE
    if vpath.exists():
        return NoteVerifier.from_vkey(vpath.read_text())
    return load_signer(settings).verifier


# --- checkpoints in the database -------------------------------------------------------------------
class Checkpoints:
    """Writes and reads the signed checkpoints of one ledger."""

    def __init__(
        self, ledger: Ledger, signer: NoteSigner, *, clock: Callable[[], datetime] | None = None
    ) -> None:
        self.ledger = ledger
        self.signer = signer
        self._clock = clock or now_utc

    @property
    def verifier(self) -> NoteVerifier:
        return self.signer.verifier

    def _row(self, r) -> Checkpoint:  # noqa: ANN001
        cp = parse_checkpoint(r.note, self.verifier)
        return Checkpoint(cp.origin, cp.size, cp.root, cp.note, from_db_time(r.created_at))

    def latest(self) -> Checkpoint | None:
        with self.ledger.db.session() as s:
            r = s.execute(select(_cp_t).order_by(desc(_cp_t.c.size), desc(_cp_t.c.id)).limit(1)).first()
        return self._row(r) if r is not None else None

    def create(self) -> Checkpoint:
        """Sign the current head, unless the newest checkpoint already has its size.

        Replicas sign one at a time (a lock in the database), and each reads the head only once it
        holds the lock: so every stored checkpoint is larger than the one stored before it, and
        two replicas asked at once store one checkpoint, not two of the same size.
        """
        with exclusive(self.ledger.db, CHECKPOINT_LOCK) as s:
            r = s.execute(select(_cp_t).order_by(desc(_cp_t.c.size), desc(_cp_t.c.id)).limit(1)).first()
            latest = self._row(r) if r is not None else None
            head = self.ledger.head(s)  # on the lock's own connection: no second one from the pool
            if latest is not None and latest.size >= head.size:
                return latest
            note = self.signer.sign(checkpoint_text(self.signer.name, head.size, head.root))
            now = self._clock()
            s.execute(
                insert(_cp_t).values(
                    size=head.size,
                    root=head.root.hex(),
                    key_name=self.signer.name,
                    note=note,
                    created_at=to_db_time(now),
                )
            )
        return Checkpoint(self.signer.name, head.size, head.root, note, now)

    def covering(self, size: int) -> Checkpoint:
        """A checkpoint whose tree holds at least ``size`` records (signs a new one if needed)."""
        latest = self.latest()
        if latest is not None and latest.size >= size:
            return latest
        return self.create()


class CheckpointScheduler(Periodic[Checkpoint]):
    """Signs a checkpoint every ``interval_s`` seconds while the log grows (a daemon thread).

    With ``leader`` set, only the replica that holds that leadership signs on schedule (the
    others' ticks do nothing until the leader dies); checkpoints on demand are signed by any.
    """

    def __init__(
        self, checkpoints: Checkpoints, interval_s: float = 60.0, *, leader: Leadership | None = None
    ) -> None:
        super().__init__("ledger-checkpoints", checkpoints.create, interval_s, leader=leader)
        self.checkpoints = checkpoints
