"""The audit API: tenant isolation (404 across tenants on every endpoint), filters, cursors, proofs,
exports."""

from __future__ import annotations

import base64
import csv
import hashlib
import io
import json

import pytest
from ulid import ULID

from provenance.ledger import LedgerRecord, prompt_sha256
from provenance.ledger.export import verify_export
from provenance.ledger.merkle import verify_consistency, verify_inclusion
from provenance.ledger.note import NoteVerifier


@pytest.fixture
def records(state, clock):  # noqa: ANN001
    out = {"acme": [], "globex": []}
    recs = []
    for i in range(40):
        tenant = "acme" if i % 2 else "globex"
        clock.advance(seconds=1)
        p = f"prompt {i}"
        rec = LedgerRecord(
            record_id=str(ULID()),
            kind="generation",
            tenant=tenant,
            requester=f"u{i % 3}",
            prompt=p,
            prompt_digest=prompt_sha256(p),
            decision="block" if i % 5 == 0 else "allow",
            categories=["sexual"] if i % 5 == 0 else [],
            model_id="assay-default",
            policy_id="default",
            created_at=clock(),
            body={"i": i},
        )
        recs.append(rec)
        out[tenant].append(rec.record_id)
    state.ledger.append_many(recs)
    return out


def _key(state, tenant, role):  # noqa: ANN001
    key, _ = state.keys.create(tenant, role, name=f"{tenant} {role}")
    return {"Authorization": f"Bearer {key}"}


@pytest.fixture
def auditor(state):  # noqa: ANN001
    return _key(state, "acme", "auditor")


@pytest.fixture
def admin(state):  # noqa: ANN001
    return _key(state, "ops", "admin")


def test_auditor_sees_only_own_tenant_and_404s_for_others(client, state, records, auditor):
    mine, theirs = records["acme"][0], records["globex"][0]
    r = client.get("/v1/audit/records", headers=auditor, params={"limit": 500})
    assert r.status_code == 200 and {d["tenant"] for d in r.json()["data"]} == {"acme"}
    assert len(r.json()["data"]) == 20
    assert client.get(f"/v1/audit/records/{mine}", headers=auditor).status_code == 200
    for path in (
        f"/v1/audit/records/{theirs}",
        f"/v1/audit/records/{theirs}/proof",
        "/v1/audit/records/01ARZ3NDEKTSV4RRFFQ69G5FAV",
    ):
        r = client.get(path, headers=auditor)
        assert r.status_code == 404 and r.json()["error"]["code"] == "not_found", path
    for path in ("/v1/audit/records", "/v1/audit/export"):
        r = client.get(path, headers=auditor, params={"tenant": "globex"})
        assert r.status_code == 404, path
    # the nonexistent and the foreign record get the same answer, byte for byte apart from the id
    a = client.get(f"/v1/audit/records/{theirs}", headers=auditor).json()["error"]
    b = client.get("/v1/audit/records/01ARZ3NDEKTSV4RRFFQ69G5FAV", headers=auditor).json()["error"]
    assert a["message"].replace(theirs, "X") == b["message"].replace("01ARZ3NDEKTSV4RRFFQ69G5FAV", "X")


def test_admin_crosses_tenants(client, records, admin):
    r = client.get("/v1/audit/records", headers=admin, params={"limit": 500})
    assert len(r.json()["data"]) == 40
    r = client.get("/v1/audit/records", headers=admin, params={"tenant": "globex", "decision": "block"})
    assert {d["tenant"] for d in r.json()["data"]} == {"globex"} and len(r.json()["data"]) == 4
    assert client.get(f"/v1/audit/records/{records['globex'][3]}", headers=admin).status_code == 200


def test_requesters_and_reviewers_are_forbidden(client, state, records):
    for role in ("requester", "reviewer"):
        assert client.get("/v1/audit/records", headers=_key(state, "acme", role)).status_code == 403
    assert client.get("/v1/audit/records").status_code == 401


