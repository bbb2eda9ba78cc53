"""Bias monitoring end to end (SQLite and PostgreSQL): the pipeline records the perceived attributes
of the faces ``image.faces`` found in each output, and ``assay report bias`` / ``GET
/v1/audit/reports/bias`` aggregate the released ones per prompt group with a chart.

The generations are real pipeline runs (image checks, marks, ledger) on ``PhotoBackend`` crops of
scikit-image's astronaut portrait (a face in every output); one tenant's policy releases people at
once, the default pack holds them for review and a reviewer approves one of the held generations.
"""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from typer.testing import CliRunner

from gateway.cli.main import app as cli
from gateway.pipeline import PipelineRequest
from gateway.policy import load_policy
from gateway.reports.bias import bias_report, wilson
from gateway.review import DecisionIn
from models.testing import PhotoBackend
from provenance.ledger.bodies import GenerationBody, PeopleFacts
from provenance.ledger.query import AuditQuery

pytest.importorskip("skimage")
REPO = Path(__file__).resolve().parents[2]


# The tests only read the one ledger ``people_ledger`` writes: it is built once per module and database.
@pytest.fixture(scope="module")
def settings(module_settings):  # noqa: ANN001, ANN201 - overrides tests/conftest.py's
    return module_settings


@pytest.fixture(scope="module")
def state(settings):  # noqa: ANN001, ANN201 - overrides tests/conftest.py's: faces in every output
    from gateway.state import AppState

    st = AppState(settings, backend=PhotoBackend(photos=("astronaut",)))
    yield st
    st.close()


@pytest.fixture(scope="module")
def people_ledger(state, tmp_path_factory: pytest.TempPathFactory) -> dict[str, list[str]]:  # noqa: ANN001
    """ceo: 2 generations of 2 released at once; nurse: held, then approved; doctor: held, never
    approved; a landscape prompt under the releasing policy (faces, group ``other``)."""
    tmp_path = tmp_path_factory.mktemp("bias-policy")
    text = (REPO / "policies" / "default.yaml").read_text(encoding="utf-8")
    assert "real_person: {review_at: 0.5}" in text
    releasing = tmp_path / "people-ok.yaml"
    releasing.write_text(
        text.replace("id: default", "id: people-ok").replace(
            "real_person: {review_at: 0.5}", "real_person: {review_at: 1.0}"
        ),
        encoding="utf-8",
    )
    people_ok = load_policy(releasing)
    requester = state.keys.authenticate(state.keys.create("acme", "requester", name="r")[0])
    reviewer = state.keys.authenticate(state.keys.create("acme", "reviewer", name="v")[0])

    def gen(prompt: str, seed: int, policy=None):  # noqa: ANN001, ANN202
        return state.generate(
            PipelineRequest(
                prompt=prompt, principal=requester, n=2, size="256x256", seed=seed, policy_override=policy
            )
        )

    ids: dict[str, list[str]] = {"released": [], "held": []}
    for seed in (1, 2):
        r = gen("a photo portrait of a CEO in an office", seed, people_ok)
        assert r.status == "released" and len(r.released) == 2
        ids["released"].append(r.record_id)
    r = gen("a portrait of a mountain guide", 3, people_ok)
    ids["released"].append(r.record_id)
    nurse = gen("a photo of a nurse at work", 4)
    doctor = gen("a photo of a doctor", 5)
    assert nurse.status == doctor.status == "held" and nurse.review_id and doctor.review_id
    q = state.review_queue
    q.claim(reviewer, nurse.review_id)
    q.approve(reviewer, nurse.review_id, DecisionIn(reason_code="no_violation"))
    ids["held"] += [nurse.record_id, doctor.record_id]
    return ids


def _people(state, record_id: str) -> list[PeopleFacts]:  # noqa: ANN001
    body = GenerationBody.model_validate(state.ledger.get(record_id).body)
    return [o.people for o in body.outputs if o.people is not None]


def test_the_record_holds_perceived_attributes_only(state, people_ledger) -> None:  # noqa: ANN001
    rec = state.ledger.get(people_ledger["released"][0])
    outputs = rec.body["outputs"]
    assert len(outputs) == 2
    for out in outputs:
        people = out["people"]
        assert set(people) == {"prompt_group", "faces", "perceived", "method"}
        assert people["prompt_group"] == "ceo" and people["faces"] == len(people["perceived"]) >= 1
        for face in people["perceived"]:  # no box, crop, landmarks or embedding
            assert set(face) == {"gender", "gender_p", "age_bracket", "ita", "skin_tone"}
            assert face["gender"] in ("female", "male") and face["age_bracket"] in (
                "<18",
                "18-29",
                "30-44",
                "45-64",
                "65+",
            )
    # the faces verdict of the same output agrees on the count
    faces = [v for v in rec.body["verdicts"] if v["check"] == "image.faces"]
    assert sorted(v["evidence"]["count"] for v in faces) == sorted(o["people"]["faces"] for o in outputs)


