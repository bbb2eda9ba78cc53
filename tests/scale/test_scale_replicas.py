"""Three ``assay serve`` replicas on one PostgreSQL, one data dir, concurrent load through all of them.

The replicas are real processes started at once on a new database schema (so they also race to
migrate it and to elect the replica that signs scheduled checkpoints); their model is the worker
API on loopback (benchmarks/scale.py: ``PhotoUpstream``, one mount per replica so what each has in
flight is known). While clients generate through all three, an auditor asks every replica in turn
for a checkpoint (signed on demand) and the leader signs on its one-second schedule.

First test: every accepted request has exactly one released record with the bytes the client got,
indices are contiguous, every image verifies, ``assay audit verify`` passes, and the checkpoints
form one sequence: one key, sizes strictly increasing, each consistent with the one before, and
what each replica served is in it. Second test: ``kill -9`` of the leading replica while it has
generations in flight: the other two keep serving (and one of them takes over the schedule), no
accepted request lacks its record, no image is released without one, and the ledger verifies.
"""

from __future__ import annotations

import hashlib
import json
import threading
import time
from dataclasses import dataclass, field
from itertools import pairwise
from typing import Any

import httpx
import pytest
from sqlalchemy import text

from benchmarks.load import audit_run, make_keys
from benchmarks.scale import Cluster, Load, PhotoUpstream, fresh_schema

pytestmark = [pytest.mark.slow, pytest.mark.postgres]

REPLICAS = 3
WORKERS = [1, 1, 2]  # the third replica is `assay serve --workers 2`: two processes behind one port
CLIENTS = 6


@dataclass
class Deployment:
    cluster: Cluster
    upstream: PhotoUpstream
    keys: list[str]
    auditor: str
    served_checkpoints: list[tuple[int, dict[str, Any]]] = field(default_factory=list)  # (replica, body)
    checkpoint_failures: list[str] = field(default_factory=list)

    def urls(self) -> list[str]:
        return [r.config.url for r in self.cluster.replicas]


@pytest.fixture(scope="module")
def deployment(pg_session_url: str | None, tmp_path_factory: pytest.TempPathFactory):  # noqa: ANN201
    if pg_session_url is None:
        pytest.skip("PostgreSQL at 127.0.0.1:5432 is unreachable (ASSAY_REQUIRE_POSTGRES=1 makes this fail)")
    upstream = PhotoUpstream(REPLICAS, delay_s=0.2)
    try:
        with fresh_schema(pg_session_url) as url:
            cluster = Cluster(
                REPLICAS,
                tmp_path_factory.mktemp("scale"),
                url,
                upstream,
                extra_env={"ASSAY_LEDGER_CHECKPOINT_INTERVAL_S": "1"},
                workers=WORKERS,
            )
            cluster.start()
            try:
                config = cluster.replicas[0].config
                keys = make_keys(config, CLIENTS)
                from gateway.state import AppState

                st = AppState(config.settings())
                try:
                    auditor = st.keys.create("load", "auditor", name="scale auditor")[0]
                finally:
                    st.close()
                yield Deployment(cluster, upstream, keys, auditor)
            finally:
                cluster.stop()
    finally:
        upstream.close()


def _poll_checkpoints(dep: Deployment, stop: threading.Event, alive: list[int]) -> None:
    """Ask every live replica at the same moment for a checkpoint (each signs on demand if the log
    grew), every 0.3 s: without one signer at a time they would store the same size twice, or out
    of order."""

    def ask(r: int) -> None:
        try:
            resp = httpx.get(
                dep.urls()[r] + "/v1/audit/checkpoint",
                timeout=30,
                headers={"Authorization": f"Bearer {dep.auditor}"},
            )
            if resp.status_code == 200:
                dep.served_checkpoints.append((r, resp.json()))
            else:
                dep.checkpoint_failures.append(f"replica {r}: {resp.status_code} {resp.text[:200]}")
        except httpx.HTTPError as exc:
            dep.checkpoint_failures.append(f"replica {r}: {exc.__class__.__name__}")

    while not stop.is_set():
        threads = [threading.Thread(target=ask, args=(r,)) for r in alive]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
        stop.wait(0.3)


def _leader(dep: Deployment, candidates: list[int]) -> int | None:
    """The replica whose /readyz says it leads the schedules (a replica of several workers is asked
    a few times: each answer comes from one of them)."""
    leaders = [
        i
        for i in candidates
        if any(
            httpx.get(dep.urls()[i] + "/readyz", timeout=30).json().get("schedule_leader")
            for _ in range(4 * WORKERS[i] - 3)
        )
    ]
    assert len(leaders) <= 1, f"more than one replica leads the schedules: {leaders}"
    return leaders[0] if leaders else None


def _released_count(url: str) -> float:
    """``assay_decisions_total{status="released"}`` as /metrics reports it."""
    for line in httpx.get(url + "/metrics", timeout=30).text.splitlines():
        if line.startswith('assay_decisions_total{status="released"}'):
            return float(line.split()[-1])
    return 0.0


def _stored_checkpoints(settings: Any) -> list[Any]:
    from core.store import Database

    db = Database(settings.db_url)
    try:
        with db.engine.connect() as c:
            return c.execute(text("SELECT id, size, root, note FROM ledger_checkpoint ORDER BY id")).all()
    finally:
        db.dispose()


