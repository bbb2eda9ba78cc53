"""The review API on SQLite and PostgreSQL: hold -> claim -> four-eyes approval -> release of a marked,
signed image; rejection; escalation; requester and tenant rules on every route; ledger records."""

from __future__ import annotations

import base64

import pytest

from tests.gateway.review.support import PROMPT, Keys, ledger_ok, make_held, review_records

pytestmark = pytest.mark.usefixtures("held_policy")


def _approve(client, keys: Keys, who: str, rid: str, code: str = "no_violation"):  # noqa: ANN001, ANN201
    r = client.post(f"/v1/reviews/{rid}/claim", headers=keys.h(who))
    assert r.status_code == 200, r.text
    return client.post(f"/v1/reviews/{rid}/approve", headers=keys.h(who), json={"reason_code": code})


def test_four_eyes_release_gives_the_requester_a_marked_signed_image(client, keys: Keys, state) -> None:
    held = make_held(client, keys.h("requester"))
    rid, record_id = held["review_id"], held["record_id"]
    gen = state.ledger.get(record_id)
    assert gen.body["status"] == "held" and gen.body["outputs"][0]["action"] == "review"

    r = client.get(f"/v1/reviews/{rid}", headers=keys.h("requester"))
    assert r.status_code == 200 and r.json()["assay"]["status"] == "pending" and r.json()["data"] == []

    page = client.get("/v1/reviews", headers=keys.h("reviewer1")).json()
    [row] = page["data"]
    assert row["id"] == rid and row["categories"] == ["real_person"] and row["approvals_needed"] == 2
    assert page["counts"]["pending"] == 1 and page["total"] == 1
    detail = client.get(f"/v1/reviews/{rid}/detail", headers=keys.h("reviewer1")).json()
    assert detail["prompt"] == PROMPT and detail["images"] == [0]
    assert {v["check"] for v in detail["verdicts"]} == {"test.person"}
    img = client.get(f"/v1/reviews/{rid}/images/0", headers=keys.h("reviewer1"))
    assert img.status_code == 200 and img.headers["content-type"] == "image/png"
    assert img.headers["cache-control"] == "no-store"

    r = _approve(client, keys, "reviewer1", rid)
    assert r.status_code == 200, r.text
    assert r.json()["state"] == "pending" and r.json()["approvals"] == 1 and r.json()["first_approver"]
    # the same reviewer cannot give the second approval
    r = client.post(f"/v1/reviews/{rid}/claim", headers=keys.h("reviewer1"))
    assert r.status_code == 403 and "four-eyes" in r.json()["error"]["message"]
    assert client.get(f"/v1/reviews/{rid}", headers=keys.h("requester")).json()["data"] == []

    r = _approve(client, keys, "reviewer2", rid, "false_positive")
    assert r.status_code == 200, r.text
    assert r.json()["state"] == "approved" and r.json()["decided_by"] == keys.ids["reviewer2"]

    r = client.get(f"/v1/reviews/{rid}", headers=keys.h("requester"))
    body = r.json()
    assert body["assay"]["status"] == "approved" and body["assay"]["reason_code"] == "false_positive"
    data = base64.b64decode(body["data"][0]["b64_json"])
    # marked and signed: the C2PA manifest names the generation record, the watermark and XMP agree
    v = client.post(
        "/v1/verify", headers=keys.h("requester"), files={"image": ("x.png", data, "image/png")}
    ).json()
    assert v["c2pa"]["state"] in ("trusted", "valid") and v["record_id"] == record_id
    assert v["xmp"]["tc260"]["ProduceID"] == f"{record_id}-0"
    assert v["watermark"]["detected"]

    recs = review_records(state, rid)
    assert [r.decision for r in recs] == ["queued", "claimed", "approved_first", "claimed", "approved"]
    assert all(r.subject_id == record_id for r in recs)
    assert recs[-1].body["outputs"][0]["sha256"] == body["assay"]["images"][0]["sha256"]
    assert recs[2].body["actor"] == keys.ids["reviewer1"] and recs[-1].body["actor"] == keys.ids["reviewer2"]
    ledger_ok(state)


