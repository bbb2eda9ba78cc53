"""The review page in a real headless Chromium (Debian's package, driven by Playwright for Python).

A held generation (the real ``image.faces`` check found the astronaut's face; four-eyes applies to
real persons in this policy) is approved through the page by two reviewers using the keyboard, the
face box is checked where it is drawn, and the requester then fetches the marked, signed image.
Screenshots go to ``test-artifacts/`` (git-ignored). The test skips where Chromium is not installed
(``make browser`` installs it; CI runs that first).
"""

from __future__ import annotations

import base64
from pathlib import Path

import httpx
import pytest

from tests.browser import ARGS, ARTIFACTS, CHROMIUM, NEEDS_CHROMIUM
from tests.gateway.review.support import NAME, PROMPT, Keys, PersonCheck, ledger_ok, review_records

pytestmark = NEEDS_CHROMIUM


@pytest.fixture
def db_url(tmp_path: Path) -> str:
    """SQLite only: the queue's database behaviour runs on both in test_review_queue.py; here the
    subject is the page in a browser, and each browser run takes several seconds."""
    return f"sqlite:///{tmp_path / 'assay.db'}"


@pytest.fixture
def browser_policy(state) -> None:  # noqa: ANN001
    """The real face detector on outputs, a name span in the prompt, four-eyes for real persons."""
    from gateway.policy import Policy

    state.checks.add(PersonCheck())
    base = state.policies.get("default").model_dump()
    base.update(
        id="faces-4eyes",
        checks={
            "prompt": [{"name": "test.person"}],
            "input_image": [],
            "output_image": [{"name": "image.faces"}],
        },
        review={"four_eyes": ["real_person"], "sla_hours": 4, "keep_rejected_images": False},
    )
    state.policies.add(Policy.model_validate(base))
    state.keys.ensure_tenant("acme", "faces-4eyes")
    state.keys.set_policy("acme", "faces-4eyes")


def _login(browser, base: str, key: str, errors: list[str]):  # noqa: ANN001, ANN202
    ctx = browser.new_context(viewport={"width": 1280, "height": 1000}, locale="en-US")
    page = ctx.new_page()
    page.on(
        "console",
        lambda m: errors.append(m.text) if m.type == "error" and "status of 403" not in m.text else None,
    )  # the 403 is the forged form's answer, checked below
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.on(
        "response",
        lambda r: errors.append(f"{r.status} {r.url}") if r.status >= 400 and r.status != 403 else None,
    )
    page.goto(f"{base}/review")
    assert page.url.endswith("/review/login")
    page.fill("#key", key)
    page.click("#login-form button[type=submit]")
    page.wait_for_url(f"{base}/review/queue")
    cookie = next(c for c in ctx.cookies() if c["name"] == "assay_review")
    assert cookie["httpOnly"] and cookie["sameSite"] == "Strict"
    return ctx, page


