"""``assay worker``: serve a diffusion model on Ray Serve for the gateways to reach over HTTP.

Without ``--address`` it starts a local Ray instance (one machine: the GPUs or CPUs of this host)
and keeps it until it is stopped (Ctrl-C, SIGTERM); with ``--address`` it deploys into a running
Ray cluster, and ``--detach`` leaves the deployment there. Gateways then set
``ASSAY_MODEL=http://<host>:<port>/v1`` (the remote backend recognises an Assay worker and
records the ModelInfo each response carries). See docs/deployment.md.
"""

from __future__ import annotations

import json
import os
import signal
import threading
import time
from typing import Any

import typer
from pydantic import ValidationError

from core.errors import ConfigError, InvalidRequest
from models.worker.errors import WorkerError

#: spec fields whose command-line option has another name
_OPTION_OF = {"default_steps": "--steps", "batch_wait_timeout_s": "--batch-wait-ms"}


def _spec(**options: Any) -> Any:
    """The validated options; a bad one is an InvalidRequest naming the option (exit 2)."""
    from models.worker.spec import BackendSpec, WorkerSpec

    backend_keys = set(BackendSpec.model_fields)
    try:
        backend = BackendSpec(**{k: v for k, v in options.items() if k in backend_keys and v is not None})
        return WorkerSpec(backend=backend, **{k: v for k, v in options.items() if k not in backend_keys})
    except ValidationError as exc:
        first = exc.errors()[0]
        loc = [str(p) for p in first.get("loc", ()) if p != "backend"]
        field = loc[-1] if loc else None
        where = _OPTION_OF.get(field, "--" + field.replace("_", "-")) if field else None
        msg = str(first["msg"]).removeprefix("Value error, ")
        raise InvalidRequest(f"{where}: {msg}" if where else msg, param=where) from None


def _start_ray(address: str | None, ray_cpus: int | None, ray_gpus: int | None) -> None:
    import ray

    kwargs: dict[str, Any] = {"include_dashboard": False, "logging_level": "WARNING", "namespace": "assay"}
    if address:
        kwargs["address"] = address
    else:  # Ray's own ports bind the node's address whatever --host says; --host binds the HTTP proxy
        kwargs.update(num_cpus=ray_cpus, num_gpus=ray_gpus)
    try:
        ray.init(**kwargs)
    except Exception as exc:  # noqa: BLE001 - Ray raises many kinds; all mean the same here
        where = f"the Ray cluster at {address}" if address else "a local Ray instance"
        raise WorkerError(
            f"Ray could not start: {where}: {exc.__class__.__name__}: {str(exc).splitlines()[0]}",
            hint="check `ray status`, free memory and /tmp space; with --address, that the "
            "cluster's version matches this ray package",
        ) from exc