def test_one_approval_suffices_outside_four_eyes(client, keys: Keys, state) -> None:
    other = {"Authorization": f"Bearer {keys.other_requester}"}
    rid = make_held(client, other)["review_id"]
    r = _approve(client, keys, "other_tenant_reviewer", rid)
    assert r.status_code == 200 and r.json()["state"] == "approved"
    assert len(client.get(f"/v1/reviews/{rid}", headers=other).json()["data"]) == 1


def test_reject_discards_the_held_bytes(client, keys: Keys, state) -> None:
    held = make_held(client, keys.h("requester"))
    rid = held["review_id"]
    client.post(f"/v1/reviews/{rid}/claim", headers=keys.h("reviewer1"))
    r = client.post(
        f"/v1/reviews/{rid}/reject", headers=keys.h("reviewer1"), json={"reason_code": "no_violation"}
    )
    assert r.status_code == 400 and r.json()["error"]["param"] == "reason_code"  # an approve code
    r = client.post(f"/v1/reviews/{rid}/reject", headers=keys.h("reviewer1"), json={"reason_code": "other"})
    assert r.status_code == 400  # "other" needs a comment
    blob = state.ledger.get(held["record_id"]).body["outputs"][0]["blob"]
    assert state.blobs.exists(blob)
    r = client.post(
        f"/v1/reviews/{rid}/reject",
        headers=keys.h("reviewer1"),
        json={"reason_code": "real_person", "comment": "no consent on file"},
    )
    assert r.status_code == 200 and r.json()["state"] == "rejected"
    assert not state.blobs.exists(blob)
    assert client.get(f"/v1/reviews/{rid}/images/0", headers=keys.h("reviewer1")).status_code == 404
    st = client.get(f"/v1/reviews/{rid}", headers=keys.h("requester")).json()
    assert st["assay"]["status"] == "rejected" and st["data"] == []
    rec = review_records(state, rid)[-1]
    assert rec.decision == "rejected" and rec.body["reason_code"] == "real_person"
    assert "no consent" not in str(rec.body) and len(rec.body["comment_sha256"]) == 64  # only the digest
    # decided: no more claims
    assert client.post(f"/v1/reviews/{rid}/claim", headers=keys.h("reviewer2")).status_code == 409
    ledger_ok(state)


def test_keep_rejected_images_keeps_them(client, keys: Keys, state) -> None:
    from tests.gateway.review.support import install_review_policy

    install_review_policy(state, four_eyes=[], keep_rejected=True, policy_id="held-keep")
    rid = make_held(client, keys.h("requester"))["review_id"]
    client.post(f"/v1/reviews/{rid}/claim", headers=keys.h("reviewer1"))
    client.post(f"/v1/reviews/{rid}/reject", headers=keys.h("reviewer1"), json={"reason_code": "sexual"})
    assert client.get(f"/v1/reviews/{rid}/images/0", headers=keys.h("reviewer1")).status_code == 200
    assert review_records(state, rid)[-1].body["images_kept"] is True


def test_escalated_items_wait_for_an_admin(client, keys: Keys, state) -> None:
    other = {"Authorization": f"Bearer {keys.other_requester}"}
    rid = make_held(client, other)["review_id"]
    who = keys.h("other_tenant_reviewer")
    client.post(f"/v1/reviews/{rid}/claim", headers=who)
    r = client.post(
        f"/v1/reviews/{rid}/escalate", headers=who, json={"reason_code": "legal", "comment": "ask legal"}
    )
    assert r.status_code == 200 and r.json()["state"] == "escalated" and r.json()["priority"] >= 200
    assert client.post(f"/v1/reviews/{rid}/claim", headers=who).status_code == 403
    r = _approve(client, keys, "admin", rid)
    assert r.status_code == 200 and r.json()["state"] == "approved"
    assert [e["action"] for e in r.json()["events"]] == [
        "queued",
        "claimed",
        "escalated",
        "claimed",
        "approved",
    ]


