"""The /review page over HTTP (no browser): login and cookies, CSRF, tenant isolation on every page
route, evidence rendering (boxes, highlighted spans, near-duplicates, the rule that fired), i18n."""

from __future__ import annotations

import re
from pathlib import Path
from typing import ClassVar

import pytest
from fastapi.testclient import TestClient
from PIL import Image

from safety.check import CheckInput
from safety.verdict import Category, TargetKind, Verdict
from tests.gateway.review.support import NAME, Keys, make_held, review_records

pytestmark = pytest.mark.usefixtures("held_policy")
CSRF = re.compile(r'name="csrf" value="([^"]+)"')


def login(app, key: str, **headers: str) -> tuple[TestClient, str]:  # noqa: ANN001
    """A fresh browser-like client signed in with ``key``; returns it and its CSRF token."""
    c = TestClient(app, follow_redirects=False, headers=headers)
    page = c.get("/review/login")
    token = CSRF.search(page.text).group(1)
    r = c.post("/review/login", data={"key": key, "csrf": token})
    assert r.status_code == 303 and r.headers["location"] == "/review/queue", r.text[:300]
    q = c.get("/review/queue")
    assert q.status_code == 200
    return c, CSRF.search(q.text).group(1)


def test_login_sets_a_strict_httponly_cookie_and_refuses_wrong_keys(app, keys: Keys) -> None:
    c = TestClient(app, follow_redirects=False)
    assert c.get("/review/queue").headers["location"] == "/review/login"
    page = c.get("/review/login")
    assert page.status_code == 200 and "default-src 'none'" in page.headers["content-security-policy"]
    token = CSRF.search(page.text).group(1)
    # no token (a forged cross-site login) -> refused
    assert c.post("/review/login", data={"key": keys.reviewer1}).status_code == 403
    assert c.post("/review/login", data={"key": "ask_nope", "csrf": token}).status_code == 401
    assert c.post("/review/login", data={"key": keys.requester, "csrf": token}).status_code == 401
    r = c.post("/review/login", data={"key": keys.reviewer1, "csrf": token})
    assert r.status_code == 303
    cookie = next(
        v for k, v in r.headers.multi_items() if k == "set-cookie" and v.startswith("assay_review=")
    )
    assert "HttpOnly" in cookie and "SameSite=strict" in cookie and "Path=/review" in cookie
    assert keys.reviewer1 not in cookie  # the key itself never becomes the cookie


def test_a_forged_form_without_the_csrf_token_is_refused(app, client, keys: Keys, state) -> None:
    rid = make_held(client, keys.h("requester"))["review_id"]
    c, token = login(app, keys.reviewer1)
    _, other_token = login(app, keys.reviewer2)
    for data in ({}, {"csrf": ""}, {"csrf": other_token}, {"csrf": token[:-1] + "x"}):
        r = c.post(f"/review/items/{rid}/claim", data=data)
        assert r.status_code == 403 and "security token" in r.text
    assert [r.decision for r in review_records(state, rid)] == ["queued"]
    assert c.post("/review/logout", data={}).status_code == 403  # logout is a form too
    r = c.post(f"/review/items/{rid}/claim", data={"csrf": token})
    assert r.status_code == 303 and r.headers["location"].endswith("done=claim")
    assert [r.decision for r in review_records(state, rid)] == ["queued", "claimed"]


def test_the_item_page_shows_the_evidence(app, client, keys: Keys, state) -> None:
    rid = make_held(client, keys.h("requester"))["review_id"]
    c, token = login(app, keys.reviewer1)
    html = c.get(f"/review/items/{rid}").text
    # the prompt with the matched name highlighted
    assert f'<mark title="real_person (test.person, 0.60)">{NAME}</mark>' in html
    # the face box over the 256x256 image (the check reports [64, 64, 128, 128])
    assert 'viewBox="0 0 256 256"' in html
    assert re.search(r'<rect class="box face" x="64" y="64" width="128" height="128"', html)
    # the policy rule that fired, with its threshold
    assert "Policy rule:</b> held · real person ≥ 0.50 → review" in html and "(check test.person)" in html
    assert 'id="claim-form"' in html and 'id="approve-form"' not in html
    img = c.get(f"/review/items/{rid}/images/0")
    assert img.status_code == 200 and img.headers["content-type"] == "image/png"
    c.post(f"/review/items/{rid}/claim", data={"csrf": token})
    html = c.get(f"/review/items/{rid}").text
    assert 'id="approve-form"' in html and 'id="reject-form"' in html and 'id="claim-note"' in html


def test_two_reviewers_approve_through_the_forms(app, client, keys: Keys, state) -> None:
    rid = make_held(client, keys.h("requester"))["review_id"]
    c1, t1 = login(app, keys.reviewer1)
    c2, t2 = login(app, keys.reviewer2)
    assert c1.get("/review/next").headers["location"] == f"/review/items/{rid}"
    c1.post(f"/review/items/{rid}/claim", data={"csrf": t1})
    r = c1.post(f"/review/items/{rid}/approve", data={"csrf": t1, "reason_code": "no_violation"})
    assert r.headers["location"].endswith("done=approved_first")
    assert "a second reviewer must approve" in c1.get(r.headers["location"]).text
    r = c1.post(f"/review/items/{rid}/claim", data={"csrf": t1})
    assert r.status_code == 403 and "four-eyes" in r.text
    c2.post(f"/review/items/{rid}/claim", data={"csrf": t2})
    r = c2.post(f"/review/items/{rid}/approve", data={"csrf": t2, "reason_code": "other"})
    assert r.status_code == 400 and "needs a comment" in r.text
    r = c2.post(
        f"/review/items/{rid}/approve", data={"csrf": t2, "reason_code": "other", "comment": "satire"}
    )
    assert r.headers["location"].endswith("done=approve")
    html = c2.get(f"/review/items/{rid}").text
    assert 'data-state="approved"' in html and 'id="approvals">2/2' in html
    assert len(client.get(f"/v1/reviews/{rid}", headers=keys.h("requester")).json()["data"]) == 1