def worker(
    model: str = typer.Option(
        "assay-default", help="The built-in model, a local diffusers folder or a hub id"
    ),
    revision: str | None = typer.Option(None, help="Hub revision"),
    device: str = typer.Option("auto", help="auto, cpu, cuda or mps (auto: cuda when --num-gpus > 0)"),
    dtype: str = typer.Option("auto", help="auto, float32, float16 or bfloat16"),
    steps: int | None = typer.Option(None, help="Inference steps when a request does not say"),
    data_dir: str | None = typer.Option(None, help="Where replicas cache the weights digest"),
    address: str | None = typer.Option(
        None, help="A running Ray cluster (e.g. auto, ray://head:10001); default: start a local Ray instance"
    ),
    host: str = typer.Option("127.0.0.1", help="Bind address of Ray Serve's HTTP proxy"),
    port: int = typer.Option(8100, min=1, max=65535, help="Port of Ray Serve's HTTP proxy"),
    name: str = typer.Option("assay-worker", help="Deployment (and application) name"),
    route_prefix: str = typer.Option("/", help="Route of the deployment on the proxy"),
    num_cpus: float = typer.Option(1.0, help="CPUs per replica"),
    num_gpus: float = typer.Option(0.0, help="GPUs per replica (fractions share one)"),
    min_replicas: int = typer.Option(1, help="Autoscaling: fewest replicas"),
    max_replicas: int = typer.Option(1, help="Autoscaling: most replicas (equal to --min-replicas: fixed)"),
    target_ongoing_requests: float = typer.Option(2.0, help="Autoscaling: requests in flight per replica"),
    max_ongoing_requests: int = typer.Option(8, help="Requests a replica accepts at once"),
    max_batch_size: int = typer.Option(4, help="Requests handed to the pipeline together"),
    batch_wait_ms: float = typer.Option(10.0, help="How long a batch waits for more requests"),
    ray_cpus: int | None = typer.Option(None, help="CPUs of a local Ray instance (default: all)"),
    ray_gpus: int | None = typer.Option(None, help="GPUs of a local Ray instance (default: all)"),
    detach: bool = typer.Option(False, help="With --address: deploy, print the endpoint and exit"),
    ready_timeout_s: float = typer.Option(600.0, help="How long to wait for the replicas to load"),
    as_json: bool = typer.Option(False, "--json", help="Print the endpoint and model as JSON"),
) -> None:
    """Serve a diffusion model on Ray Serve (GPU or CPU replicas) for the gateways."""
    spec = _spec(
        model=model,
        revision=revision,
        device=device,
        dtype=dtype,
        default_steps=steps,
        data_dir=data_dir,
        name=name,
        route_prefix=route_prefix,
        num_cpus=num_cpus,
        num_gpus=num_gpus,
        min_replicas=min_replicas,
        max_replicas=max_replicas,
        target_ongoing_requests=target_ongoing_requests,
        max_ongoing_requests=max_ongoing_requests,
        max_batch_size=max_batch_size,
        batch_wait_timeout_s=batch_wait_ms / 1000.0,
    )
    if spec.backend.model.startswith(("http://", "https://", "ray://")):
        raise ConfigError(
            f"--model {spec.backend.model!r} is another service; a worker runs weights itself",
            param="--model",
            hint="give assay-default, a local diffusers folder or a hub id",
        )
    if detach and not address:
        raise InvalidRequest(
            "--detach needs --address: a local Ray instance ends with this command", param="--detach"
        )
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    try:
        from ray import serve

        from models.worker.deployment import build
    except ImportError as exc:
        raise ConfigError(
            f"Ray Serve is not installed: {exc}", hint="install it with pip install 'assay-gateway[worker]'"
        ) from exc
    _start_ray(address, ray_cpus, ray_gpus)
    import ray

    try:
        try:
            serve.start(http_options={"host": host, "port": port})
            serve.run(build(spec), name=spec.name, route_prefix=spec.route_prefix, blocking=False)
        except Exception as exc:  # noqa: BLE001 - a replica's start-up error arrives wrapped by Ray
            raise WorkerError(
                f"the deployment did not start: {exc.__class__.__name__}: {str(exc)[:2000]}",
                hint="the replica's own error is above; check --model and the resources asked "
                "(--num-cpus, --num-gpus) against `ray status`",
            ) from exc
        url = _wait_ready(host, port, spec.route_prefix, ready_timeout_s)
        _announce(url, spec, as_json)
        if detach:
            return
        _wait_for_signal()
    finally:
        if not detach:
            try:
                serve.shutdown()
            finally:
                ray.shutdown()


def _endpoint(host: str, port: int, prefix: str) -> str:
    shown = "127.0.0.1" if host in ("0.0.0.0", "::") else host
    return f"http://{shown}:{port}{prefix.rstrip('/')}/v1"


def _wait_ready(host: str, port: int, prefix: str, timeout_s: float) -> str:
    import httpx

    url = _endpoint(host, port, prefix)
    deadline = time.monotonic() + timeout_s
    last = "no answer"
    while time.monotonic() < deadline:
        try:
            r = httpx.get(url + "/models", timeout=10)
            if r.status_code == 200 and r.json().get("data"):
                return url
            last = f"HTTP {r.status_code}"
        except (httpx.HTTPError, ValueError) as exc:
            last = exc.__class__.__name__
        time.sleep(0.5)
    raise WorkerError(
        f"the worker at {url} was not ready within {timeout_s:.0f} s ({last})",
        hint="raise --ready-timeout-s for large models; `ray status` shows pending replicas",
    )


def _announce(url: str, spec: Any, as_json: bool) -> None:
    import httpx

    card = httpx.get(url + "/models", timeout=10).json()["data"][0]
    info = card["assay_worker"]["model_info"]
    if as_json:
        typer.echo(json.dumps({"url": url, "deployment": spec.name, "model": info}, ensure_ascii=False))
    else:
        typer.echo(
            f"worker ready: {info['model_id']} ({info['weights_digest']}) on {info.get('device')}\n"
            f"  gateways: ASSAY_MODEL={url}"
        )


def _wait_for_signal() -> None:
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    while not stop.wait(1.0):
        pass