def test_a_requester_never_reviews_their_own_request(client, keys: Keys, state) -> None:
    # an admin key may generate; it may then not review what it asked for
    rid = make_held(client, keys.h("admin"))["review_id"]
    r = client.post(f"/v1/reviews/{rid}/claim", headers=keys.h("admin"))
    assert r.status_code == 403 and "never reviews their own" in r.json()["error"]["message"]
    # nor may a reviewer whose key the tenant named as the end user
    r = client.post(
        "/v1/images/generations",
        headers=keys.h("requester"),
        json={"prompt": PROMPT, "size": "256x256", "user": keys.ids["reviewer1"]},
    )
    rid = r.json()["assay"]["review_id"]
    assert client.post(f"/v1/reviews/{rid}/claim", headers=keys.h("reviewer1")).status_code == 403
    assert client.post(f"/v1/reviews/{rid}/claim", headers=keys.h("reviewer2")).status_code == 200
    # requesters and auditors cannot use the reviewer routes at all
    assert (
        client.post(
            f"/v1/reviews/{rid}/approve", headers=keys.h("requester"), json={"reason_code": "no_violation"}
        ).status_code
        == 403
    )
    auditor, _ = state.keys.create("acme", "auditor")
    assert client.get("/v1/reviews", headers={"Authorization": f"Bearer {auditor}"}).status_code == 403
    assert client.get(f"/v1/reviews/{rid}", headers={"Authorization": f"Bearer {auditor}"}).status_code == 403


ROUTES = [
    ("GET", "/v1/reviews/{rid}", None),
    ("GET", "/v1/reviews/{rid}/detail", None),
    ("GET", "/v1/reviews/{rid}/images/0", None),
    ("GET", "/v1/reviews/{rid}/inputs/0", None),
    ("POST", "/v1/reviews/{rid}/claim", None),
    ("POST", "/v1/reviews/{rid}/unclaim", None),
    ("POST", "/v1/reviews/{rid}/approve", {"reason_code": "no_violation"}),
    ("POST", "/v1/reviews/{rid}/reject", {"reason_code": "sexual"}),
    ("POST", "/v1/reviews/{rid}/escalate", {"reason_code": "unsure"}),
    ("POST", "/v1/reviews/{rid}/comments", {"text": "hello"}),
]


def test_other_tenants_items_are_404_on_every_route(client, keys: Keys, state) -> None:
    rid = make_held(client, keys.h("requester"))["review_id"]
    client.post(f"/v1/reviews/{rid}/claim", headers=keys.h("reviewer1"))
    for who in ("other_tenant_reviewer", "other_requester"):
        for method, path, body in ROUTES:
            r = client.request(method, path.format(rid=rid), headers=keys.h(who), json=body)
            expected = 403 if who == "other_requester" and path != "/v1/reviews/{rid}" else 404
            assert r.status_code == expected, (who, method, path, r.text)
        # an unknown id answers the same
        assert client.get("/v1/reviews/01ARZ3NDEKTSV4RRFFQ69G5FAV", headers=keys.h(who)).status_code == 404
    assert client.get("/v1/reviews", headers=keys.h("other_tenant_reviewer")).json()["total"] == 0
    assert client.get("/v1/reviews?tenant=acme", headers=keys.h("other_tenant_reviewer")).json()["total"] == 0
    # nothing changed on the item
    d = client.get(f"/v1/reviews/{rid}/detail", headers=keys.h("reviewer1")).json()
    assert d["state"] == "claimed" and d["claimed_by"] == keys.ids["reviewer1"]
    assert [e["action"] for e in d["events"]] == ["queued", "claimed"]


def test_an_admin_assigns_reviewers_to_tenants(client, keys: Keys, state) -> None:
    rid = make_held(client, keys.h("requester"))["review_id"]
    kid = keys.ids["other_tenant_reviewer"]
    who = keys.h("other_tenant_reviewer")
    assert client.get(f"/v1/reviews/{rid}/detail", headers=who).status_code == 404
    assert client.put(f"/v1/reviewers/{kid}/tenants/acme", headers=keys.h("reviewer1")).status_code == 403
    r = client.put(f"/v1/reviewers/{kid}/tenants/acme", headers=keys.h("admin"))
    assert r.status_code == 200 and r.json() == {"key_id": kid, "tenant": "acme"}
    assert client.get(f"/v1/reviews/{rid}/detail", headers=who).status_code == 200
    assert client.get("/v1/reviews", headers=who).json()["total"] == 1
    assert client.get(f"/v1/reviewers/{kid}/tenants", headers=keys.h("admin")).json() == [r.json()]
    assert (
        client.put(f"/v1/reviewers/{keys.ids['requester']}/tenants/acme", headers=keys.h("admin")).status_code
        == 400
    )  # not a reviewer key
    assert client.delete(f"/v1/reviewers/{kid}/tenants/acme", headers=keys.h("admin")).status_code == 204
    assert client.get(f"/v1/reviews/{rid}/detail", headers=who).status_code == 404
    kinds = [state.ledger.get_index(i) for i in range(state.ledger.head().size)]
    assert [r.decision for r in kinds if r.kind == "reviewer"] == ["assigned", "unassigned"]


