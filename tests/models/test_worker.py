"""The worker's API and the gateway's side of it, without Ray (tests/scale/ runs it on Ray Serve).

The worker app (``models.worker.service.make_api``) runs with a ``LocalRunner``; the gateway's
remote backend reaches it through the TestClient's transport, so every byte crosses the same
HTTP API as in production. The built-in model's pipeline checks batching and per-request notes.
"""

from __future__ import annotations

import base64
import io
import json
from pathlib import Path

import httpx
import numpy as np
import pytest
from fastapi.testclient import TestClient
from PIL import Image

from core.errors import BackendError, InvalidRequest
from models.base import GenerationRequest
from models.remote import RemoteBackend
from models.worker.protocol import PROTOCOL
from models.worker.service import LocalRunner, WorkerService, make_api


@pytest.fixture(scope="module")
def worker_client(tiny_backend):  # noqa: ANN001, ANN201
    runner = LocalRunner(WorkerService(tiny_backend, deployment="test-worker", max_batch_size=4))
    with TestClient(make_api(lambda: runner)) as c:
        yield c


@pytest.fixture
def gateway_backend(worker_client) -> RemoteBackend:  # noqa: ANN001
    """The gateway's remote backend, its requests served by the worker app."""

    def forward(req: httpx.Request) -> httpx.Response:
        r = worker_client.request(
            req.method, req.url.raw_path.decode(), content=req.read(), headers=req.headers
        )
        return httpx.Response(r.status_code, headers=r.headers, content=r.content)

    return RemoteBackend("http://worker.test/v1", transport=httpx.MockTransport(forward), retries=0)


def test_the_worker_describes_its_weights(worker_client, tiny_backend) -> None:  # noqa: ANN001
    card = worker_client.get("/v1/models").json()["data"][0]
    desc = card["assay_worker"]
    assert card["id"] == tiny_backend.info.model_id and desc["protocol"] == PROTOCOL
    assert desc["model_info"]["weights_digest"] == tiny_backend.info.weights_digest
    assert desc["model_info"]["backend"] == "ray" and desc["deployment"] == "test-worker"


def test_each_response_says_which_weights_made_its_images(worker_client, tiny_backend) -> None:  # noqa: ANN001
    r = worker_client.post(
        "/v1/images/generations",
        json={"prompt": "a red circle", "size": "64x64", "n": 2, "seed": 7, "steps": 2, "user": "ignored"},
    )
    assert r.status_code == 200, r.text
    body = r.json()
    info = body["assay"]["model_info"]
    assert (info["weights_digest"], info["seeds"], info["steps"]) == (
        tiny_backend.info.weights_digest,
        [7, 8],
        2,
    )
    assert [Image.open(io.BytesIO(base64.b64decode(d["b64_json"]))).size for d in body["data"]] == [
        (64, 64)
    ] * 2


@pytest.mark.parametrize(
    "body,param,text",
    [
        ({"prompt": "x", "size": "65x64"}, "size", "multiples of 8"),
        ({"prompt": "x", "size": "big"}, "size", "WIDTHxHEIGHT"),
        ({"prompt": "", "size": "64x64"}, "prompt", "at least 1 character"),
        ({"prompt": "x", "n": 99}, "n", "less than or equal to 16"),
        ({"prompt": "x", "model": "someone-else"}, "model", "not served by this worker"),
    ],
)
def test_bad_input_is_a_400_naming_the_field(worker_client, body, param, text) -> None:  # noqa: ANN001
    r = worker_client.post("/v1/images/generations", json=body)
    assert r.status_code == 400, r.text
    err = r.json()["error"]
    assert err["param"] == param and text in err["message"], err


def test_the_gateway_records_the_workers_model_info(gateway_backend, tiny_backend) -> None:  # noqa: ANN001
    assert gateway_backend.worker is not None  # found out from GET /v1/models
    assert gateway_backend.info.weights_digest == tiny_backend.info.weights_digest
    res = gateway_backend.generate(
        GenerationRequest(prompt="a blue star", width=64, height=64, n=1, seed=11, steps=2)
    )
    assert res.model.backend == "ray" and res.model.weights_digest == tiny_backend.info.weights_digest
    assert res.model.seeds == [11] and res.model.steps == 2  # the extras reached the worker
    assert any(n.startswith("reached over HTTP at http") for n in res.model.notes)
    with pytest.raises(InvalidRequest, match="multiples of 8") as exc:
        gateway_backend.generate(GenerationRequest(prompt="x", width=60, height=64))
    assert exc.value.param == "size"


def _png() -> str:
    buf = io.BytesIO()
    Image.new("RGB", (32, 32), "blue").save(buf, format="PNG")
    return base64.b64encode(buf.getvalue()).decode()


