"""One settings object for the whole process: every ``ASSAY_*`` environment variable is a field here.

Why one home: a variable read anywhere else would be undocumented, unvalidated and unknown to the
production rules. Each field carries its description (the README's configuration table is generated
from them: :func:`settings_table`, checked by ``tests/gateway/test_settings.py``).

Every default is safe for a developer's machine. The ones that would be unsafe in production are
refused at start-up: with ``ASSAY_ENV=production``, building :class:`Settings` raises one
:class:`~core.errors.ConfigError` that names each variable to set (a database URL, the operator's
signing certificate and key instead of the generated development ones, the watermark key file and
the ledger checkpoint key). In development, ``/readyz`` says so in its warnings.

Imports: the standard library, pydantic and :mod:`core.errors` only (the ground floor).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar, Literal

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic.fields import FieldInfo
from pydantic_settings import BaseSettings, SettingsConfigDict

from core.errors import ConfigError

__all__ = [
    "BUILTIN_MODEL",
    "CHECKPOINT_KEY_FILE",
    "CHECKPOINT_VKEY_FILE",
    "DEV_SIGNING_CHAIN_FILE",
    "ENV_PREFIX",
    "WATERMARK_KEY_FILE",
    "KeySetupSettings",
    "ProductionProblem",
    "Settings",
    "env_name",
    "settings_table",
]

#: the built-in default model (see models/default); any other value is a folder, hub id or URL
BUILTIN_MODEL = "assay-default"
ENV_PREFIX = "ASSAY_"

# Files under ``keys_dir`` (``<data dir>/keys``). Their readers and writers live in provenance/;
# the names live here because the production rules check that the keys exist.
#: the operator's watermark key(s), when ASSAY_WATERMARK_KEY_FILE is unset
WATERMARK_KEY_FILE = "watermark.key"
#: the ledger checkpoint signer key (secret) and its verifier key (public)
CHECKPOINT_KEY_FILE = "ledger-checkpoint.skey"
CHECKPOINT_VKEY_FILE = "ledger-checkpoint.vkey"
#: the generated development C2PA chain (refused in production)
DEV_SIGNING_CHAIN_FILE = "dev-signer-chain.pem"

_REPO_ROOT = Path(__file__).resolve().parent.parent


def _shown(text: str) -> dict[str, Any]:
    """``json_schema_extra`` for a field whose default is computed: what the README shows instead."""
    return {"shown_default": text}


@dataclass(frozen=True)
class ProductionProblem:
    """One setting that ``ASSAY_ENV=production`` refuses: the variable, what is wrong, what to set."""

    variable: str
    problem: str
    fix: str

    def __str__(self) -> str:
        return f"{self.variable}: {self.problem}; {self.fix}"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix=ENV_PREFIX, env_file=None, extra="ignore", frozen=False)

    #: whether the production rules also require the key files to exist (see KeySetupSettings)
    requires_key_files: ClassVar[bool] = True

    env: Literal["development", "production"] = Field(
        default="development",
        description="`production` refuses development certificates and keys and a missing database URL "
        "at start-up, naming each variable to set",
    )
    data_dir: Path = Field(
        default=Path(".assay"),
        description="SQLite file, blobs, keys, indexes, generated certificates",
        json_schema_extra=_shown("`./.assay`"),
    )
    database_url: str | None = Field(
        default=None,
        description="or `postgresql://user@host/db` for deployments (required in production)",
        json_schema_extra=_shown("`sqlite:///$ASSAY_DATA_DIR/assay.db`"),
    )
    auto_migrate: bool = Field(default=True, description="run Alembic migrations at start-up")
    preload: bool = Field(
        default=True,
        description="load the model, checks and marks before accepting requests (`assay serve "
        "--no-preload` sets it to `false` for its workers)",
    )

    # --- model -----------------------------------------------------------------------------
    model: str = Field(
        default=BUILTIN_MODEL,
        description="the built-in model, a local diffusers folder, a hub id (from the local HF cache; "
        "`HF_HUB_OFFLINE` respected), or an `http(s)://.../v1` OpenAI-compatible URL (an `assay worker` "
        "endpoint is recognised, and the weights digest it reports for each image is recorded)",
    )
    model_revision: str | None = Field(default=None, description="hub revision")
    device: Literal["auto", "cpu", "cuda", "mps"] = Field(default="auto", description="`cpu`, `cuda`, `mps`")
    dtype: Literal["auto", "float32", "float16", "bfloat16"] = Field(
        default="auto", description="`float32`, `float16`, `bfloat16`"
    )
    default_steps: int | None = Field(
        default=None,
        description="inference steps when a request does not say",
        json_schema_extra=_shown("model default"),
    )
    sampler: str | None = Field(
        default=None,
        description="replace the model's scheduler: `lcm`, `euler`, `euler-a`, `dpm++`, `ddim`, `unipc`, "
        "`heun`, `pndm`, `flow-euler` or a diffusers scheduler class name (it must be one the model's "
        "scheduler lists as compatible; the record names the one used)",
        json_schema_extra=_shown("model default"),
    )
    control_models: str | None = Field(
        default=None,
        description="control models for a diffusers `ASSAY_MODEL`, one folder per control type: "
        "`canny=/m/controlnet-canny,pose=/m/controlnet-pose` (ControlNet or T2I-Adapter folders; types "
        "`canny`, `edges`, `pose`, `depth`, `scribble`, `lineart`, `segmentation`)",
    )
    remote_model: str | None = Field(
        default=None, description="model name sent to an `http(s)` `ASSAY_MODEL` (OpenAI-compatible API)"
    )
    remote_api_key: str | None = Field(default=None, description="API key for an `http(s)` `ASSAY_MODEL`")
    backend_timeout_s: float = Field(default=120.0, gt=0, description="deadline for the model, seconds")
    backend_retries: int = Field(default=2, ge=0, le=10, description="retries of a failed model call")

    # --- the model under load: admission queue, overrun, remote circuit breaker ------------------
    # (gateway.admission; each tenant's share is its policy's `admission` block)
    backend_concurrency: int = Field(
        default=0,
        ge=0,
        le=1024,
        description="generations the model runs at once; `0`: what the backend says (diffusers: 1)",
    )
    admission_queue_size: int = Field(
        default=32,
        ge=0,
        le=100_000,
        description="requests waiting for the model; beyond: `503` with `Retry-After`",
    )
    admission_max_wait_s: float = Field(
        default=60.0, gt=0, description="longest wait for the model in the admission queue, seconds"
    )
    admission_overrun_grace_s: float = Field(
        default=1.0,
        ge=0,
        description="a generation past its deadline by more than this without stopping makes `/readyz` "
        "not ready",
    )
    remote_breaker_failures: int = Field(
        default=5,
        ge=1,
        le=1000,
        description="consecutive failures of a remote model that open its circuit breaker",
    )
    remote_breaker_reset_s: float = Field(
        default=30.0, gt=0, description="seconds an open breaker waits before one probe request"
    )

    # --- policies & tenants ------------------------------------------------------------------
    policy_dir: Path = Field(
        default=_REPO_ROOT / "policies",
        description="policy packs",
        json_schema_extra=_shown("`policies/`"),
    )
    default_policy: str = Field(default="default", description="the policy pack for tenants without one")

    # --- signing (C2PA certificate chain and key; watermark key; provider) --------------------
    signing_cert: Path | None = Field(
        default=None,
        description="PEM chain (leaf first) for C2PA, with `ASSAY_SIGNING_KEY`; see "
        "[docs/provenance.md](docs/provenance.md) for using a real certificate (required in production)",
        json_schema_extra=_shown("generated dev CA"),
    )
    signing_key: Path | None = Field(
        default=None,
        description="PKCS#8 PEM private key of the chain's leaf (required in production)",
        json_schema_extra=_shown("generated dev CA"),
    )
    signing_timeout_s: float = Field(
        default=30.0,
        gt=0,
        description="longest wait for one C2PA signature (an HSM/KMS); then nothing is released",
    )
    trust_anchors: Path | None = Field(default=None, description="PEM bundle of CAs that `verify` trusts")
    watermark_key_file: Path | None = Field(
        default=None,
        description="the operator's secret watermark key, one a line: the first marks, `verify` reads them "
        "all (keep the old key below a new one when rotating). Generated (mode 0600) on the first "
        "development start; must exist in production, and be the same file on every replica; see "
        "[docs/provenance.md](docs/provenance.md)",
        json_schema_extra=_shown(f"`$ASSAY_DATA_DIR/keys/{WATERMARK_KEY_FILE}`"),
    )
    released_features: bool = Field(
        default=True,
        description="record each released image's local features (ORB keypoints, ~50 kB in the "
        "database) so that `verify` finds a cropped, captioned or mirrored copy whose watermark and "
        "metadata are gone; costs ~10 ms per released image",
    )
    provider_name: str = Field(
        default="Assay", description="the provider named in labels (GB 45438 ContentProducer, SB 942)"
    )
    provider_code: str | None = Field(
        default=None, description="the TC260 provider code, where the operator has one (used in labels)"
    )

    # --- HTTP --------------------------------------------------------------------------------
    host: str = Field(default="127.0.0.1", description="bind address")
    port: int = Field(default=8000, ge=1, le=65535, description="bind port")
    public_base_url: str | None = Field(
        default=None,
        description="base of `response_format=url` links",
        json_schema_extra=_shown("request URL"),
    )
    max_body_bytes: int = Field(
        default=25 * 1024 * 1024,
        ge=1024,
        description="request body limit (413 above it)",
        json_schema_extra=_shown("25 MiB"),
    )
    public_verify: bool = Field(
        default=False,
        description="serve an unauthenticated detection endpoint that reveals only provider, system, "
        "time and id",
    )
    dev_api_key_file: bool = Field(
        default=True, description="in development, create and print a first admin key on `assay serve`"
    )
    metrics_multiproc_dir: Path | None = Field(
        default=None,
        validation_alias="PROMETHEUS_MULTIPROC_DIR",
        description="prometheus_client's multiprocess folder; `assay serve --workers N` sets it so that "
        "`/metrics` sums every worker",
    )

    # --- limits per API key, shared by replicas through the database (0 = off) ---------------
    rate_limit_per_minute: int = Field(
        default=600,
        ge=0,
        description="every authenticated call per API key; burst = 1 minute's worth; `0` = off",
    )
    quota_per_day: int = Field(
        default=0, ge=0, description="generation and edit requests per API key, rolling day; `0` = off"
    )
    public_verify_per_minute: int = Field(
        default=30,
        ge=0,
        description="unauthenticated verify calls per client address (IPv6: per /64), shared by replicas; "
        "`0` = off. Behind a load balancer set uvicorn's `FORWARDED_ALLOW_IPS` to its address so the "
        "client's comes from `X-Forwarded-For`",
    )

    # --- review queue --------------------------------------------------------------------------
    complaints_respond_within_hours: float = Field(
        default=72.0,
        gt=0,
        le=24 * 365,
        description="due time of a public complaint (`POST /v1/reports`) and of an appeal, hours after "
        "it arrives; a policy's `complaints.respond_within_hours` overrides it for its tenants",
    )
    public_reports_per_minute: int = Field(
        default=10,
        ge=0,
        description="unauthenticated complaints (`POST /v1/reports`) per client address (IPv6: per /64), "
        "shared by replicas; `0` = off",
    )
    review_lease_s: float = Field(
        default=600.0, gt=0, description="how long a reviewer's claim holds an item, seconds"
    )
    review_webhook_url: str | None = Field(
        default=None, description="decision webhook for tenants that set none of their own"
    )
    review_webhook_secret: SecretStr | None = Field(
        default=None, description="HMAC key of `ASSAY_REVIEW_WEBHOOK_URL`"
    )
    reviewer_key: SecretStr | None = Field(
        default=None, description="the reviewer or admin API key of `assay review` when `--key` is not given"
    )
    webhook_secret: SecretStr | None = Field(
        default=None,
        description="the HMAC key `assay review webhook` sets when `--secret` is not given (keeps it out "
        "of shell history)",
    )

    # --- ledger --------------------------------------------------------------------------------
    ledger_checkpoint_interval_s: float = Field(
        default=60.0,
        gt=0,
        description="how often the elected replica signs a checkpoint while the log grows (any replica "
        "signs on demand)",
    )
    ledger_witnesses: str | None = Field(
        default=None,
        description="witnesses asked to cosign each checkpoint (C2SP tlog-witness): `<witness vkey> "
        "<submission URL>` entries, comma- or newline-separated; see "
        "[docs/ledger-tiles.md](docs/ledger-tiles.md)",
    )
    ledger_witness_quorum: int | None = Field(
        default=None,
        ge=1,
        description="cosignatures a checkpoint needs before `/log/checkpoint` serves it as published",
        json_schema_extra=_shown("every witness"),
    )
    ledger_public_entries: bool = Field(
        default=False,
        description="serve the entry bundles (`/log/tile/entries/...`: every tenant's leaves) without "
        "an admin key",
    )

    @field_validator("data_dir", mode="after")
    @classmethod
    def _abs(cls, v: Path) -> Path:
        return v.expanduser().resolve()

    @model_validator(mode="after")
    def _production_rules(self) -> Settings:
        problems = self.production_problems()
        if problems:
            raise ConfigError(
                "ASSAY_ENV=production refuses these settings:\n" + "\n".join(f"  - {p}" for p in problems),
                param=problems[0].variable if len(problems) == 1 else None,
                hint="set each variable named above, or ASSAY_ENV=development on a developer's machine",
                details={"variables": [p.variable for p in problems]},
            )
        return self

    def production_problems(self) -> list[ProductionProblem]:
        """What ``ASSAY_ENV=production`` refuses in these settings (empty in development)."""
        if not self.is_production:
            return []
        out: list[ProductionProblem] = []
        if not self.database_url:
            out.append(
                ProductionProblem(
                    "ASSAY_DATABASE_URL",
                    "not set (the default is a SQLite file in the data dir)",
                    "set it to the shared database, e.g. postgresql://user@host/db",
                )
            )
        for var, value in (
            ("ASSAY_SIGNING_CERT", self.signing_cert),
            ("ASSAY_SIGNING_KEY", self.signing_key),
        ):
            if value is None:
                out.append(
                    ProductionProblem(
                        var,
                        "not set (development signs with a generated certificate)",
                        "set ASSAY_SIGNING_CERT (PEM chain, leaf first) and ASSAY_SIGNING_KEY (PKCS#8 PEM) "
                        "to the operator's C2PA claim-signing certificate and key",
                    )
                )
        if self.signing_cert is not None and self.signing_cert.name == DEV_SIGNING_CHAIN_FILE:
            out.append(
                ProductionProblem(
                    "ASSAY_SIGNING_CERT",
                    f"{self.signing_cert} is the generated development certificate",
                    "use the operator's own claim-signing certificate",
                )
            )
        if self.requires_key_files:
            if not self.watermark_key_path.is_file():
                out.append(
                    ProductionProblem(
                        "ASSAY_WATERMARK_KEY_FILE",
                        f"no watermark key file at {self.watermark_key_path}",
                        "create one (python -c 'import secrets; print(secrets.token_hex(32))' > FILE; "
                        "chmod 600 FILE), share it with every replica and point "
                        "ASSAY_WATERMARK_KEY_FILE at it",
                    )
                )
            if not self.checkpoint_key_path.is_file():
                out.append(
                    ProductionProblem(
                        "ASSAY_DATA_DIR",
                        f"no ledger checkpoint key at {self.checkpoint_key_path}",
                        "create it with `assay audit keygen` (same ASSAY_DATA_DIR) and keep a copy of the "
                        ".vkey for auditors",
                    )
                )
        return out

    @property
    def db_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{self.data_dir / 'assay.db'}"

    @property
    def blob_dir(self) -> Path:
        return self.data_dir / "blobs"

    @property
    def keys_dir(self) -> Path:
        return self.data_dir / "keys"

    @property
    def models_dir(self) -> Path:
        return self.data_dir / "models"

    @property
    def index_dir(self) -> Path:
        return self.data_dir / "indexes"

    @property
    def watermark_key_path(self) -> Path:
        """ASSAY_WATERMARK_KEY_FILE, or the key file in the keys dir."""
        return (
            Path(self.watermark_key_file) if self.watermark_key_file else self.keys_dir / WATERMARK_KEY_FILE
        )

    @property
    def checkpoint_key_path(self) -> Path:
        return self.keys_dir / CHECKPOINT_KEY_FILE

    @property
    def is_production(self) -> bool:
        return self.env == "production"

    def ensure_dirs(self) -> None:
        for d in (self.data_dir, self.blob_dir, self.keys_dir, self.models_dir, self.index_dir):
            d.mkdir(parents=True, exist_ok=True)
        try:
            os.chmod(self.keys_dir, 0o700)
        except OSError:  # pragma: no cover
            pass


class KeySetupSettings(Settings):
    """Settings for the command that creates a production key (``assay audit keygen``): every
    production rule holds except that the key files may not exist yet."""

    requires_key_files: ClassVar[bool] = False


# --- the README's configuration table ---------------------------------------------------------------
def env_name(name: str, field: FieldInfo) -> str:
    """The environment variable of a field: its alias, or ``ASSAY_`` + the name in capitals."""
    alias = field.validation_alias
    return alias if isinstance(alias, str) else f"{ENV_PREFIX}{name.upper()}"


def _default_text(field: FieldInfo) -> str:
    extra = field.json_schema_extra
    if isinstance(extra, dict) and isinstance(extra.get("shown_default"), str):
        return str(extra["shown_default"])
    value = field.get_default(call_default_factory=True)
    if value is None:
        return ""
    if isinstance(value, bool):
        return f"`{str(value).lower()}`"
    if isinstance(value, float) and value.is_integer():
        return f"`{int(value)}`"
    return f"`{value}`"


def settings_table() -> str:
    """The README's configuration table, one row per field of :class:`Settings`, in field order."""
    rows = ["| variable | default | meaning |", "|---|---|---|"]
    for name, field in Settings.model_fields.items():
        if not field.description:
            raise ConfigError(f"Settings.{name} has no description", hint="give the field a description=")
        rows.append(f"| `{env_name(name, field)}` | {_default_text(field)} | {field.description} |")
    return "\n".join(rows) + "\n"


if __name__ == "__main__":  # pragma: no cover - `python -m core.settings` prints the README table
    print(settings_table(), end="")
