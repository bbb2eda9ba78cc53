"""The public verify page in a real headless Chromium (Debian's package, driven by Playwright).

A released image, cropped and recompressed (its C2PA manifest and metadata gone, only the
watermark left), is dropped onto ``/verify`` and the page shows its record id; an unrelated photo
chosen with the file picker shows "No Assay provenance found"; the Chinese page renders with the
font the page ships (not a system font); a phone-sized screen shows the answer without sideways
scrolling; and the API's rate limit reaches the page as a message. Screenshots go to
``test-artifacts/`` (git-ignored). Skips where Chromium is not installed (``make browser``).
"""

from __future__ import annotations

import base64
from pathlib import Path

import pytest

from gateway.api.verify_page import MESSAGES
from tests.browser import ARGS, ARTIFACTS, CHROMIUM, NEEDS_CHROMIUM
from tests.gateway.public.support import crop_and_recompress, released_photo, unrelated_photo

pytestmark = NEEDS_CHROMIUM


@pytest.fixture
def db_url(tmp_path: Path) -> str:
    """SQLite only: the subject is the page in a browser."""
    return f"sqlite:///{tmp_path / 'assay.db'}"


def _drop(page, data: bytes, name: str, mime: str) -> None:  # noqa: ANN001
    """Drop a file onto the zone as a person dragging it from a file manager would."""
    dt = page.evaluate_handle(
        """([b64, name, mime]) => {
            const bytes = Uint8Array.from(atob(b64), c => c.charCodeAt(0));
            const dt = new DataTransfer();
            dt.items.add(new File([bytes], name, { type: mime }));
            return dt;
        }""",
        [base64.b64encode(data).decode(), name, mime],
    )
    for event in ("dragenter", "dragover", "drop"):
        page.dispatch_event("#zone", event, {"dataTransfer": dt})


def _t(key: str, lang: int = 0, provider: str = "Assay") -> str:
    return MESSAGES[key][lang].replace("{provider}", provider)


def test_drop_a_cropped_released_image_and_pick_an_unrelated_photo(live_server, state, tmp_path):  # noqa: ANN001
    from playwright.sync_api import sync_playwright

    state.settings.public_verify = True
    data, record_id = released_photo(state)
    cropped = crop_and_recompress(data)
    photo = tmp_path / "astronaut.jpg"
    photo.write_bytes(unrelated_photo())
    base = live_server.url
    ARTIFACTS.mkdir(exist_ok=True)
    errors: list[str] = []
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        try:
            ctx = browser.new_context(viewport={"width": 1100, "height": 900}, locale="en-US")
            page = ctx.new_page()
            page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
            page.on("pageerror", lambda e: errors.append(str(e)))
            page.goto(f"{base}/verify")
            assert page.locator("h1").inner_text() == _t("heading")

            # a released image, cropped and recompressed, dropped onto the page
            _drop(page, cropped, "repost.jpg", "image/jpeg")
            page.wait_for_selector("#result:not([hidden])", timeout=60_000)
            assert page.locator("#verdict").inner_text() == _t("found", provider=state.settings.provider_name)
            assert page.locator("#f-record").inner_text() == record_id
            assert page.locator("#f-system").inner_text() == "assay-default (r1)"
            assert "2026" in page.locator("#f-time").inner_text()
            assert page.locator("#m-watermark").get_attribute("class") == "yes"
            assert page.locator("#m-c2pa .v").inner_text() == _t("c2pa_absent")
            assert page.locator("#preview").evaluate("img => img.complete && img.naturalWidth > 0")
            assert "acme" not in page.content()
            page.screenshot(path=str(ARTIFACTS / "verify-found-en.png"), full_page=True)

            # the untouched image: C2PA with its signer, the label, the watermark and the hash
            _drop(page, data, "original.png", "image/png")
            page.wait_for_function(
                "() => document.querySelector('#m-c2pa').className === 'yes'", timeout=60_000
            )
            assert _t("c2pa_trusted") in page.locator("#m-c2pa .v").inner_text()
            assert _t("signed_by") in page.locator("#m-c2pa .v").inner_text()
            for mark in ("#m-label", "#m-watermark", "#m-hash"):
                assert page.locator(mark).get_attribute("class") == "yes", mark

            # an unrelated photo, chosen with the file picker
            page.set_input_files("#file", str(photo))
            page.wait_for_function(
                "t => document.querySelector('#verdict').textContent === t",
                arg=_t("not_found"),
                timeout=60_000,
            )
            assert page.locator("#facts").is_hidden() and page.locator("#note").is_visible()
            page.screenshot(path=str(ARTIFACTS / "verify-not-found-en.png"), full_page=True)

            # Chinese, on a phone, on the font the page ships
            phone = browser.new_context(
                viewport={"width": 390, "height": 844}, device_scale_factor=2, is_mobile=True, has_touch=True
            )
            p2 = phone.new_page()
            p2.on("pageerror", lambda e: errors.append(str(e)))
            p2.goto(f"{base}/verify?lang=zh")
            assert p2.locator("h1").inner_text() == _t("heading", 1)
            p2.set_input_files("#file", str(tmp_path / "astronaut.jpg"))
            p2.wait_for_selector("#result:not([hidden])", timeout=60_000)
            p2.set_input_files("#file", [])
            cropped_file = tmp_path / "repost.jpg"
            cropped_file.write_bytes(cropped)
            p2.set_input_files("#file", str(cropped_file))
            p2.wait_for_function(
                "id => document.querySelector('#f-record').textContent === id", arg=record_id, timeout=60_000
            )
            assert p2.locator("#verdict").inner_text() == _t("found", 1, state.settings.provider_name)
            fonts = p2.evaluate(
                """async () => { await document.fonts.ready;
                   return [...document.fonts].map(f => f.family.replace(/"/g, '') + ':' + f.status); }"""
            )
            assert "Assay UI Sans:loaded" in fonts, fonts
            assert p2.evaluate("() => document.documentElement.scrollWidth <= window.innerWidth")
            p2.screenshot(path=str(ARTIFACTS / "verify-found-zh-phone.png"), full_page=True)

            # the API's limit per client address reaches the page as a message
            state.settings.public_verify_per_minute = 1
            for _ in range(2):
                p2.set_input_files("#file", [])
                p2.set_input_files("#file", str(cropped_file))
            p2.wait_for_function(
                "() => document.querySelector('#status').className === 'error'", timeout=60_000
            )
            assert "秒后重试" in p2.locator("#status").inner_text()
        finally:
            browser.close()
    assert not [e for e in errors if "429" not in e], errors