def test_other_tenants_items_are_404_on_every_page_route(app, client, keys: Keys) -> None:
    rid = make_held(client, keys.h("requester"))["review_id"]
    c, token = login(app, keys.other_tenant_reviewer)
    for path in (
        f"/review/items/{rid}",
        f"/review/items/{rid}/images/0",
        f"/review/items/{rid}/inputs/0",
        f"/review/items/{rid}/neardup/0",
    ):
        assert c.get(path).status_code == 404, path
    for action in ("claim", "unclaim", "approve", "reject", "escalate", "comment"):
        r = c.post(
            f"/review/items/{rid}/{action}",
            data={"csrf": token, "reason_code": "no_violation", "comment": "x"},
        )
        assert r.status_code == 404, action
    assert rid not in c.get("/review/queue").text
    assert rid not in c.get("/review/queue?tenant=acme&state=all").text
    assert c.get("/review/next").headers["location"] == "/review/queue?done=no_next"


def test_queue_counts_filters_and_chinese(app, client, keys: Keys) -> None:
    a = make_held(client, keys.h("requester"))["review_id"]
    b = make_held(client, keys.h("requester"), prompt="a busy street")["review_id"]
    c, token = login(app, keys.reviewer1, **{"Accept-Language": "zh-CN,zh;q=0.9,en;q=0.5"})
    c.post(f"/review/items/{a}/claim", data={"csrf": token})
    html = c.get("/review/queue").text
    assert '<html lang="zh-CN">' in html and "审核队列" in html and "真实人物" in html
    assert re.search(r'data-state="pending">待审核 <b>1</b>', html) and re.search(
        r'data-state="claimed">已认领 <b>1</b>', html
    )
    assert a in html and b in html
    html = c.get("/review/queue?state=claimed").text
    assert a in html and b not in html
    assert b not in c.get("/review/queue?mine=1").text
    assert c.get("/review/queue?category=sexual").text.count('class="item-link"') == 0
    # the toggle switches to English and stays (a cookie), whatever the browser asks for
    r = c.get("/review/lang/en?back=/review/queue")
    assert r.status_code == 303 and r.headers["location"] == "/review/queue"
    assert "Queue" in c.get("/review/queue").text
    assert c.get("/review/lang/en?back=https://evil.example/").headers["location"] == "/review/queue"


def test_logout_and_revoked_keys_end_the_session(app, client, keys: Keys, state) -> None:
    c, token = login(app, keys.reviewer1)
    assert c.post("/review/logout", data={"csrf": token}).status_code == 303
    assert c.get("/review/queue").headers["location"] == "/review/login"
    c, token = login(app, keys.reviewer2)
    state.keys.revoke(keys.ids["reviewer2"])
    assert c.get("/review/queue").headers["location"] == "/review/login"


class _NearDup:
    name: ClassVar[str] = "test.neardup"
    targets: ClassVar[frozenset[TargetKind]] = frozenset({TargetKind.OUTPUT_IMAGE})

    def __init__(self, path: Path) -> None:
        self.path = path

    def run(self, item: CheckInput) -> list[Verdict]:
        return [
            Verdict(
                check=self.name,
                category=Category.COPYRIGHT,
                score=0.8,
                target=item.target,
                reason="near-duplicate of 'poster-17'",
                evidence={
                    "index": "studio",
                    "source_id": "poster-17",
                    "path": str(self.path),
                    "distance": 3,
                    "method": "phash",
                    "similarity": None,
                    "licence": "all rights reserved",
                    "owner": "Studio X",
                },
            )
        ]


def test_a_near_duplicate_is_shown_side_by_side_with_its_distance(
    app, client, keys: Keys, state, tmp_path
) -> None:
    from gateway.policy import Policy

    src = tmp_path / "poster.png"
    Image.new("RGB", (300, 200), (10, 120, 200)).save(src)
    state.checks.add(_NearDup(src))
    base = state.policies.get("held").model_dump()
    base.update(
        id="neardup", checks={"prompt": [], "input_image": [], "output_image": [{"name": "test.neardup"}]}
    )
    state.policies.add(Policy.model_validate(base))
    state.keys.set_policy("acme", "neardup")
    rid = make_held(client, keys.h("requester"))["review_id"]
    c, _ = login(app, keys.reviewer1)
    html = c.get(f"/review/items/{rid}").text
    assert 'id="neardup-0"' in html and "poster-17" in html and '<dd class="distance">3' in html
    assert f'src="/review/items/{rid}/neardup/0"' in html and "Studio X" in html
    r = c.get(f"/review/items/{rid}/neardup/0")
    assert r.status_code == 200 and Image.open(__import__("io").BytesIO(r.content)).size == (300, 200)
    assert c.get(f"/review/items/{rid}/neardup/1").status_code == 404
