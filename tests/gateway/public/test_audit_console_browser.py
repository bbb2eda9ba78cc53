"""The auditor console in headless Chromium: charts over a 1,000-record ledger, the record browser
scoped to the auditor's tenant, and the inclusion proof checked in the browser (WebCrypto SHA-256
and Ed25519): "proof verified" for an untouched record, "proof failed" once the stored leaf is
altered or the pinned key is not the log's. Screenshots go to ``test-artifacts/``."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import text
from ulid import ULID

from gateway.api.audit_page import MESSAGES
from provenance.ledger import LedgerRecord
from provenance.ledger.note import NoteSigner
from tests.browser import ARGS, ARTIFACTS, CHROMIUM, NEEDS_CHROMIUM

pytestmark = NEEDS_CHROMIUM


@pytest.fixture
def db_url(tmp_path: Path) -> str:
    """SQLite only: the subject is the page in a browser."""
    return f"sqlite:///{tmp_path / 'assay.db'}"


def _ledger_of_1000(state) -> dict[str, list[str]]:  # noqa: ANN001
    start = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)
    out: dict[str, list[str]] = {"acme": [], "globex": []}
    recs = []
    for i in range(1000):
        tenant = "acme" if i % 2 else "globex"
        blocked = i % 7 == 0
        rec = LedgerRecord(
            record_id=str(ULID()),
            kind="generation" if i % 10 else "review",
            tenant=tenant,
            decision="block" if blocked else ("hold" if i % 11 == 0 else "allow"),
            categories=(["sexual"] if i % 3 else ["violence"]) if blocked else [],
            model_id="assay-default" if i % 4 else "sd-turbo",
            policy_id="default" if i % 5 else "cn-strict",
            created_at=start + timedelta(hours=i // 6),
            body={"i": i},
        )
        recs.append(rec)
        out[tenant].append(rec.record_id)
    for i in range(0, 1000, 500):
        state.ledger.append_many(recs[i : i + 500])
    return out


def _t(key: str) -> str:
    return MESSAGES[key][0]


def test_console_charts_records_and_in_browser_proofs(live_server, state):  # noqa: ANN001
    from playwright.sync_api import sync_playwright

    ids = _ledger_of_1000(state)  # 1,000 records over 7 days, two tenants
    auditor, _ = state.keys.create("acme", "auditor", name="acme auditor")
    base = live_server.url
    ARTIFACTS.mkdir(exist_ok=True)
    errors: list[str] = []
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        try:
            ctx = browser.new_context(viewport={"width": 1280, "height": 1000}, locale="en-US")
            page = ctx.new_page()
            page.on("pageerror", lambda e: errors.append(str(e)))
            page.goto(f"{base}/audit")
            page.fill("#key", auditor)
            page.click("#key-form button[type=submit]")
            page.wait_for_function(
                "() => /records loaded/.test(document.querySelector('#count').textContent)"
            )
            assert page.locator("#count").inner_text() == f"{len(ids['acme'])} records loaded"
            # the charts carry exactly the auditor's records: bars per day and decision add up
            total = page.evaluate(
                "() => [...document.querySelectorAll('#chart-days rect')]"
                ".reduce((a, r) => a + Number(r.dataset.count), 0)"
            )
            assert total == len(ids["acme"])
            cats = page.evaluate(
                "() => Object.fromEntries([...document.querySelectorAll('#chart-categories rect')]"
                ".map(r => [r.dataset.key, Number(r.dataset.count)]))"
            )
            acme = [i for i in range(1000) if i % 2]
            assert cats == {
                "sexual": sum(1 for i in acme if i % 7 == 0 and i % 3),
                "violence": sum(1 for i in acme if i % 7 == 0 and not i % 3),
            }
            days = page.evaluate(
                "() => [...new Set([...document.querySelectorAll('#chart-days rect')]"
                ".map(r => r.dataset.day))]"
            )
            start = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)
            assert sorted(days) == sorted({str((start + timedelta(hours=i // 6)).date()) for i in acme})
            assert "globex" not in page.locator("#records").inner_text()
            # the appeals tile: no appeal yet, so nothing decided and no rate
            page.wait_for_function("() => document.querySelector('#appeals-decided').textContent !== '–'")
            assert page.locator("#appeals-decided").inner_text() == "0"
            assert page.locator("#overturn-rate").inner_text() == "–"
            page.screenshot(path=str(ARTIFACTS / "audit-console.png"), full_page=True)

            # a record page: the proof is checked in this browser
            link = page.locator("#records tbody a").nth(5)
            rid = link.inner_text()
            assert rid in ids["acme"]
            link.click()
            page.wait_for_url(f"{base}/audit/records/{rid}")
            page.wait_for_function("() => document.querySelector('#verdict').className !== 'verdict'")
            assert page.locator("#verdict").inner_text() == _t("proof_verified"), (
                page.locator("#steps").inner_text() + " | " + page.locator("#error").inner_text()
            )
            for s in ("#s-leaf", "#s-root", "#s-sig"):
                assert page.locator(s).get_attribute("class") == "ok", s
            assert page.locator("#key-source").inner_text() == _t("key_source_server")
            page.screenshot(path=str(ARTIFACTS / "audit-proof-verified.png"), full_page=True)

            # the stored leaf altered: the leaf the page is shown no longer hashes to the logged one
            with state.db.session() as s:
                s.execute(
                    text("UPDATE ledger_entry SET body = :b WHERE record_id = :r"),
                    {"b": '{"i":-1}', "r": rid},
                )
            page.reload()
            page.wait_for_function("() => document.querySelector('#verdict').className !== 'verdict'")
            assert page.locator("#verdict").inner_text() == _t("proof_failed")
            assert page.locator("#s-leaf").get_attribute("class") == "bad"
            page.screenshot(path=str(ARTIFACTS / "audit-proof-failed.png"), full_page=True)

            # an untouched record, but a pinned key that is not the log's: the signature step fails
            other = ids["acme"][7]
            wrong = NoteSigner.generate("assay.local/assay-ledger/ffffffff").verifier.vkey()
            page.goto(f"{base}/audit/records/{other}")
            page.fill("#vkey", wrong)
            page.click("#pin")
            page.reload()
            page.wait_for_function("() => document.querySelector('#verdict').className !== 'verdict'")
            assert page.locator("#verdict").inner_text() == _t("proof_failed")
            assert page.locator("#s-sig").get_attribute("class") == "bad"
            assert page.locator("#key-source").inner_text() == _t("key_source_pinned")

            # another tenant's record: 404 from the API, shown as a failure
            page.goto(f"{base}/audit/records/{ids['globex'][0]}")
            page.wait_for_function("() => document.querySelector('#verdict').className !== 'verdict'")
            assert page.locator("#verdict").inner_text() == _t("proof_failed")
            assert "no audit record" in page.locator("#error").inner_text()
        finally:
            browser.close()
    assert not errors, errors
