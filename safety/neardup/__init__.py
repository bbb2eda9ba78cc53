"""Near-duplicate check: is an image a copy of a work in an index of training data or protected works?

Pieces, one concept each: :mod:`~safety.neardup.codes` (64-bit pHash/dHash),
:mod:`~safety.neardup.sources` (what an index is built from), :mod:`~safety.neardup.store` (the
memory-mapped files and their manifest), :mod:`~safety.neardup.builder` (build / add / remove),
:mod:`~safety.neardup.search` (FAISS: exact Hamming radius and cosine threshold search),
:mod:`~safety.neardup.embed` (open_clip embeddings from a local folder),
:mod:`~safety.neardup.query` (a loaded index and its matches) and :mod:`~safety.neardup.check`
(the pipeline checks ``neardup.hash`` and ``neardup.clip``). Importing this package loads neither
FAISS nor torch; the submodules that need them import them.
"""

from safety.neardup.codes import CODE_BITS, CodeType
from safety.neardup.errors import (
    CodeTypeMismatch,
    IndexBusy,
    IndexCorrupt,
    IndexExists,
    IndexNotFound,
    SourceError,
)

__all__ = [
    "CODE_BITS",
    "CodeType",
    "CodeTypeMismatch",
    "IndexBusy",
    "IndexCorrupt",
    "IndexExists",
    "IndexNotFound",
    "SourceError",
]
