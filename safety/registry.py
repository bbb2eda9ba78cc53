"""The checks policies can name: one :class:`~core.plugins.Catalogue` entry each, built once per process.

Entries are ``"module:attribute"`` strings imported on first use, so that ``assay policy check``
does not load torch and the gateway loads only the models its policies name. A factory is called
with the gateway ``Settings`` and returns a :class:`safety.check.Check`; the options model is
parsed when a policy loads (:meth:`core.plugins.Entry.parse_options`) and the check gets it typed
in ``CheckInput.options``; ``describe(verdict)`` gives the line a person reads about one verdict
(:func:`describe_verdict`, used by ``assay image check``, ``assay prompt check`` and the review page).

A new check adds one ``BUILTIN_CHECKS.register(Entry(...))`` below, in the group of its package.
"""

from __future__ import annotations

from typing import Any

from core.plugins import Catalogue, Entry, Registry
from safety.check import Check
from safety.verdict import Verdict

#: The checks policies can name (one home for the names).
BUILTIN_CHECKS = Catalogue("check")


class CheckRegistry(Registry[Check]):
    """The process's checks, by the names policies use."""

    def __init__(self, settings: Any, catalogue: Catalogue | None = None) -> None:
        super().__init__(settings, BUILTIN_CHECKS if catalogue is None else catalogue)


def describe_verdict(v: Verdict) -> str:
    """One line a person reads about ``v``: its check's own ``describe``, else category, score and reason.

    Evidence comes from the ledger or a held payload and is not trusted: a ``describe`` that cannot
    read it gives way to the generic line.
    """
    try:
        own = BUILTIN_CHECKS.describe(v.check, v)
    except Exception:  # noqa: BLE001 - malformed evidence: the generic line still says what was found
        own = None
    if own is not None:
        return own
    return f"{v.check}: {v.category.value} {v.score:.2f}" + (f" — {v.reason}" if v.reason else "")


# --- image checks (safety/image) ---------------------------------------------------------------
BUILTIN_CHECKS.register(
    Entry(
        "image.nsfw",
        factory="safety.image.nsfw:build_nsfw_check",
        options="safety.image.nsfw:NsfwOptions",
        description="NudeNet ONNX detector: exposed/covered intimate body parts -> sexual, with boxes",
        describe="safety.image.nsfw:describe",
    )
)
BUILTIN_CHECKS.register(
    Entry(
        "image.faces",
        factory="safety.image.faces:build_faces_check",
        options="safety.image.faces:FaceOptions",
        description="dlib face detector (HOG, or CNN): faces -> real_person, with boxes and count",
        describe="safety.image.faces:describe",
    )
)
BUILTIN_CHECKS.register(
    Entry(
        "image.likeness",
        factory="safety.image.likeness:build_likeness_check",
        options="safety.image.likeness:LikenessOptions",
        description="dlib 128-d face descriptors matched against the tenant's protected-likeness gallery",
        describe="safety.image.likeness:describe",
    )
)
BUILTIN_CHECKS.register(
    Entry(
        "image.concepts",
        factory="safety.image.concepts:build_concepts_check",
        options="safety.image.concepts:ConceptOptions",
        description="diffusers' StableDiffusionSafetyChecker from an operator-supplied local folder",
        describe="safety.image.concepts:describe",
    )
)

BUILTIN_CHECKS.register(
    Entry(
        "image.sexual",
        factory="safety.image.sexual:build_sexual_check",
        options="safety.image.sexual:SexualOptions",
        description=(
            "sexual-content ensemble: Yahoo Open-NSFW (BSD-2, default) and opt-in NudeNet, "
            "either/both/weighted"
        ),
        describe="safety.image.sexual:describe",
    )
)
BUILTIN_CHECKS.register(
    Entry(
        "image.minors",
        factory="safety.image.minors:build_minors_check",
        options="safety.image.minors:MinorsOptions",
        description="perceived age per face (CC0 dlib age network) + any sexual finding -> minors",
        describe="safety.image.minors:describe",
    )
)

# --- near-duplicate checks (safety/neardup) ----------------------------------------------------
BUILTIN_CHECKS.register(
    Entry(
        "neardup.hash",
        factory="safety.neardup.check:hash_check",
        options="safety.neardup.options:HashCheckOptions",
        description=(
            "pHash + dHash exact Hamming radius search in training-data / protected-works indexes "
            "-> copyright"
        ),
        describe="safety.neardup.check:describe",
    )
)
BUILTIN_CHECKS.register(
    Entry(
        "neardup.clip",
        factory="safety.neardup.check:clip_check",
        options="safety.neardup.options:ClipCheckOptions",
        description="open_clip image-embedding cosine threshold search in the same indexes -> copyright",
        describe="safety.neardup.check:describe",
    )
)
BUILTIN_CHECKS.register(
    Entry(
        "neardup.local",
        factory="safety.neardup.check:local_check",
        options="safety.neardup.options:LocalCheckOptions",
        description=(
            "ORB local features + LSH candidates + RANSAC: crops, rotations, overlays, paste-ins -> copyright"
        ),
        describe="safety.neardup.check:describe",
    )
)

# --- prompt checks (safety/prompt) -------------------------------------------------------------
BUILTIN_CHECKS.register(
    Entry(
        "prompt.lexicon",
        factory="safety.prompt.lexicon:build_lexicon_check",
        options="safety.prompt.lexicon:LexiconOptions",
        description=(
            "EN/ZH term lists (Aho-Corasick) over evasion-normalised views; co-occurrence rules; spans"
        ),
        describe="safety.prompt.lexicon:describe",
    )
)
BUILTIN_CHECKS.register(
    Entry(
        "prompt.semantic",
        factory="safety.prompt.semantic:build_semantic_check",
        options="safety.prompt.semantic:SemanticOptions",
        description="MiniLM sentence embeddings vs per-category exemplars (benign near-misses discount)",
        describe="safety.prompt.semantic:describe",
    )
)
BUILTIN_CHECKS.register(
    Entry(
        "prompt.pii",
        factory="safety.prompt.pii:build_pii_check",
        options="safety.prompt.pii:PiiOptions",
        description="phone, e-mail, CN resident ID (check digit), bank card (Luhn + issuer), US SSN -> pii",
        describe="safety.prompt.pii:describe",
    )
)
BUILTIN_CHECKS.register(
    Entry(
        "prompt.persons",
        factory="safety.prompt.persons:build_persons_check",
        options="safety.prompt.persons:PersonsOptions",
        description="protected-persons list (names/aliases EN+ZH, tenant-scoped) -> real_person",
        describe="safety.prompt.persons:describe",
    )
)
