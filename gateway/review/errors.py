"""Review-specific errors (subclasses of the one Assay hierarchy)."""

from __future__ import annotations

from core.errors import AssayError


class ReviewConflict(AssayError):
    """The item is not in a state that allows this action (claimed by someone else, already decided,
    changed since it was read). Nothing was changed; reload the item and try again."""

    code = "review_conflict"
    status = 409
    exit_code = 1
