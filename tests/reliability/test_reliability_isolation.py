"""Tenant isolation, route by route: every route that takes an id must have a test that another
tenant's key gets nothing from it — or a stated reason why the route is not a tenant lookup.

The isolation tests themselves live with each capability (audit, review API, review page); this
guard fails when a route with a path parameter is added without one, or when the named test is
renamed, removed or no longer mentions the route.
"""

from __future__ import annotations

import ast
import importlib
import re
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]

AUDIT = ("tests/provenance/ledger/test_audit_api.py", "test_auditor_sees_only_own_tenant_and_404s_for_others")
REVIEW_API = ("tests/gateway/review/test_review_api.py", "test_other_tenants_items_are_404_on_every_route")
REVIEW_PAGE = (
    "tests/gateway/review/test_review_page.py",
    "test_other_tenants_items_are_404_on_every_page_route",
)
CASES = (
    "tests/gateway/review/test_cases.py",
    "test_appeal_of_a_block_is_decided_by_a_second_reviewer_and_counted",
)
ADMIN_ONLY = ("tests/gateway/review/test_review_api.py", "test_an_admin_assigns_reviewers_to_tenants")

#: route -> the test showing that a key of another tenant gets 404 (or 403) there
ISOLATED = {
    "/v1/audit/records/{record_id}": AUDIT,
    "/v1/audit/records/{record_id}/proof": AUDIT,
    "/v1/reviews/{review_id}": REVIEW_API,
    "/v1/reviews/{review_id}/detail": REVIEW_API,
    "/v1/reviews/{review_id}/images/{index}": REVIEW_API,
    "/v1/reviews/{review_id}/inputs/{n}": REVIEW_API,
    "/v1/reviews/{review_id}/claim": REVIEW_API,
    "/v1/reviews/{review_id}/unclaim": REVIEW_API,
    "/v1/reviews/{review_id}/approve": REVIEW_API,
    "/v1/reviews/{review_id}/reject": REVIEW_API,
    "/v1/reviews/{review_id}/escalate": REVIEW_API,
    "/v1/reviews/{review_id}/comments": REVIEW_API,
    "/v1/reviews/{review_id}/decide": CASES,
    "/v1/appeals/{appeal_id}": CASES,
    "/review/items/{review_id}": REVIEW_PAGE,
    "/review/items/{review_id}/images/{index}": REVIEW_PAGE,
    "/review/items/{review_id}/inputs/{n}": REVIEW_PAGE,
    "/review/items/{review_id}/neardup/{k}": REVIEW_PAGE,
    "/review/items/{review_id}/{action}": REVIEW_PAGE,
}

#: routes with a path parameter that is not a tenant's object, and the test that shows their guard
NOT_A_TENANT_LOOKUP = {
    "/v1/images/content/{content_id}": (
        "a signed, expiring capability URL (HMAC of content id and expiry); a wrong signature is 404",
        ("tests/gateway/test_api_images.py", "test_url_response_format_serves_the_released_bytes"),
    ),
    "/v1/reports/{report_id}": (
        "a complainant's receipt: public by design (the complainant has no key), names no tenant or "
        "image, the id is a random ULID, rate-limited per client address; an unknown id is 404",
        ("tests/gateway/review/test_cases.py", None),
    ),
    "/v1/reviewers/{key_id}/tenants": ("admin only: other roles get 403", ADMIN_ONLY),
    "/v1/reviewers/{key_id}/tenants/{tenant}": ("admin only: other roles get 403", ADMIN_ONLY),
    "/v1/review-webhooks/{tenant}": (
        "admin only: other roles get 403",
        ("tests/gateway/review/test_review_api.py", None),
    ),
    "/review/static/{name}": ("the review page's static assets (public, no data)", None),
    "/review/lang/{code}": ("the review page's language switch (a cookie, no data)", None),
    "/audit/records/{record_id}": (
        "the auditor console's static shell: its script reads the record through /v1/audit/records/{id}, "
        "which is isolated above; the page itself holds no record data",
        None,
    ),
    "/audit/static/{name}": ("the auditor console's static assets (public, no data)", None),
    "/verify/static/{name}": ("the public verify page's static assets (public, no data)", None),
    "/log/tile/{path:path}": (
        "the whole log's Merkle tiles (C2SP tlog-tiles): public hashes; entry bundles need an admin key",
        ("tests/provenance/ledger/test_ledger_tiles.py", "test_http_tiles_checkpoint_and_entry_access"),
    ),
    "/v1/models/{model_id:path}": (
        "the model this gateway serves, the same for every tenant",
        ("tests/gateway/test_models_api.py", "test_an_unknown_model_is_404_naming_what_is_served"),
    ),
}


def _routes_with_ids() -> list[str]:
    from gateway.app import ROUTERS

    paths = set()
    for name in ROUTERS:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name == name:
                continue
            raise
        for route in module.router.routes:
            if "{" in getattr(route, "path", ""):
                paths.add(route.path)
    return sorted(paths)


def _mentions(text: str, route: str) -> bool:
    """The test file requests this route: its literal pieces appear in order on one line."""
    pieces = [p for p in re.split(r"\{[^}]+\}", route) if p.strip("/")]
    pattern = ".*".join(re.escape(p.rstrip("/")) for p in pieces) if pieces else re.escape(route)
    return any(re.search(pattern, line) for line in text.splitlines())


def _has_test(path: str, name: str | None) -> tuple[bool, str]:
    file = REPO / path
    if not file.is_file():
        return False, ""
    text = file.read_text(encoding="utf-8")
    if name is None:
        return True, text
    names = {n.name for n in ast.walk(ast.parse(text)) if isinstance(n, ast.FunctionDef)}
    return name in names, text


def test_every_route_that_takes_an_id_has_a_tenant_isolation_test() -> None:
    routes = _routes_with_ids()
    assert "/v1/audit/records/{record_id}" in routes, routes
    problems = []
    for route in routes:
        if route in ISOLATED:
            ok, text = _has_test(*ISOLATED[route])
            if not ok:
                problems.append(f"{route}: isolation test {ISOLATED[route]} is missing")
            elif not _mentions(text, route):
                problems.append(f"{route}: {ISOLATED[route][0]} never requests this route")
        elif route in NOT_A_TENANT_LOOKUP:
            _reason, where = NOT_A_TENANT_LOOKUP[route]
            if where is not None and not _has_test(*where)[0]:
                problems.append(f"{route}: the test named for its guard {where} is missing")
        else:
            problems.append(f"{route}: takes an id but no tenant-isolation test is named for it here")
    stale = sorted(set(ISOLATED) - set(routes))
    assert problems == [], "\n".join(problems)
    assert stale == [], f"routes named here no longer exist: {stale}"
