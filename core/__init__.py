"""Assay's ground floor: what every other package stands on, and nothing that serves HTTP.

* :mod:`core.errors` — the one error hierarchy (``AssayError`` and a subclass per kind of failure);
* :mod:`core.settings` — the one ``Settings`` object (every ``ASSAY_*`` variable);
* :mod:`core.plugins` — named plug-ins built once per process (the check and mark registries);
* :mod:`core.store` — the SQL engine, sessions and the locks every replica honours;
* :mod:`core.images` — safe decoding of untrusted image files.

Imports run one way: ``core`` imports no project package; ``safety``, ``models`` and
``provenance`` import ``core``; ``gateway`` imports them all (docs/architecture.md, checked by
tests/test_architecture.py).
"""
