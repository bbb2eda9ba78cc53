"""The ``prompt.pii`` check: personal data written into a prompt (it would be painted into the image).

Why it exists: a generated image that shows a real phone number, e-mail address, Chinese resident
ID or bank card number publishes personal data; regulations (PIPL, GDPR) make the operator answer
for it. Each detector is a pattern *plus a validity test* where the number has one — the resident ID
check digit (GB 11643, ISO 7064 MOD 11-2) and birth date, the Luhn digit and issuer prefix of a
card — so order numbers, seeds and sizes do not fire. Patterns run on the normalised base view
(full-width digits, zero-width characters and ``1 3 8 0 0 ...`` spacing undone) and report the span
in the original prompt. Evidence never repeats the number: it shows a masked form.

:func:`find_pii` is public so the ledger's ``prompt_storage: redacted`` mode can use the same
detectors to redact what it stores.
"""

from __future__ import annotations

import datetime as _dt
import re
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict, Field

from core.plugins import typed_options
from safety.check import CheckInput
from safety.prompt.inputs import prompt_text
from safety.prompt.normalize import get_normalizer
from safety.verdict import Category, TargetKind, Verdict

__all__ = [
    "PiiCheck",
    "PiiKind",
    "PiiMatch",
    "PiiOptions",
    "build_pii_check",
    "find_pii",
    "luhn_valid",
    "cn_resident_id_valid",
    "redact",
]


class PiiKind(StrEnum):
    EMAIL = "email"
    PHONE = "phone"
    CN_RESIDENT_ID = "cn_resident_id"
    BANK_CARD = "bank_card"
    US_SSN = "us_ssn"


@dataclass(frozen=True, slots=True)
class PiiMatch:
    kind: PiiKind
    start: int  # in the original text
    end: int
    text: str  # the original characters (personal data: do not log or store)
    masked: str  # what evidence shows


# --- validity tests ----------------------------------------------------------------------------------
_ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_ID_CHECK = "10X98765432"


def cn_resident_id_valid(number: str, *, today: _dt.date | None = None) -> bool:
    """An 18-character resident ID: birth date that exists and is not in the future, and check digit."""
    n = number.upper()
    if len(n) != 18 or not n[:17].isdigit() or not (n[17].isdigit() or n[17] == "X"):
        return False
    try:
        born = _dt.date(int(n[6:10]), int(n[10:12]), int(n[12:14]))
    except ValueError:
        return False
    if not _dt.date(1900, 1, 1) <= born <= (today or _dt.date.today()):
        return False
    total = sum(int(d) * w for d, w in zip(n[:17], _ID_WEIGHTS, strict=True))
    return _ID_CHECK[total % 11] == n[17]


def luhn_valid(digits: str) -> bool:
    if not digits.isdigit() or len(digits) < 2:
        return False
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = int(ch)
        if i % 2 == 1:
            d *= 2
            if d > 9:
                d -= 9
        total += d
    return total % 10 == 0


def _card_issuer_ok(d: str) -> bool:
    """Issuer prefix and length of the card schemes a bank card number can have (IIN ranges)."""
    n = len(d)
    if d[0] == "4":
        return n in (13, 16, 19)  # Visa
    if d[:2] in ("51", "52", "53", "54", "55") or ("2221" <= d[:4] <= "2720"):
        return n == 16  # Mastercard
    if d[:2] in ("34", "37"):
        return n == 15  # American Express
    if d[:2] == "62":
        return 16 <= n <= 19  # UnionPay
    if d[:4] == "6011" or d[:2] == "65" or "644" <= d[:3] <= "649":
        return 16 <= n <= 19  # Discover
    if "3528" <= d[:4] <= "3589":
        return 16 <= n <= 19  # JCB
    if d[:2] in ("36", "38") or "300" <= d[:3] <= "305":
        return n == 14  # Diners
    return False


# --- patterns (on the base view: case folded, NFKC) -------------------------------------------------------
_EMAIL = re.compile(
    r"(?<![a-z0-9._%+-])[a-z0-9][a-z0-9._%+-]{0,63}@[a-z0-9-]+(?:\.[a-z0-9-]+)*\.[a-z]{2,24}(?![a-z0-9])"
)
_EMAIL_SPELLED = re.compile(
    r"(?<![a-z0-9])[a-z0-9][a-z0-9._-]{1,63}\s*(?:\(at\)|\[at\]|\sat\s)\s*[a-z0-9-]{2,}"
    r"\s*(?:\(dot\)|\[dot\]|\sdot\s)\s*(?:com|net|org|edu|gov|cn|io|de|uk|fr|jp)(?![a-z0-9])"
)
_PHONE_CN_MOBILE = re.compile(r"(?<![\d+])(?:\+?86[\s-]?)?1[3-9]\d(?:[\s-]?\d{4}){2}(?!\d)")
_PHONE_CN_LANDLINE = re.compile(r"(?<!\d)\(?0\d{2,3}\)?[\s-]\d{7,8}(?!\d)")
_PHONE_NANP = re.compile(r"(?<![\d+])(?:\+?1[\s.-]?)?\(?[2-9]\d{2}\)?[\s.-]\d{3}[\s.-]\d{4}(?!\d)")
_PHONE_INTL = re.compile(r"(?<![\w+])\+\d{1,3}(?:[\s-]?\(?\d{1,4}\)?)(?:[\s-]?\d{2,5}){1,4}(?!\d)")
_CN_ID = re.compile(r"(?<![\d])\d{17}[\dx](?![\da-z])")
_CARD = re.compile(r"(?<![\d])\d(?:[\s-]?\d){12,18}(?!\d)")
_SSN = re.compile(r"(?<![\d-])(?!000|666|9\d\d)\d{3}-(?!00)\d{2}-(?!0000)\d{4}(?![\d-])")


