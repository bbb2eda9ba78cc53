"""Prompt safety: the first gate of every generation (see docs in each module).

* :mod:`~safety.prompt.normalize` — evasion-undoing views of a prompt with a map back to the original
* :mod:`~safety.prompt.matcher` — Aho–Corasick matching of terms over those views
* :mod:`~safety.prompt.lexicon` — ``prompt.lexicon``: EN/ZH term lists, allow-phrases, co-occurrence rules
* :mod:`~safety.prompt.semantic` — ``prompt.semantic``: sentence embeddings against category exemplars
* :mod:`~safety.prompt.pii` — ``prompt.pii``: phone, e-mail, CN resident ID, bank card, US SSN
* :mod:`~safety.prompt.persons` — ``prompt.persons``: the operator's protected-persons list

:class:`safety.runner.CheckRunner` runs a policy's prompt checks (the pipeline, ``assay prompt check``).

Term lists, exemplars and the starter persons list are data files in ``safety/prompt/data/``.
Importing this package does not import torch; the encoder loads when the semantic check is built.
"""

from safety.prompt.lexicon import LexiconCheck, LexiconOptions
from safety.prompt.normalize import NormalizedPrompt, Normalizer, View, get_normalizer
from safety.prompt.persons import PersonsCheck, PersonsOptions
from safety.prompt.pii import PiiCheck, PiiKind, PiiMatch, PiiOptions, find_pii, redact
from safety.prompt.semantic import SemanticCheck, SemanticOptions

__all__ = [
    "LexiconCheck",
    "LexiconOptions",
    "NormalizedPrompt",
    "Normalizer",
    "PersonsCheck",
    "PersonsOptions",
    "PiiCheck",
    "PiiKind",
    "PiiMatch",
    "PiiOptions",
    "SemanticCheck",
    "SemanticOptions",
    "View",
    "find_pii",
    "get_normalizer",
    "redact",
]
