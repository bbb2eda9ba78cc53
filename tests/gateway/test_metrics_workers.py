"""``/metrics`` under ``assay serve --workers N``: a scrape reaches one worker but counts them all."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]

WORKER = (
    "import sys\n"
    "from core.settings import Settings\n"
    "from gateway.metrics import Metrics\n"
    "m = Metrics(Settings().metrics_multiproc_dir)\n"
    "for _ in range(int(sys.argv[1])):\n"
    "    m.decision('released', ['sexual'])\n"
    "if sys.argv[2] == 'render':\n"
    "    sys.stdout.write(m.render().decode())\n"
)


def _run(env: dict[str, str], *args: str) -> str:
    return subprocess.run(
        [sys.executable, "-c", WORKER, *args],
        cwd=REPO,
        env=env,
        check=True,
        capture_output=True,
        text=True,
        timeout=60,
    ).stdout


def test_each_worker_renders_the_sum_of_all_workers(tmp_path: Path) -> None:
    from gateway.metrics import MULTIPROC_ENV

    env = {**os.environ, MULTIPROC_ENV: str(tmp_path)}
    _run(env, "2", "quiet")
    _run(env, "3", "quiet")
    text = _run(env, "0", "render")
    assert 'assay_decisions_total{status="released"} 5.0' in text
    assert 'assay_decision_categories_total{category="sexual"} 5.0' in text
    alone = _run({k: v for k, v in os.environ.items() if k != MULTIPROC_ENV}, "1", "render")
    assert 'assay_decisions_total{status="released"} 1.0' in alone  # one process: its own registry