def _check_ledger(dep: Deployment, accepted: list[Any]) -> Any:
    """The invariants of a run, from the stores; returns the audit."""
    from gateway.state import AppState
    from provenance.ledger.checkpoint import load_verifier, parse_checkpoint
    from provenance.ledger.merkle import verify_consistency

    settings = dep.cluster.settings
    audit = audit_run(settings, accepted)
    assert audit.ok, audit
    assert audit.verified == sum(len(a.images) for a in accepted)

    st = AppState(settings)
    try:
        with st.db.engine.connect() as c:
            indices = c.execute(text("SELECT idx FROM ledger_entry ORDER BY idx")).scalars().all()
        head = st.ledger.head()
        assert indices == list(range(head.size)), "ledger indices are not contiguous"
        verifier = load_verifier(settings)
        rows = _stored_checkpoints(settings)
        cps = [parse_checkpoint(r.note, verifier) for r in rows]  # one key signed them all
        sizes = [cp.size for cp in cps]
        assert len(sizes) >= 2 and sizes == sorted(set(sizes)), f"not one increasing sequence: {sizes}"
        for a, b in pairwise(cps):
            if a.size == 0:  # the empty log (signed at start-up): extended by any log
                assert a.root == hashlib.sha256(b"").digest()
                continue
            verify_consistency(a.size, b.size, st.ledger.consistency_proof(a.size, b.size), a.root, b.root)
        stored = {r.note for r in rows}
        for replica, body in dep.served_checkpoints:  # what every replica served is in that one sequence
            assert body["note"] in stored, f"replica {replica} served a checkpoint that is not stored"
            assert body["public_key"] == verifier.vkey()
    finally:
        st.close()

    from typer.testing import CliRunner

    from gateway.cli.main import app as cli

    env = {k: v for k, v in dep.cluster.replicas[0].config.env().items() if k.startswith("ASSAY_")}
    res = CliRunner().invoke(cli, ["audit", "verify", "--json"], env=env)
    assert res.exit_code == 0, res.output
    report = json.loads(res.stdout[res.stdout.index("{") :])
    assert report["ok"] is True and report["records"] == head.size
    return audit


def test_three_replicas_keep_one_ledger_and_one_checkpoint_sequence(deployment: Deployment) -> None:
    dep = deployment
    leader = _leader(dep, list(range(REPLICAS)))
    assert leader is not None, "no replica was elected to sign the scheduled checkpoints"
    load = Load(dep.urls(), dep.keys, size="256x256", timeout_s=60).start()
    stop = threading.Event()
    poller = threading.Thread(target=_poll_checkpoints, args=(dep, stop, list(range(REPLICAS))), daemon=True)
    poller.start()
    time.sleep(8)
    hung = load.stop(60)
    stop.set()
    poller.join(30)
    assert hung == 0
    accepted = load.accepted()
    assert load.statuses() == {"200": len(accepted)}, load.statuses()
    assert all(len(load.accepted(i)) >= 3 for i in range(REPLICAS)), [
        len(load.accepted(i)) for i in range(REPLICAS)
    ]
    assert {r for r, _ in dep.served_checkpoints} == set(range(REPLICAS))
    assert dep.checkpoint_failures == []
    for i in range(REPLICAS):  # /metrics counts every worker of a replica, whichever answers
        assert _released_count(dep.urls()[i]) == len(load.accepted(i)), i
    print(
        f"\n3 replicas: {len(accepted)} accepted {[len(load.accepted(i)) for i in range(REPLICAS)]}, "
        f"{len(dep.served_checkpoints)} checkpoints served, "
        f"{len(_stored_checkpoints(dep.cluster.settings))} stored"
    )
    audit = _check_ledger(dep, accepted)
    assert audit.ledger_records == len(accepted)  # exactly one record per request, none else


def test_killing_the_leading_replica_mid_load_loses_no_record(deployment: Deployment) -> None:
    dep = deployment
    victim = _leader(dep, list(range(REPLICAS)))
    assert victim is not None
    survivors = [i for i in range(REPLICAS) if i != victim]
    load = Load(dep.urls(), dep.keys, size="256x256", timeout_s=60).start()
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:  # the kill must land while the victim has generations in flight
        if len(load.accepted(victim)) >= 3 and dep.upstream.in_flight(victim) >= 1:
            break
        time.sleep(0.01)
    else:
        pytest.fail(f"the victim did not get going: {load.statuses(victim)}")
    dep.cluster.replicas[victim].process.kill9()
    in_flight_at_kill = dep.upstream.in_flight(victim)
    before = {i: len(load.accepted(i)) for i in survivors}
    time.sleep(4)
    after = {i: len(load.accepted(i)) for i in survivors}
    hung = load.stop(60)
    assert hung == 0
    assert in_flight_at_kill >= 1 or dep.upstream.backends[victim].served > len(load.accepted(victim))
    assert any(s.startswith("transport:") for s in load.statuses(victim)), load.statuses(victim)
    for i in survivors:  # the others kept serving, without an error
        assert after[i] > before[i], f"replica {i} stopped serving after the kill"
        assert set(load.statuses(i)) == {"200"}, load.statuses(i)

    # a survivor takes over the schedule and signs the head (no one asks on demand any more)
    deadline = time.monotonic() + 30
    while True:
        new_leader = _leader(dep, survivors)
        rows = _stored_checkpoints(dep.cluster.settings)
        from benchmarks.scale import ledger_size

        if new_leader is not None and rows and rows[-1].size == ledger_size(dep.cluster.settings):
            break
        assert time.monotonic() < deadline, f"no survivor took over the schedule (leader {new_leader})"
        time.sleep(0.5)

    _check_ledger(dep, load.accepted())
