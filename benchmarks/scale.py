"""Scale-out: 1, 2 and 4 gateway replicas on loopback against one PostgreSQL, the same load each.

    .venv/bin/python benchmarks/scale.py [--replicas 1,2,4] [--clients 8] [--duration 20] [--size 256x256]
                                         [--upstream-delay 0.05] [--database-url postgresql://postgres@127.0.0.1:5432/test]
                                         [--verify] [--json OUT]

Each round starts N ``assay serve`` processes (one data dir: the shared blob store and keys; one
fresh PostgreSQL schema: the shared database), spreads ``--clients`` clients over them round robin
(the load balancer), lets every client send generations back to back for ``--duration`` seconds,
and prints throughput, p50/p95 latency of accepted requests, the ledger's append rate (records
appended per second, every replica appending through the one head row), and how busy the host's
CPUs were. The model is an ``assay worker`` API on loopback (:class:`PhotoUpstream`: the worker's
own HTTP API over a photo-crop backend that takes ``--upstream-delay`` seconds, standing in for a
GPU worker), so what scales is the compliance path itself: marks, C2PA, watermark, ledger. Every
round is audited as ``benchmarks/load.py`` audits a run (``--verify`` also verifies every image).

The same helpers drive tests/scale/ (three replicas; one killed with ``kill -9``).
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import secrets
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

os.environ.setdefault("HF_HUB_OFFLINE", "1")
REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from benchmarks.load import (  # noqa: E402
    Accepted,
    ClientStats,
    ServeConfig,
    ServeProcess,
    ThreadedServer,
    audit_run,
    client_loop,
    lean_policy_dir,
    make_keys,
    pct,
)

PG_ADMIN_URL = os.environ.get("ASSAY_TEST_PG_URL", "postgresql://postgres@127.0.0.1:5432/test")


# --- the model: an assay worker API over photo crops ----------------------------------------------
class SlowPhotoBackend:
    """``models.testing.PhotoBackend`` that takes ``delay_s`` per call (a GPU's time) and counts calls in
    flight."""

    def __init__(self, delay_s: float) -> None:
        from models.testing import PhotoBackend

        self._inner = PhotoBackend(model_id="photo-worker")
        self.delay_s = delay_s
        self.in_flight = 0
        self.served = 0
        self._lock = threading.Lock()

    @property
    def info(self) -> Any:
        return self._inner.info

    def check_request(self, request: Any) -> None:
        self._inner.check_request(request)

    def generate(self, request: Any) -> Any:
        with self._lock:
            self.in_flight += 1
        try:
            time.sleep(self.delay_s)
            return self._inner.generate(request)
        finally:
            with self._lock:
                self.in_flight -= 1
                self.served += 1


class PhotoUpstream:
    """The worker API (``models.worker.service``) on loopback, once per replica under ``/r<i>``, so
    that what each replica has in flight can be told apart. uvicorn in a thread of this process."""

    def __init__(self, replicas: int, delay_s: float) -> None:
        from starlette.applications import Starlette
        from starlette.routing import Mount

        from models.worker.service import LocalRunner, WorkerService, make_api

        self.backends = [SlowPhotoBackend(delay_s) for _ in range(replicas)]
        mounts = []
        for i, be in enumerate(self.backends):
            runner = LocalRunner(WorkerService(be))
            mounts.append(Mount(f"/r{i}", app=make_api(lambda r=runner: r)))
        self.server = ThreadedServer(Starlette(routes=mounts))
        self.port = self.server.port

    def url(self, i: int) -> str:
        return f"http://127.0.0.1:{self.port}/r{i}/v1"

    def in_flight(self, i: int) -> int:
        return self.backends[i].in_flight

    def close(self) -> None:
        self.server.close()


# --- replicas on one database ---------------------------------------------------------------------
@contextmanager
def fresh_schema(admin_url: str = PG_ADMIN_URL) -> Iterator[str]:
    """A new PostgreSQL schema (dropped afterwards); yields a URL whose connections see only it."""
    from sqlalchemy import text

    from core.store import Database

    admin = Database(admin_url)
    schema = f"scale_{secrets.token_hex(5)}"
    with admin.engine.begin() as c:
        c.execute(text(f'CREATE SCHEMA "{schema}"'))
    sep = "&" if "?" in admin_url else "?"
    try:
        yield f"{admin_url}{sep}options=-csearch_path%3D{schema}"
    finally:
        with admin.engine.begin() as c:
            c.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
        admin.dispose()


@dataclass
class Replica:
    index: int
    config: ServeConfig
    process: ServeProcess


class Cluster:
    """N ``assay serve`` processes sharing one data dir (blob store, keys) and one database;
    ``workers[i]`` is replica i's ``--workers`` (default 1)."""

    def __init__(
        self,
        n: int,
        folder: Path,
        database_url: str,
        upstream: PhotoUpstream,
        extra_env: dict[str, str] | None = None,
        workers: list[int] | None = None,
    ) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        policy_dir = lean_policy_dir(folder / "policies")
        env = {"ASSAY_DATABASE_URL": database_url, "ASSAY_BACKEND_RETRIES": "0", **(extra_env or {})}
        self.replicas = []
        for i in range(n):
            cfg = ServeConfig(
                data_dir=folder / "data",
                policy_dir=policy_dir,
                model=upstream.url(i),
                extra_env=env,
                workers=workers[i] if workers else 1,
            )
            self.replicas.append(Replica(i, cfg, ServeProcess(cfg, folder / f"serve-{i}.log")))

    @property
    def settings(self) -> Any:
        return self.replicas[0].config.settings()

    def start(self, ready_timeout_s: float = 300) -> Cluster:
        """Start every replica at once (they migrate a new database and elect a leader among themselves)."""
        errors: list[BaseException] = []

        def one(r: Replica) -> None:
            try:
                r.process.start(ready_timeout_s)
            except BaseException as exc:  # noqa: BLE001 - raised below
                errors.append(exc)

        threads = [threading.Thread(target=one, args=(r,)) for r in self.replicas]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        if errors:
            self.stop()
            raise errors[0]
        return self

    def stop(self) -> None:
        for r in self.replicas:
            r.process.stop()

    def kill9(self) -> None:
        for r in self.replicas:
            r.process.kill9()


class Load:
    """``clients`` client loops spread round robin over ``urls``; stats kept per URL."""

    def __init__(self, urls: list[str], keys: list[str], *, size: str, timeout_s: float = 120) -> None:
        self.stats = [ClientStats() for _ in urls]
        self.stop_event = threading.Event()
        self.threads = [
            threading.Thread(
                target=client_loop,
                args=(urls[i % len(urls)], key, self.stats[i % len(urls)], self.stop_event),
                kwargs={"size": size, "seed0": i, "timeout_s": timeout_s},
                daemon=True,
            )
            for i, key in enumerate(keys)
        ]

    def start(self) -> Load:
        for t in self.threads:
            t.start()
        return self

    def stop(self, grace_s: float = 60) -> int:
        """Stop starting requests, wait for those in flight; returns how many clients still hang."""
        self.stop_event.set()
        deadline = time.monotonic() + grace_s
        for t in self.threads:
            t.join(max(0.0, deadline - time.monotonic()))
        return sum(t.is_alive() for t in self.threads)

    def accepted(self, i: int | None = None) -> list[Accepted]:
        out: list[Accepted] = []
        for j, st in enumerate(self.stats):
            if i is None or i == j:
                with st.lock:
                    out.extend(st.accepted)
        return out

    def statuses(self, i: int | None = None) -> dict[str, int]:
        out: dict[str, int] = {}
        for j, st in enumerate(self.stats):
            if i is None or i == j:
                with st.lock:
                    for k, v in st.statuses.items():
                        out[k] = out.get(k, 0) + v
        return out


def ledger_size(settings: Any) -> int:
    from core.store import Database
    from provenance.ledger import Ledger

    db = Database(settings.db_url)
    try:
        return Ledger(db).head().size
    finally:
        db.dispose()


def cpu_busy() -> tuple[float, float]:
    """(busy, total) seconds of all CPUs together since boot, from /proc/stat."""
    with open("/proc/stat") as fh:
        parts = [float(x) for x in fh.readline().split()[1:]]
    idle = parts[3] + (parts[4] if len(parts) > 4 else 0.0)
    tick = os.sysconf("SC_CLK_TCK")
    return (sum(parts) - idle) / tick, sum(parts) / tick


def process_cpu_s(pid: int) -> float:
    """CPU seconds (user + system) a process has used so far; 0 if it is gone."""
    try:
        with open(f"/proc/{pid}/stat") as fh:
            fields = fh.read().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (float(fields[11]) + float(fields[12])) / os.sysconf("SC_CLK_TCK")


def postgres_pids() -> list[int]:
    """The PostgreSQL server's processes on this host (to count the database's share of the CPU)."""
    out = []
    for d in Path("/proc").iterdir():
        if d.name.isdigit():
            try:
                if (d / "comm").read_text().strip() in ("postgres", "postmaster"):
                    out.append(int(d.name))
            except OSError:
                continue
    return out


class CpuMeter:
    """CPU seconds used over a window: the host, the replicas, PostgreSQL, and this process."""

    def __init__(self, replica_pids: list[int]) -> None:
        self.replica_pids = replica_pids
        self.pg_start = {p: process_cpu_s(p) for p in postgres_pids()}
        self.start = self._read()

    def _read(self) -> dict[str, float]:
        busy, total = cpu_busy()
        return {
            "host": busy,
            "total": total,
            "replicas": sum(process_cpu_s(p) for p in self.replica_pids),
            "postgres": 0.0,
            "generator": time.process_time(),
        }

    def stop(self) -> dict[str, float]:
        """Each share in cores (CPU seconds per wall second); ``host`` is every process together.
        PostgreSQL's share counts every server process, those forked for new connections included."""
        end = self._read()
        end["postgres"] = sum(process_cpu_s(p) - self.pg_start.get(p, 0.0) for p in postgres_pids())
        wall = (end["total"] - self.start["total"]) / (os.cpu_count() or 1)
        used = {
            k: (end[k] - self.start[k]) / max(wall, 1e-9)
            for k in ("host", "replicas", "postgres", "generator")
        }
        used["other"] = max(0.0, used["host"] - used["replicas"] - used["postgres"] - used["generator"])
        return used


# --- the benchmark --------------------------------------------------------------------------------
def run_round(n: int, args: argparse.Namespace, folder: Path) -> dict[str, Any]:
    upstream = PhotoUpstream(n, args.upstream_delay)
    try:
        with fresh_schema(args.database_url) as url:
            cluster = Cluster(n, folder / f"r{n}", url, upstream)
            t0 = time.perf_counter()
            cluster.start()
            startup = time.perf_counter() - t0
            keys = make_keys(cluster.replicas[0].config, args.clients, tenant="scale")
            load = Load([r.config.url for r in cluster.replicas], keys, size=args.size)
            size0 = ledger_size(cluster.settings)
            meter = CpuMeter([r.process.proc.pid for r in cluster.replicas if r.process.proc is not None])
            t0 = time.perf_counter()
            try:
                load.start()
                time.sleep(args.duration)
                hung = load.stop(args.grace)
            finally:
                wall = time.perf_counter() - t0
                cores_used = meter.stop()
                size1 = ledger_size(cluster.settings)
                cluster.stop()
            accepted = load.accepted()
            lat = [a.latency_s for a in accepted]
            audit = audit_run(cluster.settings, accepted, verify_images=args.verify)
    finally:
        upstream.close()
    cores = os.cpu_count() or 1
    return {
        "replicas": n,
        "clients": args.clients,
        "startup_s": round(startup, 1),
        "wall_s": round(wall, 2),
        "accepted": len(accepted),
        "statuses": load.statuses(),
        "clients_still_waiting": hung,
        "per_replica": [len(load.accepted(i)) for i in range(n)],
        "throughput_rps": round(len(accepted) / wall, 2),
        "p50_s": round(pct(lat, 0.5), 3),
        "p95_s": round(pct(lat, 0.95), 3),
        "ledger_appends_per_s": round((size1 - size0) / wall, 2),
        "host_cpu_busy_pct": round(100 * cores_used["host"] / cores, 1),
        "cores_used": {k: round(v, 2) for k, v in cores_used.items()},
        "cores": cores,
        "replica_cpu_ms_per_request": round(1000 * cores_used["replicas"] * wall / max(len(accepted), 1), 1),
        "postgres_cpu_ms_per_request": round(1000 * cores_used["postgres"] * wall / max(len(accepted), 1), 1),
        "audit_ok": audit.ok,
        "audit": audit.ledger_summary,
        "audit_problems": (
            audit.missing_records
            + audit.duplicated_records
            + audit.not_released_records
            + audit.byte_mismatches
            + audit.index_without_record
            + audit.unverified
        )[:10],
    }


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--replicas", default="1,2,4", help="comma-separated replica counts, one round each")
    ap.add_argument("--clients", type=int, default=8, help="concurrent clients (the same in every round)")
    ap.add_argument(
        "--duration", type=float, default=20.0, help="seconds during which clients start requests"
    )
    ap.add_argument("--grace", type=float, default=60.0)
    ap.add_argument("--size", default="256x256")
    ap.add_argument(
        "--upstream-delay", type=float, default=0.05, help="seconds the stand-in GPU worker takes"
    )
    ap.add_argument("--database-url", default=PG_ADMIN_URL, help="PostgreSQL (a fresh schema per round)")
    ap.add_argument(
        "--verify", action="store_true", help="also verify every released image (C2PA + watermark)"
    )
    ap.add_argument("--json", type=Path, default=None)
    args = ap.parse_args()
    try:
        counts = [int(x) for x in args.replicas.split(",") if x.strip()]
    except ValueError:
        ap.error(f"--replicas {args.replicas!r} is not a comma-separated list of numbers")
    if not counts or min(counts) < 1:
        ap.error("--replicas needs at least one count of 1 or more")

    rows = []
    with tempfile.TemporaryDirectory(prefix="assay-scale-") as tmp:
        for n in counts:
            print(f"round: {n} replica(s), {args.clients} clients, {args.duration:.0f} s ...", flush=True)
            rows.append(run_round(n, args, Path(tmp)))
    print()
    print(
        f"{'replicas':>8} {'accepted':>8} {'req/s':>7} {'p50 s':>7} {'p95 s':>7} {'ledger rec/s':>12} "
        f"{'cores: replicas':>15} {'postgres':>8} {'clients':>7} {'other':>6} {'host busy':>9} {'audit':>6}"
    )
    for r in rows:
        c = r["cores_used"]
        print(
            f"{r['replicas']:>8} {r['accepted']:>8} {r['throughput_rps']:>7} {r['p50_s']:>7} {r['p95_s']:>7} "
            f"{r['ledger_appends_per_s']:>12} {c['replicas']:>15} {c['postgres']:>8} {c['generator']:>7} "
            f"{c['other']:>6} {r['host_cpu_busy_pct']:>8}% {'ok' if r['audit_ok'] else 'FAILED':>6}"
        )
    cores = rows[0]["cores"]
    print(
        f"\n{cores} CPU cores. 'cores' columns: CPU seconds per second used by the gateway replicas, the "
        "PostgreSQL server, this process (clients + stand-in worker) and everything else on the host."
    )
    for prev, cur in itertools.pairwise(rows):
        gain = cur["throughput_rps"] / prev["throughput_rps"] if prev["throughput_rps"] else float("nan")
        print(
            f"{prev['replicas']} -> {cur['replicas']} replicas: throughput x{gain:.2f}, "
            f"replicas' CPU {prev['cores_used']['replicas']} -> {cur['cores_used']['replicas']} cores"
        )
    per_req = [round(r["replica_cpu_ms_per_request"] + r["postgres_cpu_ms_per_request"], 1) for r in rows]
    cost = min(per_req)
    print(
        "CPU per accepted request (replicas + PostgreSQL): "
        + ", ".join(f"{x} ms" for x in per_req)
        + f"; at {cost} ms, {cores} otherwise idle cores top out near {1000 * cores / cost:.0f} req/s "
        "of compliance path (less what the load generator needs)."
    )
    plateau = next(
        (
            prev
            for prev, cur in itertools.pairwise(rows)
            if cur["throughput_rps"] < prev["throughput_rps"] * 1.10
        ),
        None,
    )
    if plateau is not None and plateau["host_cpu_busy_pct"] >= 90:
        print(
            f"CPU limit: {plateau['replicas']} replica(s), {plateau['throughput_rps']} req/s: "
            f"the host's {cores} cores were {plateau['host_cpu_busy_pct']}% busy "
            f"({plateau['cores_used']['other']} cores of it other work on the host), and more replicas "
            "added no throughput, only processes competing for the same CPUs."
        )
    elif plateau is not None:
        print(
            f"Throughput stopped rising at {plateau['replicas']} replica(s) with the host's CPUs only "
            f"{plateau['host_cpu_busy_pct']}% busy: the limit there is not the CPU (the clients? the "
            "database?)."
        )
    else:
        print(
            f"Throughput still rose at {rows[-1]['replicas']} replicas: the CPU limit was not reached "
            f"(host CPUs {rows[-1]['host_cpu_busy_pct']}% busy)."
        )
    for r in rows:
        if not r["audit_ok"]:
            print(f"audit FAILED at {r['replicas']} replicas: {r['audit']} {r['audit_problems']}")
    if args.json:
        args.json.write_text(json.dumps(rows, indent=2))
    return 0 if all(r["audit_ok"] for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