@pytest.mark.usefixtures("browser_policy")
def test_two_reviewers_approve_in_chromium_and_the_requester_gets_the_marked_image(
    live_server, keys: Keys, state
) -> None:
    from playwright.sync_api import sync_playwright

    base = live_server.url
    req = {"Authorization": f"Bearer {keys.requester}"}
    r = httpx.post(
        f"{base}/v1/images/generations",
        headers=req,
        timeout=120,
        json={"prompt": PROMPT, "size": "512x512", "seed": 3},
    )
    assert r.status_code == 202, r.text[:300]
    rid, record_id = r.json()["assay"]["review_id"], r.json()["assay"]["record_id"]
    faces = [v for v in state.ledger.get(record_id).body["verdicts"] if v["check"] == "image.faces"]
    assert faces and faces[0]["evidence"]["faces"], "the real face detector must find the astronaut's face"
    fx, fy, fw, fh = faces[0]["evidence"]["faces"][0]["box"]
    ARTIFACTS.mkdir(exist_ok=True)
    errors: list[str] = []

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        try:
            # --- reviewer 1: queue -> item -> claim (c) -> approve (a) -------------------------------
            ctx1, p1 = _login(browser, base, keys.reviewer1, errors)
            assert p1.locator('a.count[data-state="pending"] b').inner_text() == "1"
            p1.click(f'a.item-link:has-text("{rid}")')
            p1.wait_for_url(f"{base}/review/items/{rid}")
            # the overlay: one face box, drawn where the detector put it
            rect = p1.locator("#held-0 rect.box.face").first
            assert rect.get_attribute("x") == str(fx) and rect.get_attribute("width") == str(fw)
            img_box = p1.locator("#held-0 img").bounding_box()
            box = rect.bounding_box()
            scale = img_box["width"] / 512
            assert abs(box["x"] - (img_box["x"] + fx * scale)) <= 3 and abs(box["width"] - fw * scale) <= 4
            assert abs(box["y"] - (img_box["y"] + fy * scale)) <= 3 and abs(box["height"] - fh * scale) <= 4
            assert p1.locator("#held-0 img").evaluate("img => img.complete && img.naturalWidth") == 512
            assert p1.locator("#prompt mark").inner_text() == NAME
            p1.keyboard.press("c")
            p1.wait_for_selector("#approve-form")
            p1.screenshot(path=str(ARTIFACTS / "review-item-claimed.png"), full_page=True)
            p1.keyboard.press("a")
            p1.wait_for_selector("#flash")
            assert "a second reviewer must approve" in p1.inner_text("#flash")
            assert p1.inner_text("#approvals") == "1/2"
            assert p1.locator("#claim-form").count() == 0  # four-eyes: not again for reviewer 1

            # --- reviewer 2 (in Chinese): next (n) -> claim (c) -> approve (a) -----------------------
            ctx2, p2 = _login(browser, base, keys.reviewer2, errors)
            p2.click("#lang-toggle")
            p2.wait_for_selector("text=审核队列")
            p2.keyboard.press("n")
            p2.wait_for_url(f"{base}/review/items/{rid}")
            p2.keyboard.press("c")
            p2.wait_for_selector("#approve-form")
            assert "通过" in p2.inner_text("#approve-form button")
            p2.screenshot(path=str(ARTIFACTS / "review-item-zh.png"), full_page=True)
            p2.keyboard.press("a")
            p2.wait_for_selector('#item-state[data-state="approved"]')
            assert p2.inner_text("#approvals") == "2/2"
            p2.screenshot(path=str(ARTIFACTS / "review-approved.png"), full_page=True)

            # a forged form (no CSRF token) submitted from the signed-in browser is refused
            before = len(review_records(state, rid))
            with p2.expect_navigation():
                p2.evaluate(
                    """(rid) => { const f = document.createElement('form'); f.method = 'post';
                    f.action = `/review/items/${rid}/comment`; const c = document.createElement('input');
                    c.name = 'comment'; c.value = 'forged'; f.appendChild(c); document.body.appendChild(f);
                    f.submit(); }""",
                    rid,
                )
            assert "security token" in p2.inner_text("#error-message")
            assert len(review_records(state, rid)) == before
            ctx1.close()
            ctx2.close()
        finally:
            browser.close()
    assert errors == [], errors  # no script errors, nothing blocked by the page's CSP

    # --- the requester fetches the released image: marked, signed, pointing to its record -------
    body = httpx.get(f"{base}/v1/reviews/{rid}", headers=req, timeout=30).json()
    assert body["assay"]["status"] == "approved"
    data = base64.b64decode(body["data"][0]["b64_json"])
    (ARTIFACTS / "review-released.png").write_bytes(data)
    v = httpx.post(
        f"{base}/v1/verify", headers=req, files={"image": ("x.png", data, "image/png")}, timeout=60
    ).json()
    assert v["record_id"] == record_id and v["c2pa"]["state"] in ("trusted", "valid")
    assert v["watermark"]["detected"] and v["xmp"]["tc260"]["Label"] == "1"
    assert [r.decision for r in review_records(state, rid)] == [
        "queued",
        "claimed",
        "approved_first",
        "claimed",
        "approved",
    ]
    ledger_ok(state)
