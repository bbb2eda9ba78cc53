"""Complaints and appeals (issue 17): public reports through the queue to a withdrawn content URL,
appeals decided by a second reviewer and counted in the console's overturn rate."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from tests.gateway.review.support import NAME, PersonCheck, install_review_policy, ledger_ok, make_held


def _open_policy(state, *, hours: float | None = None) -> None:  # noqa: ANN001
    """acme: no image checks (images are released), a named real person in the prompt is blocked."""
    from gateway.policy import Policy

    state.checks.add(PersonCheck())
    base = state.policies.get("default").model_dump()
    base.update(
        id="open",
        checks={"prompt": [{"name": "test.person"}], "input_image": [], "output_image": []},
        categories={**base["categories"], "real_person": {"review_at": 0.5, "block_at": 0.55}},
        complaints={"respond_within_hours": hours},
    )
    state.policies.add(Policy.model_validate(base))
    state.keys.ensure_tenant("acme", "open")
    state.keys.set_policy("acme", "open")


def _released(client, keys) -> dict:  # noqa: ANN001
    r = client.post(
        "/v1/images/generations",
        headers=keys.h("requester"),
        json={"prompt": "a quiet reading room", "size": "256x256", "seed": 3, "response_format": "url"},
    )
    assert r.status_code == 200, r.text[:500]
    body = r.json()
    url = body["data"][0]["url"]
    path = url.split("://", 1)[1].split("/", 1)[1]
    return {
        "record_id": body["assay"]["record_id"],
        "content_id": body["assay"]["images"][0]["content_id"],
        "path": "/" + path,
    }


def _claim_decide(client, keys, who: str, rid: str, outcome: str) -> dict:  # noqa: ANN001
    r = client.post(f"/v1/reviews/{rid}/claim", headers=keys.h(who))
    assert r.status_code == 200, r.text
    r = client.post(
        f"/v1/reviews/{rid}/decide", headers=keys.h(who), json={"outcome": outcome, "comment": "seen"}
    )
    assert r.status_code == 200, r.text
    return r.json()


def _records(state, kind: str, subject: str) -> list:  # noqa: ANN001
    out = []
    for i in range(state.ledger.head().size):
        rec = state.ledger.get_index(i)
        if rec.kind == kind and rec.subject_id == subject:
            out.append(rec)
    return out


def test_upheld_complaint_withdraws_the_content_and_the_ledger_holds_both(client, state, keys) -> None:  # noqa: ANN001
    _open_policy(state, hours=5)
    img = _released(client, keys)
    assert client.get(img["path"]).status_code == 200

    r = client.post(
        "/v1/reports",
        json={
            "content_id": img["content_id"],
            "reason": "privacy",
            "text": "this is a deepfake of me",
            "contact": "a@b.example",
        },
    )
    assert r.status_code == 202, r.text
    report = r.json()
    assert report["status"] == "received" and report["status_url"] == f"/v1/reports/{report['id']}"
    created, due = datetime.fromisoformat(report["created_at"]), datetime.fromisoformat(report["due_at"])
    assert due - created == timedelta(hours=5)  # the policy's complaints.respond_within_hours

    queue = client.get("/v1/reviews?kind=complaint", headers=keys.h("reviewer1")).json()
    row = next(x for x in queue["data"] if x["id"] == report["id"])
    assert row["kind"] == "complaint" and row["subject_id"] == img["record_id"] and not row["overdue"]
    assert datetime.fromisoformat(row["due_at"]) == due
    # approve/reject belong to held generations
    client.post(f"/v1/reviews/{report['id']}/claim", headers=keys.h("reviewer1"))
    r = client.post(
        f"/v1/reviews/{report['id']}/approve",
        headers=keys.h("reviewer1"),
        json={"reason_code": "no_violation"},
    )
    assert r.status_code == 409 and "decide" in r.json()["assay"]["hint"]
    assert client.get(f"/v1/reports/{report['id']}").json()["status"] == "in_review"

    r = client.post(
        f"/v1/reviews/{report['id']}/decide", headers=keys.h("reviewer1"), json={"outcome": "overturned"}
    )
    assert r.status_code == 400 and r.json()["error"]["param"] == "outcome"
    _claim_decide(client, keys, "reviewer1", report["id"], "upheld")

    gone = client.get(img["path"])
    assert gone.status_code == 410 and gone.json()["error"]["code"] == "content_withdrawn"
    assert client.get(f"/v1/reports/{report['id']}").json()["status"] == "upheld"
    gen = state.ledger.get(img["record_id"])
    assert gen is not None and gen.kind == "generation"
    recs = _records(state, "complaint", img["record_id"])
    assert [r.decision for r in recs] == ["received", "upheld"]
    assert recs[1].body["withdrawn"] == [img["content_id"]] and recs[1].body["actor"] == keys.ids["reviewer1"]
    assert "deepfake" not in str(recs[0].body) and "a@b.example" not in str(recs[0].body)
    ledger_ok(state)


def test_rejected_complaint_leaves_the_content_served(client, state, keys) -> None:  # noqa: ANN001
    _open_policy(state)
    img = _released(client, keys)
    r = client.post(
        "/v1/reports", json={"record_id": img["record_id"], "reason": "copyright", "text": "mine"}
    )
    assert r.status_code == 202, r.text
    rid = r.json()["id"]
    due = datetime.fromisoformat(r.json()["due_at"]) - datetime.fromisoformat(r.json()["created_at"])
    assert due == timedelta(hours=state.settings.complaints_respond_within_hours)  # the Settings default
    _claim_decide(client, keys, "reviewer2", rid, "rejected")
    assert client.get(img["path"]).status_code == 200
    assert client.get(f"/v1/reports/{rid}").json()["status"] == "rejected"
    assert [r.decision for r in _records(state, "complaint", img["record_id"])] == ["received", "rejected"]


def test_overdue_complaints_show_as_overdue(client, state, keys) -> None:  # noqa: ANN001
    _open_policy(state, hours=1)
    img = _released(client, keys)
    rid = client.post(
        "/v1/reports", json={"record_id": img["record_id"], "reason": "unlabelled", "text": "no label"}
    ).json()["id"]
    later = datetime.now().astimezone() + timedelta(hours=2)
    state.review_queue.clock = lambda: later
    page = client.get("/v1/reviews?overdue=true", headers=keys.h("reviewer1")).json()
    assert (
        [x["id"] for x in page["data"]] == [rid]
        and page["data"][0]["overdue"]
        and page["counts"]["overdue"] == 1
    )


@pytest.mark.parametrize(
    ("body", "status", "param"),
    [
        ({"record_id": "01JAAAAAAAAAAAAAAAAAAAAAAA", "text": "x"}, 400, "reason"),
        ({"record_id": "01JAAAAAAAAAAAAAAAAAAAAAAA", "reason": "ugly", "text": "x"}, 400, "reason"),
        ({"reason": "other", "text": "x"}, 400, "record_id"),
        ({"record_id": "not-an-id", "reason": "other", "text": "x"}, 400, "record_id"),
        ({"record_id": "01JAAAAAAAAAAAAAAAAAAAAAAA", "reason": "other", "text": ""}, 400, "text"),
        ({"record_id": "01JAAAAAAAAAAAAAAAAAAAAAAA", "reason": "other", "text": "x"}, 404, "record_id"),
        (
            {"record_id": "01JAAAAAAAAAAAAAAAAAAAAAAA", "reason": "other", "text": "x", "extra": 1},
            400,
            "extra",
        ),
    ],
)
def test_bad_reports_name_the_field(client, body, status, param) -> None:  # noqa: ANN001
    r = client.post("/v1/reports", json=body)
    assert r.status_code == status, r.text
    assert r.json()["error"]["param"] == param


def test_report_by_uploaded_image_and_unknown_ids(client, state, keys) -> None:  # noqa: ANN001
    _open_policy(state)
    img = _released(client, keys)
    data = client.get(img["path"]).content
    r = client.post(
        "/v1/reports",
        data={"reason": "illegal", "text": "found this"},
        files={"image": ("x.png", data, "image/png")},
    )
    assert r.status_code == 202, r.text
    rid = r.json()["id"]
    recs = _records(state, "complaint", img["record_id"])
    assert recs[-1].body["content_ids"] == [img["content_id"]] and recs[-1].body["found_by"].startswith(
        "verify:"
    )
    assert client.get("/v1/reports/01JAAAAAAAAAAAAAAAAAAAAAAA").status_code == 404
    assert client.get(f"/v1/reports/{rid}").json()["reason"] == "illegal"


def test_appeal_of_a_block_is_decided_by_a_second_reviewer_and_counted(client, state, keys) -> None:  # noqa: ANN001
    _open_policy(state)
    r = client.post(
        "/v1/images/generations",
        headers=keys.h("requester"),
        json={"prompt": f"a photo of {NAME}", "size": "256x256"},
    )
    assert r.status_code == 400, r.text
    record_id = r.json()["assay"]["record_id"]
    # another tenant's requester cannot appeal it; a reviewer key cannot appeal
    assert (
        client.post(
            "/v1/appeals", headers=keys.h("other_requester"), json={"record_id": record_id, "reason": "x"}
        ).status_code
        == 404
    )
    assert (
        client.post(
            "/v1/appeals", headers=keys.h("reviewer1"), json={"record_id": record_id, "reason": "x"}
        ).status_code
        == 403
    )
    r = client.post("/v1/appeals", headers=keys.h("requester"), json={"record_id": record_id})
    assert r.status_code == 400 and r.json()["error"]["param"] == "reason"
    r = client.post(
        "/v1/appeals",
        headers=keys.h("requester"),
        json={"record_id": record_id, "reason": "a historical figure, no likeness"},
    )
    assert r.status_code == 202, r.text
    appeal = r.json()
    assert appeal["contested"] == "blocked" and appeal["status"] == "received"
    r = client.post(
        "/v1/appeals", headers=keys.h("requester"), json={"record_id": record_id, "reason": "again"}
    )
    assert r.status_code == 409
    # another tenant sees neither the appeal nor can decide it (tenant isolation)
    assert client.get(f"/v1/appeals/{appeal['id']}", headers=keys.h("other_requester")).status_code == 404
    r = client.post(
        f"/v1/reviews/{appeal['id']}/decide",
        headers=keys.h("other_tenant_reviewer"),
        json={"outcome": "overturned"},
    )
    assert r.status_code == 404, r.text
    # the requester never decides its own appeal
    assert client.post(f"/v1/reviews/{appeal['id']}/claim", headers=keys.h("requester")).status_code == 403
    _claim_decide(client, keys, "reviewer1", appeal["id"], "overturned")
    st = client.get(f"/v1/appeals/{appeal['id']}", headers=keys.h("requester")).json()
    assert st["status"] == "overturned" and st["released"] is False  # a prompt-stage block has no image
    assert [r.decision for r in _records(state, "appeal", record_id)] == ["received", "overturned"]

    auditor, _ = state.keys.create("acme", "auditor", name="auditor")
    stats = client.get("/v1/audit/appeals", headers={"Authorization": f"Bearer {auditor}"}).json()
    assert (stats["decided"], stats["overturned"], stats["overturn_rate"]) == (1, 1, 1.0)
    assert stats["by_category"]["real_person"]["overturn_rate"] == 1.0
    other, _ = state.keys.create("globex", "auditor", name="globex auditor")
    theirs = client.get("/v1/audit/appeals", headers={"Authorization": f"Bearer {other}"}).json()
    assert (theirs["tenant"], theirs["decided"], theirs["overturn_rate"]) == ("globex", 0, None)
    # the console page carries the tile its script fills from /v1/audit/appeals
    html = client.get("/audit?lang=en").text
    assert 'id="overturn-rate"' in html and "Appeals: overturn rate" in html
    assert "/v1/audit/appeals" in client.get("/audit/static/audit.js").text
    ledger_ok(state)


def test_appeal_of_a_rejection_refuses_the_first_reviewer(client, state, keys) -> None:  # noqa: ANN001
    install_review_policy(state, four_eyes=[])
    held = make_held(client, keys.h("requester"))
    rid = held["review_id"]
    assert client.post(f"/v1/reviews/{rid}/claim", headers=keys.h("reviewer1")).status_code == 200
    r = client.post(
        f"/v1/reviews/{rid}/reject", headers=keys.h("reviewer1"), json={"reason_code": "likeness"}
    )
    assert r.status_code == 200, r.text
    r = client.post(
        "/v1/appeals",
        headers=keys.h("requester"),
        json={"record_id": held["record_id"], "reason": "consent on file"},
    )
    assert r.status_code == 202, r.text
    aid = r.json()["id"]
    assert r.json()["contested"] == "rejected"
    r = client.post(f"/v1/reviews/{aid}/claim", headers=keys.h("reviewer1"))
    assert r.status_code == 403 and "second reviewer" in r.json()["error"]["message"]
    r = client.post(f"/v1/reviews/{aid}/decide", headers=keys.h("reviewer1"), json={"outcome": "upheld"})
    assert r.status_code == 403
    _claim_decide(client, keys, "reviewer2", aid, "upheld")
    recs = _records(state, "appeal", held["record_id"])
    assert recs[0].body["first_deciders"] == [keys.ids["reviewer1"]] and recs[1].decision == "upheld"
    stats = state.cases.stats("acme")
    assert (stats.decided, stats.overturned, stats.overturn_rate) == (1, 0, 0.0)
    # an appeal of a released generation is refused, naming the field
    _open_policy(state)
    img = _released(client, keys)
    r = client.post(
        "/v1/appeals", headers=keys.h("requester"), json={"record_id": img["record_id"], "reason": "x"}
    )
    assert r.status_code == 400 and r.json()["error"]["param"] == "record_id"


def test_the_review_page_shows_a_complaint_and_decides_it(app, client, state, keys) -> None:  # noqa: ANN001
    from tests.gateway.review.test_review_page import login

    _open_policy(state, hours=2)
    img = _released(client, keys)
    rid = client.post(
        "/v1/reports",
        json={"record_id": img["record_id"], "reason": "privacy", "text": "my face, no consent"},
    ).json()["id"]
    c, csrf = login(app, keys.reviewer1)
    queue = c.get("/review/queue").text
    assert rid in queue and "privacy / deepfake" in queue
    page = c.get(f"/review/items/{rid}").text
    assert 'id="case"' in page and "my face, no consent" in page and 'id="approve-form"' not in page
    assert c.post(f"/review/items/{rid}/claim", data={"csrf": csrf}).status_code == 303
    page = c.get(f"/review/items/{rid}").text
    assert 'id="decide-form"' in page and 'id="approve-form"' not in page
    r = c.post(f"/review/items/{rid}/decide", data={"csrf": csrf, "outcome": "upheld", "comment": "ok"})
    assert r.status_code == 303, r.text[:300]
    assert client.get(img["path"]).status_code == 410
    assert client.get(f"/v1/reports/{rid}").json()["status"] == "upheld"


def test_an_overturned_appeal_releases_the_kept_images_of_a_rejection(client, state, keys) -> None:  # noqa: ANN001
    install_review_policy(state, four_eyes=[], keep_rejected=True)
    held = make_held(client, keys.h("requester"))
    rid = held["review_id"]
    client.post(f"/v1/reviews/{rid}/claim", headers=keys.h("reviewer1"))
    r = client.post(
        f"/v1/reviews/{rid}/reject", headers=keys.h("reviewer1"), json={"reason_code": "likeness"}
    )
    assert r.status_code == 200, r.text
    assert client.get(f"/v1/reviews/{rid}", headers=keys.h("requester")).json()["data"] == []
    aid = client.post(
        "/v1/appeals",
        headers=keys.h("requester"),
        json={"record_id": held["record_id"], "reason": "licensed"},
    ).json()["id"]
    _claim_decide(client, keys, "reviewer2", aid, "overturned")
    st = client.get(f"/v1/appeals/{aid}", headers=keys.h("requester")).json()
    assert st["status"] == "overturned" and st["released"] is True
    after = client.get(f"/v1/reviews/{rid}", headers=keys.h("requester")).json()
    assert after["assay"]["status"] == "approved" and len(after["data"]) == 1  # marked and released
    assert [r.decision for r in _records(state, "appeal", held["record_id"])] == ["received", "overturned"]
    ledger_ok(state)


def test_a_complaint_withdraws_an_image_a_reviewer_released(client, state, keys) -> None:  # noqa: ANN001
    install_review_policy(state, four_eyes=[])
    held = make_held(client, keys.h("requester"))
    rid = held["review_id"]
    client.post(f"/v1/reviews/{rid}/claim", headers=keys.h("reviewer1"))
    r = client.post(
        f"/v1/reviews/{rid}/approve", headers=keys.h("reviewer1"), json={"reason_code": "consent_on_file"}
    )
    assert r.status_code == 200, r.text
    released = client.get(f"/v1/reviews/{rid}", headers=keys.h("requester")).json()
    assert len(released["data"]) == 1
    cid = released["assay"]["images"][0]["content_id"]
    r = client.post("/v1/reports", json={"content_id": cid, "reason": "privacy", "text": "that is me"})
    assert r.status_code == 202, r.text
    _claim_decide(client, keys, "reviewer2", r.json()["id"], "upheld")
    after = client.get(f"/v1/reviews/{rid}", headers=keys.h("requester")).json()
    assert after["assay"]["status"] == "approved" and after["data"] == []  # withdrawn
