"""The tamper-evident audit ledger: an RFC 6962 Merkle log of every decision, with signed checkpoints.

Callers build a :class:`LedgerRecord` and :meth:`Ledger.append` it; the append returns only once
the record is durable and has its index in the log. See :mod:`provenance.ledger.log` for how
appends are serialised and :mod:`provenance.ledger.record` for what a leaf commits to.
"""

from provenance.ledger.log import Ledger, TreeHead
from provenance.ledger.record import LedgerEntry, LedgerRecord, StoredRecord, prompt_sha256

__all__ = ["Ledger", "LedgerEntry", "LedgerRecord", "StoredRecord", "TreeHead", "prompt_sha256"]