def test_queue_filters_counts_and_sla(client, keys: Keys, state) -> None:
    from datetime import timedelta

    a = make_held(client, keys.h("requester"))["review_id"]
    b = make_held(client, keys.h("requester"), prompt="a crowd at a concert")["review_id"]
    client.post(f"/v1/reviews/{a}/claim", headers=keys.h("reviewer1"))
    page = client.get("/v1/reviews", headers=keys.h("reviewer2")).json()
    assert page["counts"]["pending"] == 1 and page["counts"]["claimed"] == 1 and page["total"] == 2
    # equal priority (the same 0.9 face finding): the earlier due time first
    assert [r["id"] for r in page["data"]] == [a, b]
    assert client.get("/v1/reviews?state=claimed", headers=keys.h("reviewer2")).json()["data"][0]["id"] == a
    assert client.get("/v1/reviews?mine=true", headers=keys.h("reviewer1")).json()["total"] == 1
    assert client.get("/v1/reviews?category=sexual", headers=keys.h("reviewer2")).json()["total"] == 0
    assert (
        client.get("/v1/reviews?category=real_person&policy=held", headers=keys.h("reviewer2")).json()[
            "total"
        ]
        == 2
    )
    assert client.get("/v1/reviews?state=bogus", headers=keys.h("reviewer2")).status_code == 400
    # a day and an hour later: both are overdue and a's claim has expired
    q = state.review_queue
    real = q.clock
    q.clock = lambda: real() + timedelta(hours=25)
    page = client.get("/v1/reviews", headers=keys.h("reviewer2")).json()
    assert (
        page["counts"]["overdue"] == 2
        and page["counts"]["pending"] == 2
        and all(r["overdue"] for r in page["data"])
    )
    assert client.get("/v1/reviews?overdue=true", headers=keys.h("reviewer2")).json()["total"] == 2


def test_an_edit_of_a_photo_with_a_face_is_held_by_the_real_faces_check(client, keys: Keys, state) -> None:
    """The real path: default.yaml's rule for real_person, image.faces (dlib) on the input image."""
    from pathlib import Path

    from gateway.policy import Policy

    base = state.policies.get("default").model_dump()
    base.update(
        id="faces-only", checks={"prompt": [], "input_image": [{"name": "image.faces"}], "output_image": []}
    )
    state.policies.add(Policy.model_validate(base))
    state.keys.set_policy("acme", "faces-only")
    photo = Path(__file__).resolve().parents[2] / "safety/image/data/grace_hopper.jpg"
    r = client.post(
        "/v1/images/edits",
        headers=keys.h("requester"),
        files={"image": ("grace.jpg", photo.read_bytes(), "image/jpeg")},
        data={"prompt": "make it a watercolour", "size": "256x256"},
    )
    assert r.status_code == 202, r.text[:300]
    rid = r.json()["assay"]["review_id"]
    d = client.get(f"/v1/reviews/{rid}/detail", headers=keys.h("reviewer1")).json()
    assert d["mode"] == "img2img" and d["inputs"] == 1 and d["approvals_needed"] == 1
    [face] = [v for v in d["verdicts"] if v["check"] == "image.faces"]
    assert face["target"] == {"kind": "input_image", "index": 0} and face["evidence"]["faces"][0]["box"]
    inp = client.get(f"/v1/reviews/{rid}/inputs/0", headers=keys.h("reviewer1"))
    assert inp.status_code == 200 and inp.headers["content-type"] == "image/png"
    r = _approve(client, keys, "reviewer1", rid)
    assert r.status_code == 200 and r.json()["state"] == "approved", r.text[:300]
    out = client.get(f"/v1/reviews/{rid}", headers=keys.h("requester")).json()
    data = base64.b64decode(out["data"][0]["b64_json"])
    v = client.post(
        "/v1/verify", headers=keys.h("requester"), files={"image": ("x.png", data, "image/png")}
    ).json()
    assert v["record_id"] == out["assay"]["record_id"]
    ledger_ok(state)
