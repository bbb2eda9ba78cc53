"""``kill -9`` of a real ``assay serve`` while generations are in flight.

The server is a subprocess on a SQLite data dir; its model is a remote backend (an OpenAI-
compatible upstream in this test process that answers after a delay), so the kill lands while
requests are inside the pipeline. After the kill the stores are opened the way a restarted server
opens them, and the audit that benchmarks/load.py runs after a load test must hold: every image a
client received has exactly one released record with those bytes, no image in the released index
lacks its record, every received image verifies (C2PA + watermark), and the ledger verifies.
Then `assay audit verify` — the operator's command — passes. (The audit opens the stores through
``AppState``, the start-up path of ``assay serve``: migrations, policies, WAL recovery.)
"""

from __future__ import annotations

import base64
import io
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from benchmarks.load import ClientStats, ServeConfig, ServeProcess, audit_run, client_loop, lean_policy_dir
from models.testing import PhotoBackend

pytestmark = pytest.mark.slow


class Upstream:
    """An OpenAI-compatible image API that takes ``delay_s`` per request and counts what is in flight."""

    def __init__(self, delay_s: float) -> None:
        from models.base import GenerationRequest

        backend = PhotoBackend()
        outer = self
        self.in_flight = 0
        self.served = 0
        self.lock = threading.Lock()

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                return

            def do_POST(self) -> None:  # noqa: N802
                body = json.loads(self.rfile.read(int(self.headers.get("content-length", 0))) or b"{}")
                with outer.lock:
                    outer.in_flight += 1
                try:
                    time.sleep(delay_s)
                    w, h = (int(x) for x in body.get("size", "256x256").split("x"))
                    res = backend.generate(
                        GenerationRequest(
                            prompt=body.get("prompt", ""),
                            width=w,
                            height=h,
                            n=int(body.get("n", 1)),
                            seed=outer.served,
                        )
                    )
                    data = []
                    for im in res.images:
                        buf = io.BytesIO()
                        im.save(buf, format="PNG")
                        data.append({"b64_json": base64.b64encode(buf.getvalue()).decode()})
                    payload = json.dumps(
                        {"created": int(time.time()), "data": data, "model": "upstream"}
                    ).encode()
                    self.send_response(200)
                    self.send_header("content-type", "application/json")
                    self.send_header("content-length", str(len(payload)))
                    self.end_headers()
                    self.wfile.write(payload)
                finally:
                    with outer.lock:
                        outer.in_flight -= 1
                        outer.served += 1

        class QuietServer(ThreadingHTTPServer):
            def handle_error(self, request: object, client_address: object) -> None:
                return  # a client cut by the kill is the point of the test; no traceback on stderr

        self.server = QuietServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/v1"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def test_kill_9_during_generations_loses_no_record(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from benchmarks.load import make_keys
    from gateway.cli.main import app as cli

    upstream = Upstream(delay_s=0.4)
    config = ServeConfig(
        data_dir=tmp_path / "data",
        policy_dir=lean_policy_dir(tmp_path / "policies"),
        model=upstream.url,
        extra_env={"ASSAY_BACKEND_RETRIES": "0"},
    )
    keys = make_keys(config, 6)
    stats, stop = ClientStats(), threading.Event()
    server = ServeProcess(config, tmp_path / "serve.log").start()
    threads = [
        threading.Thread(
            target=client_loop,
            args=(config.url, k, stats, stop),
            kwargs={"size": "256x256", "seed0": i, "timeout_s": 60},
            daemon=True,
        )
        for i, k in enumerate(keys)
    ]
    try:
        for t in threads:
            t.start()
        deadline = time.monotonic() + 240
        while time.monotonic() < deadline:
            with stats.lock:
                done = len(stats.accepted)
            if done >= 6 and upstream.in_flight >= 2:
                break
            time.sleep(0.02)
        else:
            pytest.fail(f"the server did not get going: {dict(stats.statuses)}\n{server.log_tail()}")
        server.kill9()
        in_flight_at_kill = upstream.in_flight
    finally:
        stop.set()
        server.kill9()
        for t in threads:
            t.join(30)
    assert in_flight_at_kill >= 1
    assert any(s.startswith("transport:") for s in stats.statuses), "no request was cut by the kill"
    audit = audit_run(config.settings(), stats.accepted)
    assert audit.accepted >= 6
    assert audit.ok, audit
    assert audit.verified == audit.accepted

    # the operator's command, on the data as the crash left it
    env = {k: v for k, v in config.env().items() if k.startswith("ASSAY_")}
    res = CliRunner().invoke(cli, ["audit", "verify", "--json"], env=env)
    assert res.exit_code == 0, res.output
    assert json.loads(res.stdout[res.stdout.index("{") :])["ok"] is True

    upstream.close()

    # the audit can fail: a record nobody wrote and bytes nobody released are caught
    from benchmarks.load import Accepted

    forged = audit_run(
        config.settings(),
        [
            Accepted("01JZZZZZZZZZZZZZZZZZZZZZZZ", [b"x"], 0.0),
            Accepted(stats.accepted[0].record_id, [b"other bytes"], 0.0),
        ],
        verify_images=False,
    )
    assert forged.missing_records == ["01JZZZZZZZZZZZZZZZZZZZZZZZ"]
    assert forged.byte_mismatches == [stats.accepted[0].record_id] and not forged.ok