def _digits(s: str) -> str:
    return "".join(c for c in s if c.isdigit() or c in "xX")


def _card_ok(d: str) -> bool:
    return 13 <= len(d) <= 19 and _card_issuer_ok(d) and luhn_valid(d)


def _intl_ok(s: str) -> bool:
    return 8 <= len(_digits(s)) <= 15


def _mask(text: str) -> str:
    keep = [i for i, c in enumerate(text) if c.isalnum()]
    if len(keep) <= 4:
        return "*" * len(text)
    shown = set(keep[:2] + keep[-2:])
    return "".join(c if (i in shown or not c.isalnum()) else "*" for i, c in enumerate(text))


#: (kind, pattern, validity test on the matched base text); earlier entries win overlaps
_DETECTORS: tuple[tuple[PiiKind, re.Pattern[str], Callable[[str], bool]], ...] = (
    (PiiKind.EMAIL, _EMAIL, lambda s: True),
    (PiiKind.EMAIL, _EMAIL_SPELLED, lambda s: True),
    (PiiKind.CN_RESIDENT_ID, _CN_ID, cn_resident_id_valid),
    (PiiKind.BANK_CARD, _CARD, lambda s: _card_ok(_digits(s))),
    (PiiKind.US_SSN, _SSN, lambda s: True),
    (PiiKind.PHONE, _PHONE_CN_MOBILE, lambda s: True),
    (PiiKind.PHONE, _PHONE_INTL, _intl_ok),
    (PiiKind.PHONE, _PHONE_NANP, lambda s: True),
    (PiiKind.PHONE, _PHONE_CN_LANDLINE, lambda s: True),
)


def find_pii(text: str, kinds: frozenset[PiiKind] | None = None) -> list[PiiMatch]:
    """Personal data in ``text``, each with its span in ``text`` (non-overlapping, in order)."""
    if not text:
        return []
    base = get_normalizer().normalize(text).base
    taken: list[tuple[int, int]] = []
    found: list[PiiMatch] = []
    for kind, pattern, valid in _DETECTORS:
        if kinds is not None and kind not in kinds:
            continue
        for m in pattern.finditer(base.text):
            s, e = m.span()
            # trim separators the pattern may have swallowed at the ends
            while s < e and base.text[s] in " -.":
                s += 1
            while e > s and base.text[e - 1] in " -.":
                e -= 1
            if s >= e or any(s < te and ts < e for ts, te in taken) or not valid(base.text[s:e]):
                continue
            taken.append((s, e))
            os_, oe = base.to_original(s, e)
            original = text[os_:oe]
            found.append(PiiMatch(kind, os_, oe, original, _mask(original)))
    return sorted(found, key=lambda m: m.start)


def redact(text: str, kinds: frozenset[PiiKind] | None = None, *, mask: str = "[{kind}]") -> str:
    """``text`` with each piece of personal data replaced by ``mask`` (``{kind}`` is filled in)."""
    out, pos = [], 0
    for m in find_pii(text, kinds):
        out.append(text[pos : m.start])
        out.append(mask.format(kind=m.kind.value))
        pos = m.end
    out.append(text[pos:])
    return "".join(out)


#: findings reported per prompt (a prompt full of numbers is blocked long before this)
MAX_FINDINGS = 50


class PiiOptions(BaseModel):
    """Options of ``prompt.pii`` in a policy (``checks.prompt[].options``)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    #: which kinds of personal data to look for (all when empty)
    kinds: tuple[PiiKind, ...] = ()
    #: the score a finding gets (the default policy blocks pii at 0.5)
    score: float = Field(default=0.9, ge=0.0, le=1.0)
    max_chars: int = Field(default=100_000, ge=1, le=1_000_000)


class PiiCheck:
    """See the module docstring. Stateless apart from caches; thread-safe."""

    name: ClassVar[str] = "prompt.pii"
    targets: ClassVar[frozenset[TargetKind]] = frozenset({TargetKind.PROMPT})

    def run(self, item: CheckInput) -> list[Verdict]:
        opts = typed_options(item.options, PiiOptions)
        text = prompt_text(item, self.name, opts.max_chars)
        if not text.strip():
            return []
        matches = find_pii(text, frozenset(opts.kinds) if opts.kinds else None)
        if not matches:
            return []
        # one verdict per finding: each carries its own span, so a redacting ledger removes them all
        return [
            Verdict(
                check=self.name,
                category=Category.PII,
                score=opts.score,
                target=item.target,
                reason=f"personal data in the prompt: {m.kind.value} {m.masked}",
                evidence={
                    "start": m.start,
                    "end": m.end,
                    "text": m.masked,
                    "rule": m.kind.value,
                    "redacted": True,
                },
            )
            for m in matches[:MAX_FINDINGS]
        ]


def build_pii_check(settings: Any) -> PiiCheck:
    """Registry factory."""
    return PiiCheck()


def describe(v: Verdict) -> str:
    """What fired: the kind of personal data (the registry's ``describe``)."""
    return str(v.evidence.get("rule", ""))
