"""One settings object for the whole process (environment variables with the ``ASSAY_`` prefix).

Every default is safe for a developer's machine and every one that would be unsafe in production
is refused or flagged: with ``ASSAY_ENV=production`` the gateway refuses a generated development
signing certificate and a missing database URL; in development it says so loudly in ``/readyz``.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

#: the built-in default model (see models/default); any other value is a folder, hub id or URL
BUILTIN_MODEL = "assay-default"

_REPO_ROOT = Path(__file__).resolve().parent.parent


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="ASSAY_", env_file=None, extra="ignore", frozen=False)

    env: Literal["development", "production"] = "development"
    data_dir: Path = Path(".assay")
    database_url: str | None = None  # default: sqlite:///<data_dir>/assay.db
    auto_migrate: bool = True  # run Alembic migrations at start-up

    # --- model -----------------------------------------------------------------------------
    model: str = BUILTIN_MODEL  # built-in, a local diffusers folder, a hub id, or an http(s) URL
    model_revision: str | None = None
    device: Literal["auto", "cpu", "cuda", "mps"] = "auto"
    dtype: Literal["auto", "float32", "float16", "bfloat16"] = "auto"
    default_steps: int | None = None
    remote_model: str | None = None  # model name sent to a remote OpenAI-compatible API
    remote_api_key: str | None = None
    backend_timeout_s: float = Field(default=120.0, gt=0)
    backend_retries: int = Field(default=2, ge=0, le=10)

    # --- policies & tenants ------------------------------------------------------------------
    policy_dir: Path = _REPO_ROOT / "policies"
    default_policy: str = "default"

    # --- signing (C2PA certificate chain and key; checkpoint key) ---------------------------
    signing_cert: Path | None = None  # PEM chain: leaf first
    signing_key: Path | None = None  # PEM PKCS#8 private key
    trust_anchors: Path | None = None  # PEM bundle of CA certificates trusted by `verify`
    watermark_key_file: Path | None = (
        None  # the operator's watermark key(s); default <data_dir>/keys/watermark.key
    )
    provider_name: str = "Assay"  # GB 45438 ContentProducer / SB 942 provider name
    provider_code: str | None = None  # TC260 provider code, where the operator has one

    # --- HTTP --------------------------------------------------------------------------------
    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=1, le=65535)
    public_base_url: str | None = None  # used for response_format=url
    max_body_bytes: int = Field(default=25 * 1024 * 1024, ge=1024)
    public_verify: bool = False  # serve an unauthenticated, minimal detection endpoint
    dev_api_key_file: bool = True  # in development, create and print a first admin key

    # --- limits per API key, shared by replicas through the database (0 = off) ---------------
    rate_limit_per_minute: int = Field(
        default=600, ge=0
    )  # every authenticated call; burst = 1 minute's worth
    quota_per_day: int = Field(default=0, ge=0)  # generation and edit requests per key, rolling day
    #: unauthenticated calls of the public verify endpoint per client address (IPv6: per /64)
    public_verify_per_minute: int = Field(default=30, ge=0)

    # --- review queue --------------------------------------------------------------------------
    review_lease_s: float = Field(default=600.0, gt=0)  # how long a reviewer's claim holds an item
    review_webhook_url: str | None = None  # decision webhook for tenants that set none of their own
    review_webhook_secret: SecretStr | None = None  # its HMAC key

    # --- ledger --------------------------------------------------------------------------------
    ledger_checkpoint_interval_s: float = Field(
        default=60.0, gt=0
    )  # scheduled checkpoints (one elected replica)

    @field_validator("data_dir", mode="after")
    @classmethod
    def _abs(cls, v: Path) -> Path:
        return v.expanduser().resolve()

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
    def is_production(self) -> bool:
        return self.env == "production"

    def ensure_dirs(self) -> None:
        for d in (self.data_dir, self.blob_dir, self.keys_dir, self.models_dir, self.index_dir):
            d.mkdir(parents=True, exist_ok=True)
        try:
            os.chmod(self.keys_dir, 0o700)
        except OSError:  # pragma: no cover
            pass


def get_settings() -> Settings:
    return Settings()
