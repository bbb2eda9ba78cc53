"""The prompt.pii check: personal data with validity tests, masked evidence, spans for redaction."""

from __future__ import annotations

import datetime as dt

import pytest

from safety.prompt.pii import (
    PiiCheck,
    PiiKind,
    PiiOptions,
    cn_resident_id_valid,
    find_pii,
    luhn_valid,
    redact,
)
from safety.verdict import Category


def test_validity_tests() -> None:
    assert cn_resident_id_valid("11010519491231002X")
    assert cn_resident_id_valid("11010519491231002x")
    assert not cn_resident_id_valid("110105194912310021")  # wrong check digit
    assert not cn_resident_id_valid("11010519491331002X")  # month 13
    assert not cn_resident_id_valid(
        "110105" + "20990101" + "0010", today=dt.date(2026, 1, 1)
    )  # too short anyway
    assert luhn_valid("4111111111111111") and not luhn_valid("4111111111111112")
    assert not luhn_valid("") and not luhn_valid("12a4")


@pytest.mark.parametrize(
    "text, kind, found",
    [
        ("call 138 1234 5678 now", PiiKind.PHONE, "138 1234 5678"),
        ("电话：１３９１２３４５６７８", PiiKind.PHONE, "１３９１２３４５６７８"),
        ("1 3 8 1 2 3 4 5 6 7 8", PiiKind.PHONE, "1 3 8 1 2 3 4 5 6 7 8"),
        ("+1 (415) 555-0132", PiiKind.PHONE, "+1 (415) 555-0132"),
        ("(212) 555-0199", PiiKind.PHONE, "(212) 555-0199"),
        ("+86 139 1234 5678", PiiKind.PHONE, "+86 139 1234 5678"),
        ("座机010-12345678", PiiKind.PHONE, "010-12345678"),
        ("mail John.Smith@Example.com!", PiiKind.EMAIL, "John.Smith@Example.com"),
        ("邮箱zhangsan@163.com", PiiKind.EMAIL, "zhangsan@163.com"),
        ("tom dot lee at outlook dot com", PiiKind.EMAIL, "lee at outlook dot com"),
        ("身份证11010519491231002X照片", PiiKind.CN_RESIDENT_ID, "11010519491231002X"),
        ("card 4111 1111 1111 1111", PiiKind.BANK_CARD, "4111 1111 1111 1111"),
        ("卡号6222021234567890128", PiiKind.BANK_CARD, "6222021234567890128"),
        ("SSN 078-05-1120", PiiKind.US_SSN, "078-05-1120"),
    ],
)
def test_finds(text: str, kind: PiiKind, found: str) -> None:
    matches = find_pii(text)
    assert [(m.kind, m.text) for m in matches] == [(kind, found)]
    m = matches[0]
    assert text[m.start : m.end] == found
    assert m.masked != found and len(m.masked) == len(found)


@pytest.mark.parametrize(
    "text",
    [
        "a 1024x1024 wallpaper",
        "seed 123456789",
        "order 20240518123",
        "room 1302, year 2024",
        "ID 110105194912310021",
        "card 4111 1111 1111 1112",
        "barcode 4006381333931",
        "pi 3.14159265358979323846",
        "meet at 3:30 pm on 2024-05-18",
        "version 1.2.3.4",
        "an email icon",
        "we meet at noon",
        "SSN 000-12-3456",
        "a jersey with number 23",
    ],
)
def test_near_misses(text: str) -> None:
    assert find_pii(text) == []


def test_redact() -> None:
    assert redact("call 13812345678 or a@b.co") == "call [phone] or [email]"
    assert redact("nothing here") == "nothing here"


def test_check_one_verdict_per_finding(pii: PiiCheck, make_item) -> None:
    prompt = "card 4111 1111 1111 1111, phone 13812345678"
    vs = pii.run(make_item(prompt))
    assert [v.evidence["rule"] for v in vs] == ["bank_card", "phone"]
    for v in vs:
        assert v.category is Category.PII and v.score == 0.9 and v.evidence["redacted"] is True
        assert "1111 1111" not in v.evidence["text"] and "12345678" not in v.reason
        assert prompt[v.evidence["start"] : v.evidence["end"]].replace(" ", "").isdigit()
    assert (
        pii.run(make_item(prompt, options=PiiOptions.model_validate({"kinds": ["phone"]})))[0].evidence[
            "rule"
        ]
        == "phone"
    )
    assert pii.run(make_item("")) == [] and pii.run(make_item("a cat")) == []
