"""IPTC Digital Source Type URIs: one home for the vocabulary both XMP and C2PA write.

Regulators and C2PA validators compare the *full* URI, never the bare code (regulations.md §5):
an image generated from a prompt is ``trainedAlgorithmicMedia``; an edit of an input image
(img2img, inpainting) is ``compositeWithTrainedAlgorithmicMedia``.
"""

from __future__ import annotations

IPTC_DST = "http://cv.iptc.org/newscodes/digitalsourcetype/"
TRAINED_ALGORITHMIC_MEDIA = IPTC_DST + "trainedAlgorithmicMedia"
COMPOSITE_WITH_TRAINED_ALGORITHMIC_MEDIA = IPTC_DST + "compositeWithTrainedAlgorithmicMedia"

#: the source types that say "made or changed by a generative model"
AI_SOURCE_TYPES = frozenset({TRAINED_ALGORITHMIC_MEDIA, COMPOSITE_WITH_TRAINED_ALGORITHMIC_MEDIA})


def source_type_for(edit: bool) -> str:
    """The digital source type of a generated (``edit=False``) or edited (``edit=True``) image."""
    return COMPOSITE_WITH_TRAINED_ALGORITHMIC_MEDIA if edit else TRAINED_ALGORITHMIC_MEDIA