def _upstream(models: httpx.Response, generation: dict, seen: list) -> httpx.MockTransport:  # noqa: ANN001
    def handler(req: httpx.Request) -> httpx.Response:
        if req.method == "GET":
            return models
        seen.append(json.loads(req.content))
        return httpx.Response(200, json=generation)

    return httpx.MockTransport(handler)


WORKER_CARD = {
    "object": "list",
    "data": [
        {
            "id": "m",
            "object": "model",
            "assay_worker": {
                "protocol": PROTOCOL,
                "model_info": {"backend": "ray", "model_id": "m", "weights_digest": "sha256:" + "1" * 64},
            },
        }
    ],
}


@pytest.mark.parametrize(
    "generation,match",
    [
        ({"created": 1, "data": [{"b64_json": _png()}]}, "without their model_info"),
        (
            {"created": 1, "data": [{"b64_json": _png()}], "assay": {"model_info": {"model_id": "m"}}},
            "malformed",
        ),
        (
            {
                "created": 1,
                "data": [{"b64_json": _png()}],
                "assay": {"model_info": {"backend": "ray", "model_id": "m"}},
            },
            "did not name the weights digest",
        ),
    ],
)
def test_a_worker_image_without_its_weights_is_not_released(generation, match) -> None:  # noqa: ANN001
    be = RemoteBackend(
        "http://worker.test/v1",
        transport=_upstream(httpx.Response(200, json=WORKER_CARD), generation, []),
        retries=0,
    )
    with pytest.raises(BackendError, match=match):
        be.generate(GenerationRequest(prompt="x", width=32, height=32))


def test_a_worker_of_another_protocol_version_is_refused() -> None:
    card = json.loads(json.dumps(WORKER_CARD))
    card["data"][0]["assay_worker"]["protocol"] = "assay-worker/9"
    be = RemoteBackend("http://worker.test/v1", transport=_upstream(httpx.Response(200, json=card), {}, []))
    with pytest.raises(BackendError, match="speaks assay-worker/9"):
        be.generate(GenerationRequest(prompt="x", width=32, height=32))


def test_a_plain_openai_upstream_gets_no_extras_and_is_recorded_as_remote() -> None:
    seen: list = []
    be = RemoteBackend(
        "http://vendor.test/v1",
        model="vendor-model",
        retries=0,
        transport=_upstream(
            httpx.Response(404, json={"error": {"message": "no"}}),
            {"created": 1, "data": [{"b64_json": _png()}]},
            seen,
        ),
    )
    res = be.generate(GenerationRequest(prompt="x", width=32, height=32, seed=3, steps=9, guidance=2.0))
    assert be.worker is None and res.model.backend == "remote" and res.model.weights_digest is None
    assert set(seen[0]) == {"prompt", "n", "size", "response_format", "model"}


def test_a_worker_down_at_start_is_recognised_once_it_answers() -> None:
    up = {"ok": False}

    def handler(req: httpx.Request) -> httpx.Response:
        if not up["ok"]:
            raise httpx.ConnectError("refused")
        if req.method == "GET":
            return httpx.Response(200, json=WORKER_CARD)
        info = WORKER_CARD["data"][0]["assay_worker"]["model_info"]
        return httpx.Response(
            200, json={"created": 1, "data": [{"b64_json": _png()}], "assay": {"model_info": info}}
        )

    be = RemoteBackend("http://worker.test/v1", transport=httpx.MockTransport(handler), retries=0)
    assert be.info.backend == "remote"  # nothing known yet: not cached as "not a worker"
    with pytest.raises(BackendError, match="unreachable"):
        be.generate(GenerationRequest(prompt="x", width=32, height=32))
    up["ok"] = True
    res = be.generate(GenerationRequest(prompt="x", width=32, height=32))
    assert be.worker is not None and res.model.weights_digest == "sha256:" + "1" * 64


def test_a_batch_runs_compatible_requests_together_each_with_its_own_seed(tiny_backend) -> None:  # noqa: ANN001
    reqs = [
        GenerationRequest(prompt=p, width=64, height=64, seed=s, steps=2)
        for p, s in [("a red circle", 1), ("a blue star", 2), ("a green heart", 3)]
    ]
    reqs.append(
        GenerationRequest(prompt="a red circle", width=32, height=32, seed=4, steps=2)
    )  # another size
    reqs.append(GenerationRequest(prompt="bad", width=30, height=32, seed=5, steps=2))  # refused alone
    out = tiny_backend.generate_batch(reqs)
    assert isinstance(out[4], InvalidRequest) and out[4].param == "size"
    assert [o.model.seeds for o in out[:4]] == [[1], [2], [3], [4]]
    assert [o.images[0].size for o in out[:4]] == [(64, 64)] * 3 + [(32, 32)]
    assert all("1 other request" not in " ".join(o.model.notes) for o in out[:3])
    assert "generated in one pipeline call with 2 other request(s)" in out[0].model.notes
    alone = tiny_backend.generate(reqs[1])  # batched or not, a seed gives the same image
    diff = np.abs(np.asarray(alone.images[0], dtype=np.int16) - np.asarray(out[1].images[0], dtype=np.int16))
    assert diff.max() <= 2, diff.max()


