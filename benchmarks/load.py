"""Load: concurrent clients against a real ``assay serve`` on loopback, then the bookkeeping audit.

    .venv/bin/python benchmarks/load.py [--clients 16] [--duration 60] [--size 256x256]
                                        [--model assay-default] [--policy-dir policies] [--lean] [--json OUT]

Starts ``assay serve`` as a subprocess on a throw-away data dir (SQLite), gives each client its own
requester key, and lets every client send generations back to back for ``--duration`` seconds
(requests still in flight at the deadline may finish within ``--grace``). It prints throughput and
the p50/p95/p99 latency of accepted requests, stops the server, and then audits what the run left:

* every accepted request (HTTP 200) has exactly one ledger record, released, whose output hashes
  are the bytes the client received, with the blob in the store;
* every row of the released-image index belongs to a record that released that image;
* every released image verifies: its C2PA manifest is trusted and names the record, and its
  watermark decodes to the record's payload (``provenance.verify``);
* the ledger verifies end to end (what ``assay audit verify`` runs).

``--mixed`` runs the scenario of the model path under load instead (in process, behind uvicorn on
loopback): a slow stand-in model that sleeps per denoising step (``models.testing.SteppedBackend``),
``--clients`` clients (default 32) spread over 3 tenants, first short requests only (the baseline),
then with ``--long-share`` (10%) long ones; it prints p50/p95/p99 of the short requests in both
phases and their p99 ratio, refusals (503), cancellations (504), and the same audit.

Without ``--model`` it serves the built-in default model (its placeholder while none is shipped).
``--lean`` serves the default pack without content checks (marks and ledger only). The same
``ServeProcess`` and ``audit_run`` drive the kill -9 test in tests/reliability/.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

os.environ.setdefault("HF_HUB_OFFLINE", "1")
REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

PROMPTS = [
    "a red circle on a white background",
    "a small blue star at the top",
    "白色背景上的红色圆形",
    "a large green heart on the left",
    "a yellow triangle on a black background",
    "a lighthouse on a cliff at dusk",
    "two orange squares side by side",
]


# --- the server under test ------------------------------------------------------------------------
def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class ThreadedServer:
    """An ASGI app under uvicorn in a daemon thread of this process, on a free loopback port.

    Started on construction; ``close()`` (or leaving the ``with`` block) stops it. ``lifespan``
    is uvicorn's setting: "on" makes a failing start-up an error, "auto" tolerates apps without one.
    """

    def __init__(self, app: Any, *, lifespan: str = "auto", start_timeout_s: float = 60.0) -> None:
        import uvicorn

        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.server = uvicorn.Server(
            uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="warning", lifespan=lifespan)
        )
        self.thread = threading.Thread(target=self.server.run, daemon=True)
        self.thread.start()
        deadline = time.monotonic() + start_timeout_s
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise RuntimeError("uvicorn did not start")
            time.sleep(0.05)

    def close(self) -> None:
        self.server.should_exit = True
        self.thread.join(10)

    def __enter__(self) -> ThreadedServer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


@dataclass
class ServeConfig:
    """One gateway deployment on a data dir: the environment ``assay serve`` gets, and the same
    settings for the in-process audit afterwards."""

    data_dir: Path
    policy_dir: Path = REPO / "policies"
    model: str = "assay-default"
    port: int = field(default_factory=free_port)
    extra_env: dict[str, str] = field(default_factory=dict)
    workers: int = 1  # ``assay serve --workers``: processes behind the one port

    def env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("ASSAY_")}
        env.update(
            {
                "ASSAY_DATA_DIR": str(self.data_dir),
                "ASSAY_POLICY_DIR": str(self.policy_dir),
                "ASSAY_MODEL": self.model,
                "ASSAY_PORT": str(self.port),
                "ASSAY_HOST": "127.0.0.1",
                "HF_HUB_OFFLINE": "1",
                "TRANSFORMERS_OFFLINE": "1",
                "PYTHONUNBUFFERED": "1",
            }
        )
        env.update(self.extra_env)
        return env

    def settings(self) -> Any:
        from core.settings import Settings

        extra = {k[len("ASSAY_") :].lower(): v for k, v in self.extra_env.items() if k.startswith("ASSAY_")}
        return Settings(data_dir=self.data_dir, policy_dir=self.policy_dir, model=self.model, **extra)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"


class ServeProcess:
    """``assay serve`` in its own process group; ``kill9()`` is the crash, ``stop()`` the clean exit."""

    def __init__(self, config: ServeConfig, log_path: Path) -> None:
        self.config = config
        self.log_path = log_path
        self.proc: subprocess.Popen | None = None

    def start(self, ready_timeout_s: float = 600) -> ServeProcess:
        import httpx

        cmd = [
            sys.executable,
            "-c",
            "from gateway.cli.main import run_cli; run_cli()",
            "serve",
            "--port",
            str(self.config.port),
            "--workers",
            str(self.config.workers),
        ]
        log = self.log_path.open("ab")
        self.proc = subprocess.Popen(
            cmd, cwd=REPO, env=self.config.env(), stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
        log.close()
        deadline = time.monotonic() + ready_timeout_s
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"assay serve exited with {self.proc.returncode}:\n{self.log_tail()}")
            try:
                if httpx.get(self.config.url + "/healthz", timeout=2).status_code == 200:
                    return self
            except httpx.HTTPError:
                pass
            time.sleep(0.25)
        self.kill9()
        raise RuntimeError(f"assay serve was not ready within {ready_timeout_s:.0f} s:\n{self.log_tail()}")

    def log_tail(self, n: int = 4000) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-n:]
        except OSError:
            return ""

    def kill9(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(30)

    def stop(self, timeout_s: float = 60) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        os.killpg(self.proc.pid, signal.SIGTERM)
        try:
            self.proc.wait(timeout_s)
        except subprocess.TimeoutExpired:
            self.kill9()

    def __enter__(self) -> ServeProcess:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def lean_policy_dir(folder: Path, source: Path = REPO / "policies") -> Path:
    """A copy of the policy packs with the content checks removed (marks, limits and ledger kept)."""
    import yaml

    folder.mkdir(parents=True, exist_ok=True)
    for path in sorted(source.glob("*.yaml")):
        doc = yaml.safe_load(path.read_text(encoding="utf-8"))
        doc["checks"] = {"prompt": [], "input_image": [], "output_image": []}
        (folder / path.name).write_text(
            yaml.safe_dump(doc, allow_unicode=True, sort_keys=False), encoding="utf-8"
        )
    return folder


def make_keys(config: ServeConfig, n: int, tenant: str = "load") -> list[str]:
    """``n`` requester keys (created before the server starts, through the same start-up path)."""
    from gateway.state import AppState

    state = AppState(config.settings())
    try:
        return [state.keys.create(tenant, "requester", name=f"client {i}")[0] for i in range(n)]
    finally:
        state.close()


# --- clients --------------------------------------------------------------------------------------
@dataclass
class Accepted:
    """One request the gateway answered 200: the record it named and the bytes it returned."""

    record_id: str
    images: list[bytes]
    latency_s: float


@dataclass
class ClientStats:
    accepted: list[Accepted] = field(default_factory=list)
    statuses: Counter = field(default_factory=Counter)
    errors: Counter = field(default_factory=Counter)  # transport errors (connection reset, timeout)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, status: str, accepted: Accepted | None = None) -> None:
        with self.lock:
            self.statuses[status] += 1
            if accepted is not None:
                self.accepted.append(accepted)


def client_loop(
    url: str,
    key: str,
    stats: ClientStats,
    stop: threading.Event,
    *,
    size: str,
    seed0: int,
    timeout_s: float = 600,
) -> None:
    import httpx

    i = 0
    with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {key}"}, timeout=timeout_s) as http:
        while not stop.is_set():
            body = {
                "prompt": PROMPTS[(seed0 + i) % len(PROMPTS)],
                "size": size,
                "n": 1,
                "seed": seed0 * 1000 + i,
            }
            i += 1
            t0 = time.perf_counter()
            try:
                r = http.post("/v1/images/generations", json=body)
            except httpx.HTTPError as exc:
                stats.add(f"transport:{exc.__class__.__name__}")
                if stop.is_set():
                    return
                time.sleep(0.05)
                continue
            dt = time.perf_counter() - t0
            if r.status_code == 200:
                payload = r.json()
                images = [base64.b64decode(d["b64_json"]) for d in payload["data"]]
                stats.add("200", Accepted(payload["assay"]["record_id"], images, dt))
            else:
                stats.add(str(r.status_code))


# --- the audit -------------------------------------------------------------------------------------
@dataclass
class RunAudit:
    accepted: int = 0
    released_images: int = 0
    ledger_records: int = 0
    missing_records: list[str] = field(default_factory=list)
    duplicated_records: list[str] = field(default_factory=list)
    not_released_records: list[str] = field(default_factory=list)
    byte_mismatches: list[str] = field(default_factory=list)
    missing_blobs: list[str] = field(default_factory=list)
    index_without_record: list[str] = field(default_factory=list)
    unverified: list[str] = field(default_factory=list)
    verified: int = 0
    ledger_ok: bool = False
    ledger_summary: str = ""

    @property
    def ok(self) -> bool:
        return self.ledger_ok and not (
            self.missing_records
            or self.duplicated_records
            or self.not_released_records
            or self.byte_mismatches
            or self.missing_blobs
            or self.index_without_record
            or self.unverified
        )


def audit_run(settings: Any, accepted: list[Accepted], *, verify_images: bool = True) -> RunAudit:
    """Open the gateway's stores as a restarted server would and check the run's invariants."""
    from sqlmodel import select

    from gateway.state import AppState
    from provenance.ledger.bodies import GenerationBody, GenerationOutput, GenerationStatus
    from provenance.ledger.checkpoint import load_verifier
    from provenance.ledger.verify import verify_ledger
    from provenance.tables import ReleasedImage
    from safety.verdict import Action

    out = RunAudit(accepted=len(accepted))
    state = AppState(settings)  # the restart: migrations, policies, stores
    try:
        size = state.ledger.head().size
        out.ledger_records = size
        records: dict[str, Any] = {}
        seen: Counter = Counter()
        for i in range(size):
            rec = state.ledger.get_index(i)
            seen[rec.record_id] += 1
            records[rec.record_id] = rec
        out.duplicated_records = sorted(r for r, c in seen.items() if c > 1)
        released_by_record: dict[str, list[GenerationOutput]] = {}
        for rid, rec in records.items():
            if rec.kind == "generation":
                body = GenerationBody.model_validate(rec.body)
                if body.status is GenerationStatus.RELEASED:
                    released_by_record[rid] = [o for o in body.outputs if o.action is Action.ALLOW]
        for acc in accepted:
            rec = records.get(acc.record_id)
            if rec is None:
                out.missing_records.append(acc.record_id)
                continue
            if acc.record_id not in released_by_record:
                out.not_released_records.append(acc.record_id)
                continue
            outs = released_by_record[acc.record_id]
            got = sorted(hashlib.sha256(b).hexdigest() for b in acc.images)
            if sorted(o.sha256 or "" for o in outs) != got:
                out.byte_mismatches.append(acc.record_id)
            for o in outs:
                if not o.blob or not state.blobs.exists(o.blob):
                    out.missing_blobs.append(o.content_id)
        with state.db.session() as s:
            rows = list(s.exec(select(ReleasedImage)))
        out.released_images = len(rows)
        out.index_without_record = sorted(
            r.content_id
            for r in rows
            if r.content_id not in {o.content_id for o in released_by_record.get(r.record_id, [])}
        )
        if verify_images:
            from provenance.verify import verifier_for

            verifier = verifier_for(state)
            for acc in accepted:
                for img in acc.images:
                    rep = verifier.verify(img)
                    methods = {
                        m.method for hit in rep.records if hit.record_id == acc.record_id for m in hit.methods
                    }
                    good = (
                        rep.record_id == acc.record_id
                        and rep.c2pa.state == "trusted"
                        and rep.watermark.detected
                        and {"c2pa", "watermark"} <= methods
                    )
                    if good:
                        out.verified += 1
                    else:
                        out.unverified.append(
                            f"{acc.record_id}: {rep.summary} (c2pa {rep.c2pa.state}, "
                            f"watermark {'found' if rep.watermark.detected else 'not found'})"
                        )
        report = verify_ledger(state.ledger, load_verifier(state.settings))
        out.ledger_ok, out.ledger_summary = report.ok, report.summary()
    finally:
        state.close()
    return out


# --- the benchmark ----------------------------------------------------------------------------------
def pct(xs: list[float], q: float) -> float:
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(round(q * (len(xs) - 1))))] if xs else float("nan")


# --- the mixed scenario: short and long requests from several tenants on a slow model -----------
@dataclass
class MixedStats:
    short: list[float] = field(default_factory=list)
    long: list[float] = field(default_factory=list)
    accepted: list[Accepted] = field(default_factory=list)
    statuses: Counter = field(default_factory=Counter)
    lock: threading.Lock = field(default_factory=threading.Lock)


def mixed_client(
    url: str,
    key: str,
    stats: MixedStats,
    stop: threading.Event,
    *,
    seed0: int,
    long_share: float,
    short_steps: int,
    long_steps: int,
    size: str,
) -> None:
    import random

    import httpx

    rng = random.Random(seed0)
    i = 0
    with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {key}"}, timeout=600) as http:
        while not stop.is_set():
            is_long = rng.random() < long_share
            body = {
                "prompt": PROMPTS[(seed0 + i) % len(PROMPTS)],
                "size": size,
                "seed": seed0 * 100_000 + i,
                "steps": long_steps if is_long else short_steps,
            }
            i += 1
            t0 = time.perf_counter()
            try:
                r = http.post("/v1/images/generations", json=body)
            except httpx.HTTPError as exc:
                with stats.lock:
                    stats.statuses[f"transport:{exc.__class__.__name__}"] += 1
                continue
            dt = time.perf_counter() - t0
            with stats.lock:
                stats.statuses[f"{'long' if is_long else 'short'} {r.status_code}"] += 1
                if r.status_code == 200:
                    payload = r.json()
                    images = [base64.b64decode(d["b64_json"]) for d in payload["data"]]
                    stats.accepted.append(Accepted(payload["assay"]["record_id"], images, dt))
                    (stats.long if is_long else stats.short).append(dt)
            if r.status_code == 503:  # refused: come back when it says
                stop.wait(min(5.0, float(r.headers.get("retry-after", "1"))))


def mixed(args: argparse.Namespace) -> int:
    from core.settings import Settings
    from gateway.app import create_app
    from gateway.state import AppState
    from models.testing import SteppedBackend

    tenants = ["tenant-a", "tenant-b", "tenant-c"]
    with tempfile.TemporaryDirectory(prefix="assay-mixed-") as tmp:
        tmp_path = Path(tmp)
        settings = Settings(
            data_dir=tmp_path / "data",
            policy_dir=lean_policy_dir(tmp_path / "policies", args.policy_dir),
            backend_timeout_s=args.deadline,
        )
        backend = SteppedBackend(step_s=args.step_s, default_steps=args.short_steps, max_concurrency=2)
        state = AppState(settings, backend=backend)
        keys = [
            state.keys.create(tenants[i % 3], "requester", name=f"client {i}")[0] for i in range(args.clients)
        ]
        phases: dict[str, MixedStats] = {}
        with ThreadedServer(create_app(state=state), lifespan="on") as srv:
            for phase, share in (("short only", 0.0), ("mixed", args.long_share)):
                stats = MixedStats()
                stop = threading.Event()
                threads = [
                    threading.Thread(
                        target=mixed_client,
                        args=(srv.url, keys[i], stats, stop),
                        kwargs={
                            "seed0": i + (1000 if share else 0),
                            "long_share": share,
                            "short_steps": args.short_steps,
                            "long_steps": args.long_steps,
                            "size": args.size,
                        },
                        daemon=True,
                    )
                    for i in range(args.clients)
                ]
                for t in threads:
                    t.start()
                time.sleep(args.duration)
                stop.set()
                for t in threads:
                    t.join(args.grace)
                phases[phase] = stats
            metrics = state.metrics.render().decode()
        cancellations = sum(
            float(line.rsplit(" ", 1)[1])
            for line in metrics.splitlines()
            if line.startswith("assay_generations_cancelled_total{")
        )
        refusals = {
            line.split('reason="')[1].split('"')[0]: float(line.rsplit(" ", 1)[1])
            for line in metrics.splitlines()
            if line.startswith("assay_admission_refusals_total{")
        }
        state.close()
        accepted = [a for st in phases.values() for a in st.accepted]
        audit = audit_run(settings, accepted, verify_images=not args.no_verify)
    base, mix = phases["short only"], phases["mixed"]
    ratio = pct(mix.short, 0.99) / pct(base.short, 0.99) if base.short and mix.short else float("nan")
    for name, st in phases.items():
        print(
            f"{name:10s}: short p50 {pct(st.short, 0.5):.3f} s, p95 {pct(st.short, 0.95):.3f} s, "
            f"p99 {pct(st.short, 0.99):.3f} s over {len(st.short)}; long accepted {len(st.long)}; "
            f"statuses {dict(st.statuses)}"
        )
    print(
        f"short p99 mixed / short only: {ratio:.2f} (budget 2.0); refusals {refusals or 0}; "
        f"cancellations {cancellations:.0f}; stand-in stopped early {backend.stopped_early}"
    )
    print(
        f"audit: {'OK' if audit.ok else 'FAILED'}: {audit.accepted} accepted, "
        f"{audit.ledger_records} records, "
        f"missing {len(audit.missing_records)}, duplicated {len(audit.duplicated_records)}, "
        f"verified {audit.verified}, unverified {len(audit.unverified)}; {audit.ledger_summary}"
    )
    if args.json:
        args.json.write_text(
            json.dumps(
                {
                    "phases": {
                        k: {
                            "short_p50": pct(v.short, 0.5),
                            "short_p95": pct(v.short, 0.95),
                            "short_p99": pct(v.short, 0.99),
                            "statuses": dict(v.statuses),
                        }
                        for k, v in phases.items()
                    },
                    "p99_ratio": ratio,
                    "refusals": refusals,
                    "cancellations": cancellations,
                    "audit_ok": audit.ok,
                    "loadavg_1m": os.getloadavg()[0],
                },
                indent=2,
            )
        )
    return 0 if audit.ok else 1


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--clients", type=int, default=16)
    ap.add_argument(
        "--duration", type=float, default=60.0, help="seconds during which clients start requests"
    )
    ap.add_argument(
        "--grace", type=float, default=120.0, help="seconds in-flight requests may take after that"
    )
    ap.add_argument("--size", default="256x256")
    ap.add_argument("--model", default="assay-default", help="ASSAY_MODEL (default: the built-in model)")
    ap.add_argument("--policy-dir", type=Path, default=REPO / "policies")
    ap.add_argument("--lean", action="store_true", help="drop the content checks (marks and ledger only)")
    ap.add_argument("--no-verify", action="store_true", help="skip verifying each released image")
    ap.add_argument("--json", type=Path, default=None)
    ap.add_argument("--mixed", action="store_true", help="the slow-model scenario (see above)")
    ap.add_argument("--long-share", type=float, default=0.1, help="--mixed: share of long requests")
    ap.add_argument("--short-steps", type=int, default=2, help="--mixed: steps of a short request")
    ap.add_argument("--long-steps", type=int, default=40, help="--mixed: steps of a long request")
    ap.add_argument("--step-s", type=float, default=0.02, help="--mixed: the stand-in's seconds per step")
    ap.add_argument("--deadline", type=float, default=10.0, help="--mixed: ASSAY_BACKEND_TIMEOUT_S")
    args = ap.parse_args()
    if args.mixed:
        if "--clients" not in sys.argv:
            args.clients = 32
        return mixed(args)

    with tempfile.TemporaryDirectory(prefix="assay-load-") as tmp:
        tmp_path = Path(tmp)
        policy_dir = lean_policy_dir(tmp_path / "policies", args.policy_dir) if args.lean else args.policy_dir
        config = ServeConfig(data_dir=tmp_path / "data", policy_dir=policy_dir, model=args.model)
        keys = make_keys(config, args.clients)
        stats = ClientStats()
        stop = threading.Event()
        t_start = time.perf_counter()
        server = ServeProcess(config, tmp_path / "serve.log").start()
        startup_s = time.perf_counter() - t_start
        print(
            f"assay serve ready in {startup_s:.1f} s on {config.url} (model {args.model}, "
            f"policies {policy_dir}{', lean' if args.lean else ''})",
            flush=True,
        )
        try:
            threads = [
                threading.Thread(
                    target=client_loop,
                    args=(config.url, keys[i], stats, stop),
                    kwargs={"size": args.size, "seed0": i},
                    daemon=True,
                )
                for i in range(args.clients)
            ]
            t0 = time.perf_counter()
            for t in threads:
                t.start()
            time.sleep(args.duration)
            stop.set()
            for t in threads:
                t.join(max(0.0, args.grace - (time.perf_counter() - t0 - args.duration)))
            wall = time.perf_counter() - t0
            hung = sum(t.is_alive() for t in threads)
        finally:
            server.stop()
        with stats.lock:
            accepted = list(stats.accepted)
            statuses = dict(stats.statuses)
        lat = [a.latency_s for a in accepted]
        audit = audit_run(config.settings(), accepted, verify_images=not args.no_verify)
        result = {
            "clients": args.clients,
            "duration_s": args.duration,
            "wall_s": round(wall, 2),
            "size": args.size,
            "model": args.model,
            "lean": args.lean,
            "startup_s": round(startup_s, 1),
            "statuses": statuses,
            "accepted": len(accepted),
            "clients_still_waiting": hung,
            "throughput_rps": round(len(accepted) / wall, 3),
            "latency_s": {
                "p50": round(pct(lat, 0.5), 3),
                "p95": round(pct(lat, 0.95), 3),
                "p99": round(pct(lat, 0.99), 3),
                "mean": round(statistics.fmean(lat), 3) if lat else None,
            },
            "audit": {k: v for k, v in asdict(audit).items()} | {"ok": audit.ok},
            "cpu_count": os.cpu_count(),
            "loadavg_1m": round(os.getloadavg()[0], 2),
        }
    print(
        f"{len(accepted)} accepted of {sum(statuses.values())} "
        f"sent by {args.clients} clients in {wall:.1f} s: "
        f"{result['throughput_rps']} req/s; latency p50 {result['latency_s']['p50']} s, "
        f"p95 {result['latency_s']['p95']} s, p99 {result['latency_s']['p99']} s; statuses {statuses}"
    )
    print(
        f"audit: {'OK' if audit.ok else 'FAILED'}: {audit.accepted} "
        f"accepted, {audit.ledger_records} records, "
        f"{audit.released_images} indexed images, {audit.verified} verified (C2PA trusted + watermark); "
        f"missing {len(audit.missing_records)}, duplicated {len(audit.duplicated_records)}, "
        f"byte mismatches {len(audit.byte_mismatches)}, index rows without record "
        f"{len(audit.index_without_record)}, unverified {len(audit.unverified)}; {audit.ledger_summary}"
    )
    for line in (audit.unverified + audit.missing_records + audit.index_without_record)[:10]:
        print("  ", line)
    if args.json:
        args.json.write_text(json.dumps(result, indent=2, ensure_ascii=False))
    return 0 if audit.ok else 1


if __name__ == "__main__":
    sys.exit(main())