def test_cursor_pagination_and_bad_input(client, records, auditor):
    seen, cursor = [], None
    while True:
        params = {"limit": 6, "decision": "allow"} | ({"cursor": cursor} if cursor else {})
        body = client.get("/v1/audit/records", headers=auditor, params=params).json()
        seen += [d["record_id"] for d in body["data"]]
        cursor = body["next_cursor"]
        if not cursor:
            break
    assert len(seen) == len(set(seen)) == 16
    foreign = client.get("/v1/audit/records", headers=auditor, params={"limit": 2}).json()["next_cursor"]
    for params in (
        {"cursor": foreign, "decision": "block"},
        {"cursor": "%%%"},
        {"since": "yesterday"},
        {"limit": 0},
        {"limit": 10_000},
        {"decision": "Robert'); DROP TABLE"},
        {"since": "2026-02-01T00:00:00Z", "until": "2026-01-01T00:00:00Z"},
        {"requester": "x" * 300},
        {"order": "sideways"},
    ):
        r = client.get("/v1/audit/records", headers=auditor, params=params)
        assert r.status_code == 400, (params, r.status_code, r.text)
        assert r.json()["error"]["message"]


def test_filters_by_requester_category_and_time(client, records, auditor):
    body = client.get("/v1/audit/records", headers=auditor, params={"requester": "u1", "limit": 500}).json()
    assert body["data"] and all(d["requester"] == "u1" for d in body["data"])
    body = client.get("/v1/audit/records", headers=auditor, params={"category": "sexual"}).json()
    assert body["data"] and all("sexual" in d["categories"] for d in body["data"])
    until = body["data"][-1]["created_at"]
    older = client.get("/v1/audit/records", headers=auditor, params={"until": until, "limit": 500}).json()
    assert all(d["created_at"] < until for d in older["data"])


def test_proof_verifies_against_the_signed_checkpoint(client, records, auditor):
    rid = records["acme"][7]
    p = client.get(f"/v1/audit/records/{rid}/proof", headers=auditor).json()
    leaf_hash = hashlib.sha256(b"\x00" + p["leaf"].encode()).digest()
    assert leaf_hash.hex() == p["leaf_hash"] and json.loads(p["leaf"])["record_id"] == rid
    cp = p["checkpoint"]
    verifier = NoteVerifier.from_vkey(cp["public_key"])
    assert verifier.open(cp["note"]).splitlines()[1] == str(cp["tree_size"])
    verify_inclusion(
        p["index"],
        cp["tree_size"],
        leaf_hash,
        [bytes.fromhex(x) for x in p["proof"]],
        base64.b64decode(cp["root"]),
    )


def test_checkpoint_and_consistency(client, state, records, auditor, make_record):
    first = client.get("/v1/audit/checkpoint", headers=auditor).json()
    state.ledger.append_many([make_record() for _ in range(5)])
    c = client.get("/v1/audit/consistency", headers=auditor, params={"first": first["tree_size"]}).json()
    assert c["checkpoint"]["tree_size"] == first["tree_size"] + 5
    verify_consistency(
        c["first"],
        c["second"],
        [bytes.fromhex(x) for x in c["proof"]],
        base64.b64decode(first["root"]),
        base64.b64decode(c["checkpoint"]["root"]),
    )
    assert client.get("/v1/audit/consistency", headers=auditor, params={"first": 0}).status_code == 400
    assert (
        client.get(
            "/v1/audit/consistency", headers=auditor, params={"first": 2, "second": 10_000}
        ).status_code
        == 400
    )


def test_exports_stream_jsonl_and_csv(client, state, records, auditor):
    r = client.get("/v1/audit/export", headers=auditor)
    assert r.status_code == 200 and r.headers["content-type"].startswith("application/x-ndjson")
    lines = r.text.splitlines(keepends=True)
    entries = [json.loads(x) for x in lines[1:-1]]
    assert len(entries) == 20 and {e["tenant"] for e in entries} == {"acme"}
    vkey = json.loads(lines[0])["public_key"]
    assert verify_export(lines, NoteVerifier.from_vkey(vkey)).ok
    r = client.get("/v1/audit/export", headers=auditor, params={"format": "csv", "personal_data": "false"})
    rows = list(csv.DictReader(io.StringIO(r.text)))
    assert len(rows) == 20 and all(row["prompt"] == "" and row["tenant"] == "acme" for row in rows)
    assert client.get("/v1/audit/export", headers=auditor, params={"format": "xml"}).status_code == 400


def test_the_app_runs_the_checkpoint_and_retention_schedules(client):
    import threading

    names = {t.name for t in threading.enumerate()}
    assert {"assay-ledger-checkpoints", "assay-ledger-retention"} <= names
