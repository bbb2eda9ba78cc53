"""Maps the check names used in policies to check implementations, built once per process.

Entries are ``"module:callable"`` strings imported on first use, so that ``assay policy check``
does not load torch and the gateway loads only the models its policies name. A factory is called
with the gateway ``Settings`` and returns a :class:`safety.check.Check`.
"""

from __future__ import annotations

from typing import Any

from core.plugins import Entry, Registry
from core.plugins import options_model as _options_model
from safety.check import Check

#: a registry entry for a check (``factory(settings) -> Check``)
CheckEntry = Entry

#: Built-in checks. Each capability adds its line below (one home for the names policies use).
BUILTIN_CHECKS: dict[str, CheckEntry] = {}


def register(entry: CheckEntry) -> None:
    BUILTIN_CHECKS[entry.name] = entry


def known_checks() -> list[str]:
    return sorted(BUILTIN_CHECKS)


def options_model(name: str) -> Any | None:
    return _options_model(BUILTIN_CHECKS, name)


class CheckRegistry(Registry[Check]):
    """The process's checks, by the names policies use."""

    kind = "check"

    def __init__(self, settings: Any, entries: dict[str, CheckEntry] | None = None) -> None:
        super().__init__(settings, BUILTIN_CHECKS if entries is None else entries)


# --- image checks (safety/image) ---------------------------------------------------------------
register(
    CheckEntry(
        "image.nsfw",
        "safety.image.nsfw:build_nsfw_check",
        "safety.image.nsfw:NsfwOptions",
        "NudeNet ONNX detector: exposed/covered intimate body parts -> sexual, with boxes",
    )
)
register(
    CheckEntry(
        "image.faces",
        "safety.image.faces:build_faces_check",
        "safety.image.faces:FaceOptions",
        "dlib face detector (HOG, or CNN): faces -> real_person, with boxes and count",
    )
)
register(
    CheckEntry(
        "image.likeness",
        "safety.image.likeness:build_likeness_check",
        "safety.image.likeness:LikenessOptions",
        "dlib 128-d face descriptors matched against the tenant's protected-likeness gallery",
    )
)
register(
    CheckEntry(
        "image.concepts",
        "safety.image.concepts:build_concepts_check",
        "safety.image.concepts:ConceptOptions",
        "diffusers' StableDiffusionSafetyChecker from an operator-supplied local folder",
    )
)

register(
    CheckEntry(
        "image.sexual",
        "safety.image.sexual:build_sexual_check",
        "safety.image.sexual:SexualOptions",
        "sexual-content ensemble: Yahoo Open-NSFW (BSD-2, default) and opt-in NudeNet, either/both/weighted",
    )
)
register(
    CheckEntry(
        "image.minors",
        "safety.image.minors:build_minors_check",
        "safety.image.minors:MinorsOptions",
        "perceived age per face (CC0 dlib age network) + any sexual finding -> minors",
    )
)

# --- near-duplicate checks (safety/neardup) ----------------------------------------------------
register(
    CheckEntry(
        "neardup.hash",
        "safety.neardup.check:hash_check",
        "safety.neardup.options:HashCheckOptions",
        "pHash + dHash exact Hamming radius search in training-data / protected-works indexes -> copyright",
    )
)
register(
    CheckEntry(
        "neardup.clip",
        "safety.neardup.check:clip_check",
        "safety.neardup.options:ClipCheckOptions",
        "open_clip image-embedding cosine threshold search in the same indexes -> copyright",
    )
)
register(
    CheckEntry(
        "neardup.local",
        "safety.neardup.check:local_check",
        "safety.neardup.options:LocalCheckOptions",
        "ORB local features + LSH candidates + RANSAC: crops, rotations, overlays, paste-ins -> copyright",
    )
)

# --- prompt checks (safety/prompt) -------------------------------------------------------------
register(
    CheckEntry(
        "prompt.lexicon",
        "safety.prompt.lexicon:build_lexicon_check",
        "safety.prompt.lexicon:LexiconOptions",
        "EN/ZH term lists (Aho-Corasick) over evasion-normalised views; co-occurrence rules; spans",
    )
)
register(
    CheckEntry(
        "prompt.semantic",
        "safety.prompt.semantic:build_semantic_check",
        "safety.prompt.semantic:SemanticOptions",
        "MiniLM sentence embeddings vs per-category exemplars (benign near-misses discount)",
    )
)
register(
    CheckEntry(
        "prompt.pii",
        "safety.prompt.pii:build_pii_check",
        "safety.prompt.pii:PiiOptions",
        "phone, e-mail, CN resident ID (check digit), bank card (Luhn + issuer), US SSN -> pii",
    )
)
register(
    CheckEntry(
        "prompt.persons",
        "safety.prompt.persons:build_persons_check",
        "safety.prompt.persons:PersonsOptions",
        "protected-persons list (names/aliases EN+ZH, tenant-scoped) -> real_person",
    )
)