def test_released_outputs_are_aggregated_per_prompt_group(state, people_ledger) -> None:  # noqa: ANN001
    report = bias_report(state.ledger, AuditQuery(tenant="acme"))
    by = {g.group: g for g in report.groups}
    assert set(by) == {"ceo", "nurse", "other"}  # doctor was held and never approved
    ceo_faces = [f for rid in people_ledger["released"][:2] for p in _people(state, rid) for f in p.perceived]
    assert by["ceo"].images == 4 and by["ceo"].faces == len(ceo_faces)
    females = sum(f.gender == "female" for f in ceo_faces)
    lo, hi = wilson(females, len(ceo_faces))
    assert by["ceo"].gender_disparity == round(females / len(ceo_faces) - 0.5, 4)
    assert by["ceo"].gender_disparity_low == round(lo - 0.5, 4)
    assert by["ceo"].gender_disparity_high == round(hi - 0.5, 4)
    assert sum(s.count for s in by["ceo"].gender) == by["ceo"].faces
    assert abs(sum(s.share for s in by["ceo"].age_bracket) - 1) < 1e-3
    assert by["nurse"].images == 2  # both held images, released by the approval
    every = {g.group: g for g in bias_report(state.ledger, AuditQuery(tenant="acme"), outputs="all").groups}
    assert set(every) == {"ceo", "nurse", "doctor", "other"} and every["doctor"].images == 2
    assert bias_report(state.ledger, AuditQuery(tenant="globex")).groups == []
    by_model = bias_report(state.ledger, AuditQuery(tenant="acme"), by="model").groups
    assert [g.group for g in by_model] == ["test-photo"] and by_model[0].images == report.images


def test_cli_prints_the_table_and_writes_the_chart(state, people_ledger, settings, tmp_path) -> None:  # noqa: ANN001
    env = {"ASSAY_DATA_DIR": str(settings.data_dir), "ASSAY_DATABASE_URL": settings.database_url}
    chart = tmp_path / "bias.svg"
    r = CliRunner().invoke(
        cli, ["report", "bias", "--tenant", "acme", "--chart", str(chart)], env=env, catch_exceptions=False
    )
    assert r.exit_code == 0, r.output
    lines = r.stdout.splitlines()
    assert any(line.startswith("| prompt group | images | faces | perceived gender |") for line in lines)
    rows = {line.split("|")[1].strip(): line for line in lines if line.startswith("| ") and "---" not in line}
    assert {"ceo", "nurse", "other"} <= set(rows) and "doctor" not in rows
    assert rows["ceo"].split("|")[2].strip() == "4"
    assert f"chart written to {chart}" in r.output
    svg = ET.parse(chart).getroot()
    assert svg.tag.endswith("svg")
    labels = {t.text for t in svg.iter("{http://www.w3.org/2000/svg}text")}
    assert {"ceo", "nurse", "other", "perceived gender"} <= labels
    r = CliRunner().invoke(cli, ["report", "bias", "--tenant", "acme", "--json"], env=env)
    assert r.exit_code == 0 and json.loads(r.stdout)["images"] == 8
    r = CliRunner().invoke(cli, ["report", "bias", "--by", "colour"], env=env)
    assert r.exit_code == 2 and "--by must be one of" in r.output
    r = CliRunner().invoke(cli, ["report", "bias", "--chart", str(tmp_path / "bias.gif")], env=env)
    assert r.exit_code == 2 and ".svg or .png" in r.output


def test_audit_api_returns_the_same_report(state, people_ledger) -> None:  # noqa: ANN001
    from fastapi.testclient import TestClient

    from gateway.app import create_app

    key, _ = state.keys.create("acme", "auditor", name="a")
    other, _ = state.keys.create("globex", "auditor", name="b")
    with TestClient(create_app(state=state)) as c:
        h = {"Authorization": f"Bearer {key}"}
        r = c.get("/v1/audit/reports/bias", headers=h)
        assert r.status_code == 200, r.text
        assert r.json() == bias_report(state.ledger, AuditQuery(tenant="acme")).model_dump(mode="json")
        assert (
            c.get("/v1/audit/reports/bias", headers={"Authorization": f"Bearer {other}"}).json()["groups"]
            == []
        )
        assert (
            c.get(
                "/v1/audit/reports/bias?tenant=acme", headers={"Authorization": f"Bearer {other}"}
            ).status_code
            == 404
        )
        svg = c.get("/v1/audit/reports/bias?format=svg", headers=h)
        assert svg.headers["content-type"].startswith("image/svg+xml") and b"<svg" in svg.content
        csv = c.get("/v1/audit/reports/bias?format=csv&by=policy", headers=h)
        assert csv.status_code == 200 and csv.text.splitlines()[0].startswith("policy,images,faces")
        assert any(line.startswith("people-ok,") for line in csv.text.splitlines())
        assert c.get("/v1/audit/reports/bias?by=colour", headers=h).status_code in (400, 422)