def test_a_batch_never_gives_a_request_the_notes_of_anothers_prompt(tmp_path: Path) -> None:
    """The built-in model notes unknown words of the prompt; batched, each request keeps its own."""
    from models.default import save_untrained
    from models.diffusers_backend import DiffusersBackend

    be = DiffusersBackend(str(save_untrained(tmp_path / "untrained")), default_steps=1)
    out = be.generate_batch(
        [
            GenerationRequest(prompt="a red circle by zanzibarx", width=32, height=32, seed=1),
            GenerationRequest(prompt="a blue star near quokkay", width=32, height=32, seed=2),
        ]
    )
    first, second = (" ".join(o.model.notes) for o in out)
    assert "zanzibarx" in first and "quokkay" not in first
    assert "quokkay" in second and "zanzibarx" not in second


def test_edits_reach_the_worker_with_their_image_and_strength(gateway_backend, tiny_backend) -> None:  # noqa: ANN001
    from models.base import GenerationMode

    img = Image.new("RGB", (64, 64), "white")
    res = gateway_backend.generate(
        GenerationRequest(
            prompt="a red ring",
            width=64,
            height=64,
            seed=3,
            steps=2,
            mode=GenerationMode.IMG2IMG,
            image=img,
            strength=0.5,
        )
    )
    assert res.images[0].size == (64, 64) and res.model.seeds == [3]
    assert res.model.pipeline_class != tiny_backend.info.pipeline_class  # the image-to-image variant ran


def test_edits_without_an_image_are_refused(worker_client) -> None:  # noqa: ANN001
    r = worker_client.post("/v1/images/edits", data={"prompt": "x", "size": "64x64"})
    assert r.status_code == 400 and r.json()["error"]["param"] == "image"
    r = worker_client.post(
        "/v1/images/edits",
        data={"prompt": "x", "size": "64x64", "strength": "2"},
        files={"image": ("a.png", base64.b64decode(_png()), "image/png")},
    )
    assert r.status_code == 400 and r.json()["error"]["param"] == "strength"


@pytest.mark.parametrize(
    "args,names",
    [
        (
            ["--min-replicas", "3", "--max-replicas", "2"],
            "fewest replicas (3, --min-replicas) is above the most",
        ),
        (["--max-batch-size", "0"], "--max-batch-size"),
        (["--steps", "0"], "--steps: Input should be greater than or equal to 1"),
        (["--device", "tpu"], "--device"),
        (["--name", "bad name!"], "--name"),
        (["--model", "http://elsewhere/v1"], "a worker runs weights itself"),
        (["--detach"], "--detach needs --address"),
    ],
)
def test_assay_worker_refuses_bad_options_before_starting_ray(args, names) -> None:  # noqa: ANN001
    from typer.testing import CliRunner

    from gateway.cli.main import app as cli

    res = CliRunner().invoke(cli, ["worker", *args])
    assert res.exit_code == 2, res.output
    assert names in res.output, res.output


def test_the_serve_config_builder_maps_the_options_onto_the_deployment() -> None:
    """``import_path: models.worker.deployment:app_builder`` (serve deploy, KubeRay) builds what
    ``assay worker`` builds; binding needs no running Ray."""
    pytest.importorskip("ray.serve", reason="Ray Serve is not installed")
    from pydantic import ValidationError

    from models.worker.deployment import app_builder

    app = app_builder({"num_gpus": 1, "min_replicas": 1, "max_replicas": 4, "backend": {"dtype": "float16"}})
    dep = app._bound_deployment
    cfg = dep._deployment_config
    assert dep.name == "assay-worker" and dep.ray_actor_options == {"num_cpus": 1.0, "num_gpus": 1.0}
    assert (cfg.autoscaling_config.min_replicas, cfg.autoscaling_config.max_replicas) == (1, 4)
    fixed = app_builder({"min_replicas": 2, "max_replicas": 2})._bound_deployment
    assert fixed._deployment_config.autoscaling_config is None and fixed.num_replicas == 2
    with pytest.raises(ValidationError, match="max_replicas"):
        app_builder({"max_replicas": 0})
