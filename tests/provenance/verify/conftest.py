"""Fixtures for the verify tests: a released-image index on SQLite and PostgreSQL, a test PKI, and the
marks."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from PIL import Image

from core.settings import Settings
from core.store import Database, add_rows
from provenance.c2pa_sign.credentials import load_credentials
from provenance.c2pa_sign.mark import C2paMark
from provenance.c2pa_sign.signer import PemFileSigner
from provenance.label.metadata import MetadataLabel
from provenance.label.visible import VisibleLabel
from provenance.ledger.bodies import WatermarkFacts
from provenance.marks import Artifact, MarkContext
from provenance.released import release_row, system_name
from provenance.released_features import feature_rows
from provenance.tables import ReleasedFeatureKey, ReleasedFeatures, ReleasedImage
from provenance.testing import TestPki, mark_context


@pytest.fixture(scope="session")
def vpki(tmp_path_factory: pytest.TempPathFactory) -> TestPki:
    return TestPki(tmp_path_factory.mktemp("verify-pki"))


@pytest.fixture(scope="session")
def signing_mark(vpki: TestPki) -> C2paMark:
    pair = vpki.valid("verify")
    return C2paMark(PemFileSigner(load_credentials(pair.chain, pair.key)), provider="AssayTest")


@pytest.fixture
def index_db(db_url: str) -> Iterator[Database]:
    """The released-image tables alone (with the local features), on SQLite and on PostgreSQL."""
    db = Database(db_url)
    tables = [ReleasedImage.__table__, ReleasedFeatures.__table__, ReleasedFeatureKey.__table__]
    ReleasedImage.metadata.create_all(db.engine, tables=tables)
    yield db
    db.dispose()


@pytest.fixture
def verify_settings(tmp_path: Path, vpki: TestPki) -> Settings:
    return Settings(data_dir=tmp_path / "data", trust_anchors=vpki.ca_pem, provider_name="AssayTest")


@pytest.fixture(scope="session")
def vphotos() -> list[Image.Image]:
    from skimage import data

    return [
        Image.fromarray(getattr(data, n)()).convert("RGB").resize((512, 512), Image.Resampling.BICUBIC)
        for n in ("astronaut", "coffee", "chelsea", "rocket")
    ]


@dataclass
class Released:
    data: bytes
    ctx: MarkContext
    image: Image.Image
    facts: dict


@pytest.fixture
def release(index_db: Database, signing_mark: C2paMark, verify_settings: Settings):  # noqa: ANN201
    """Mark an image as the pipeline does, record it in the index, return the released file."""

    def run(
        image: Image.Image,
        *,
        fmt: str = "png",
        n: int = 0,
        watermark: str | None = None,
        real_watermark: bool = False,
    ) -> Released:
        ctx = mark_context(
            record_id=f"01JDQ3V6ZK7C3M5W0Y8N2P4R{n:02d}", content_id=f"01JDQ3V6ZK7C3M5W0Y8N2P4R{n:02d}-0"
        )
        art = Artifact(image=image, format=fmt)
        art = VisibleLabel().apply(art, ctx)
        art = MetadataLabel("AssayTest").apply(art, ctx)
        if real_watermark:
            from provenance.watermark import build

            art = build(verify_settings).apply(art, ctx)  # under the operator's key, which verify reads
        if watermark:
            art.facts["watermark"] = WatermarkFacts(
                scheme="test.wm",
                payload=watermark,
                bits=4 * len(watermark),
                psnr=40.0,
                weakened=False,
                masked=True,
            ).to_body()
        art = signing_mark.apply(art, ctx)
        with index_db.session() as s:
            s.add(
                release_row(
                    ctx.record_id,
                    ctx.content_id,
                    art.image,
                    tenant=ctx.tenant,
                    created_at=ctx.created_at,
                    system=system_name(ctx.model),
                    watermark=(art.facts.get("watermark") or {}).get("payload"),
                    manifest_digest=art.facts["c2pa"]["manifest_digest"],
                )
            )
            add_rows(s, feature_rows(ctx.content_id, ctx.record_id, art.image))
        return Released(art.data, ctx, art.image, art.facts)

    return run
