"""Generation through a Ray Serve worker, end to end: ``assay worker`` -> gateway -> ledger.

``assay worker`` (the real command, in its own process) starts a local Ray instance, deploys the
built-in model as a Ray Serve deployment (one CPU replica, batching on) and serves it on loopback.
A gateway with ``ASSAY_MODEL`` set to that endpoint generates concurrently through it; every
record must name the weights the worker ran (the shipped model's digest, computed here from its
files), the seed asked for and the Ray Serve deployment, every image must verify, and the ledger
too. Skipped only where Ray itself cannot start here; the reason is printed.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest

from benchmarks.load import Accepted, ThreadedServer, audit_run, free_port, lean_policy_dir

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[2]
READY_TIMEOUT_S = 240


class WorkerProcess:
    """``assay worker`` on loopback in its own session; ``stop()`` is SIGTERM (Ctrl-C's path)."""

    def __init__(self, folder: Path) -> None:
        self.port = free_port()
        self.log = folder / "worker.log"
        env = {k: v for k, v in os.environ.items() if not k.startswith("ASSAY_")}
        env.update(HF_HUB_OFFLINE="1", RAY_USAGE_STATS_ENABLED="0", PYTHONUNBUFFERED="1")
        cmd = [
            sys.executable,
            "-c",
            "from gateway.cli.main import run_cli; run_cli()",
            "worker",
            "--port",
            str(self.port),
            "--ray-cpus",
            "2",
            "--num-cpus",
            "1",
            "--max-batch-size",
            "4",
            "--batch-wait-ms",
            "100",
            "--data-dir",
            str(folder / "worker"),
            "--json",
        ]
        with self.log.open("wb") as out:
            self.proc = subprocess.Popen(
                cmd, cwd=REPO, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
            )

    def text(self) -> str:
        return self.log.read_text(errors="replace")

    def wait_ready(self) -> dict:
        deadline = time.monotonic() + READY_TIMEOUT_S
        while time.monotonic() < deadline:
            for line in self.text().splitlines():
                if line.startswith("{") and '"url"' in line:
                    return json.loads(line)
            if self.proc.poll() is not None:
                tail = self.text()[-3000:]
                if "Ray could not start" in tail:
                    reason = tail[tail.index("Ray could not start") :].splitlines()[0]
                    print(f"\nskipping the Ray Serve test: {reason}")
                    pytest.skip(reason)
                pytest.fail(f"assay worker exited with {self.proc.returncode}:\n{tail}")
            time.sleep(0.5)
        pytest.fail(f"assay worker was not ready within {READY_TIMEOUT_S} s:\n{self.text()[-3000:]}")

    def stop(self, timeout_s: float = 90) -> int | None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout_s)
            except subprocess.TimeoutExpired:
                pass
        return self.proc.returncode

    def kill(self) -> None:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(30)


def test_generation_through_a_ray_serve_worker_end_to_end(tmp_path: Path) -> None:
    try:
        import ray  # noqa: F401
    except ImportError as exc:
        print(f"\nskipping the Ray Serve test: Ray cannot start here: the ray package is missing ({exc})")
        pytest.skip(f"Ray cannot start here: the ray package is missing ({exc})")
    from core.settings import Settings
    from gateway.app import create_app
    from gateway.state import AppState
    from models.default import WEIGHTS_DIR
    from models.digest import folder_digest

    worker = WorkerProcess(tmp_path)
    try:
        ready = worker.wait_ready()
        url = ready["url"]
        shipped = folder_digest(WEIGHTS_DIR)
        assert ready["model"]["weights_digest"] == shipped and ready["model"]["backend"] == "ray"

        settings = Settings(
            data_dir=tmp_path / "gateway",
            model=url,
            policy_dir=lean_policy_dir(tmp_path / "pol"),
            backend_retries=0,
        )
        state = AppState(settings)
        server = ThreadedServer(create_app(state=state))
        try:
            key = state.keys.create("acme", "requester", name="ray test")[0]
            assert state.backend.info.weights_digest == shipped  # the gateway asked the worker

            def generate(seed: int) -> tuple[int, dict, float]:
                t0 = time.perf_counter()
                r = httpx.post(
                    server.url + "/v1/images/generations",
                    timeout=180,
                    headers={"Authorization": f"Bearer {key}"},
                    json={"prompt": "a red circle on a white background", "size": "256x256", "seed": seed},
                )
                return r.status_code, r.json(), time.perf_counter() - t0

            with ThreadPoolExecutor(4) as pool:
                results = list(pool.map(generate, [11, 12, 13, 14]))
            assert [s for s, _, _ in results] == [200] * 4, [b for _, b, _ in results]
            accepted = []
            import base64

            for (_, body, dt), seed in zip(results, [11, 12, 13, 14], strict=True):
                rec = state.ledger.get(body["assay"]["record_id"])
                model = rec.body["model"]
                assert model["backend"] == "ray" and model["model_id"] == "assay-default"
                assert model["weights_digest"] == shipped and model["seeds"] == [seed]
                assert any("Ray Serve deployment assay-worker" in n for n in model["notes"]), model["notes"]
                assert any(n == f"reached over HTTP at {url}" for n in model["notes"]), model["notes"]
                accepted.append(
                    Accepted(rec.record_id, [base64.b64decode(d["b64_json"]) for d in body["data"]], dt)
                )
            batched = sum(
                any("one pipeline call" in n for n in state.ledger.get(a.record_id).body["model"]["notes"])
                for a in accepted
            )
            print(
                f"\nRay Serve worker: 4 generations, {batched} of them batched with others; "
                f"latencies {[round(dt, 2) for _, _, dt in results]} s"
            )
        finally:
            server.close()
            state.close()
        audit = audit_run(settings, accepted)  # every image verifies (C2PA + watermark), the ledger too
        assert audit.ok and audit.verified == 4, audit
        assert worker.stop() == 0, worker.text()[-3000:]
    finally:
        worker.kill()
