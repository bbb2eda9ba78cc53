"""Assay's invisible watermark: a 64-bit payload that leads back to the ledger record.

Two schemes, both read by ``verify`` (newest first): ``assay-wm1`` (readable after metadata
stripping, JPEG recompression and rescaling) and ``assay-wm2`` (:mod:`.wm2`, with geometric
resynchronisation in :mod:`.sync`: also after crops, rotations, flips, aspect changes and
padding). The ``watermark`` mark's ``scheme`` option picks the one new images get.

Public surface:

* :func:`payload_for` (record id, image index -> 64-bit int) and :func:`payload_hex`;
* :func:`embed_watermark` / :func:`decode_watermark` on PIL images (``embed_array`` /
  ``decode_array`` on numpy arrays);
* :class:`WatermarkReading`: what the decoder found (payload, bit errors corrected, ...);
* :class:`WatermarkMark` (pipeline step ``watermark``) and its :class:`WatermarkOptions`.

Design of assay-wm1 in one paragraph (wm2: see :mod:`.wm2`): the luma is resampled to a 256x256
canonical frame, folded into a 64x64 periodic tile, and the 88 protected bits (payload + CRC-24,
rate-2/3 convolutional code, 141 coded bits) are written into keyed Fourier coefficients of that
tile, each with an informed (host-cancelling) margin, plus a pilot for crops; the residual is
upsampled to the image's own size. See ``layout``, ``embed`` and ``decode`` for the why of each
step.
"""

from provenance.watermark.decode import SCHEME, WatermarkReading, decode_array
from provenance.watermark.embed import EmbedResult, embed_array
from provenance.watermark.image import WatermarkedImage, decode_watermark, embed_watermark
from provenance.watermark.mark import WatermarkFacts, WatermarkMark, WatermarkOptions, build
from provenance.watermark.payload import PAYLOAD_BITS, payload_for, payload_hex

__all__ = [
    "PAYLOAD_BITS",
    "SCHEME",
    "EmbedResult",
    "WatermarkFacts",
    "WatermarkMark",
    "WatermarkOptions",
    "WatermarkReading",
    "WatermarkedImage",
    "build",
    "decode_array",
    "decode_watermark",
    "embed_array",
    "embed_watermark",
    "payload_for",
    "payload_hex",
]
