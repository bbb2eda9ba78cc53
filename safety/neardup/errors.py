"""Errors of the near-duplicate index, as :class:`core.errors.AssayError` subclasses.

Index files are on-disk configuration: a missing, corrupt or mismatched index is a
:class:`ConfigError` (the gateway fails closed with a 5xx, the CLI exits 2) whose message names the
index and whose hint names the command that repairs it. Problems with what the operator feeds a
build (an empty folder, a manifest row without a path) are :class:`InvalidRequest`.
"""

from __future__ import annotations

from core.errors import ConfigError, InvalidRequest


class IndexNotFound(ConfigError):
    """An index named by a policy or a command does not exist under the index directory."""

    code = "index_not_found"


class IndexCorrupt(ConfigError):
    """An index's manifest or data files disagree with each other (truncated, edited, half-written)."""

    code = "index_corrupt"


class CodeTypeMismatch(ConfigError):
    """The index holds other codes than the query needs (another hash, other hash parameters, another
    model)."""

    code = "index_code_type_mismatch"


class IndexBusy(ConfigError):
    """Another process is changing the same index right now."""

    code = "index_busy"


class IndexExists(InvalidRequest):
    code = "index_exists"


class SourceError(InvalidRequest):
    """The images or manifest given to ``build``/``add`` cannot be used (empty, unreadable, malformed)."""

    code = "invalid_index_source"
