"""Signing credentials: checked at start-up with errors that name the file and the fix."""

from __future__ import annotations

import datetime as dt
import os

import pytest

from core.errors import ConfigError
from provenance.c2pa_sign.credentials import (
    DEV_CA_CERT,
    DEV_CHAIN,
    DEV_KEY,
    credentials_from_settings,
    ensure_dev_credentials,
    load_credentials,
)
from provenance.c2pa_sign.mark import build as build_c2pa


def test_first_run_in_development_generates_a_ca_and_leaf_once(make_settings):
    settings = make_settings()
    creds = credentials_from_settings(settings)
    keys = settings.keys_dir
    assert creds.development and creds.alg == "es256"
    assert {DEV_CA_CERT, DEV_CHAIN, DEV_KEY} <= {p.name for p in keys.iterdir()}
    assert (os.stat(keys / DEV_KEY).st_mode & 0o777) == 0o600
    before = (keys / DEV_CHAIN).read_bytes()
    again = credentials_from_settings(settings)
    assert (keys / DEV_CHAIN).read_bytes() == before and again.subject == creds.subject
    # a leaf close to expiry is re-issued from the same CA
    ensure_dev_credentials(keys, now=dt.datetime.now(dt.UTC) + dt.timedelta(days=85))
    assert (keys / DEV_CHAIN).read_bytes() != before
    assert (keys / DEV_CA_CERT).read_bytes() in (keys / DEV_CHAIN).read_bytes()


def test_the_c2pa_mark_builds_and_probes_with_the_development_certificate(make_settings):
    mark = build_c2pa(make_settings())
    assert mark.development is True


def test_production_refuses_a_missing_or_development_certificate(make_settings):
    with pytest.raises(ConfigError, match="production needs the operator's signing certificate"):
        credentials_from_settings(make_settings(env="production", start_up_rules=False))
    dev = make_settings()
    chain, key = ensure_dev_credentials(dev.keys_dir)
    with pytest.raises(ConfigError, match="development certificate"):
        credentials_from_settings(
            make_settings(env="production", signing_cert=chain, signing_key=key, start_up_rules=False)
        )


def test_an_operator_certificate_is_used_as_configured(make_settings, pki):
    pair = pki.valid("operator")
    creds = credentials_from_settings(
        make_settings(env="production", signing_cert=pair.chain, signing_key=pair.key, start_up_rules=False)
    )
    assert not creds.development and "operator" in creds.subject


@pytest.mark.parametrize(
    "case, match",
    [
        ("expired", "expired on"),
        ("not_yet_valid", "not valid before"),
        ("mismatched", "does not match the certificate"),
        ("wrong_order", "did not issue|is a CA|does not match"),
        ("ca_as_leaf", "is a CA certificate"),
    ],
)
def test_bad_credentials_are_refused_with_a_clear_error(pki, case, match):
    pair = getattr(pki, case)()
    with pytest.raises(ConfigError, match=match) as info:
        load_credentials(pair.chain, pair.key)
    assert info.value.param in ("ASSAY_SIGNING_CERT", "ASSAY_SIGNING_KEY")
    assert info.value.status == 500 and info.value.exit_code == 2


def test_missing_unreadable_and_half_configured_files(make_settings, pki, tmp_path):
    pair = pki.valid("files")
    with pytest.raises(ConfigError, match="signing certificate not found"):
        load_credentials(tmp_path / "nope.pem", pair.key)
    with pytest.raises(ConfigError, match="signing key not found"):
        load_credentials(pair.chain, tmp_path / "nope.key")
    junk = tmp_path / "junk.pem"
    junk.write_text("-----BEGIN CERTIFICATE-----\nnot base64\n-----END CERTIFICATE-----\n")
    with pytest.raises(ConfigError, match="no readable PEM certificate"):
        load_credentials(junk, pair.key)
    with pytest.raises(ConfigError, match="no readable PEM private key"):
        load_credentials(pair.chain, junk)
    with pytest.raises(ConfigError, match="ASSAY_SIGNING_KEY is not set"):
        credentials_from_settings(make_settings(signing_cert=pair.chain))


def test_the_mark_factory_refuses_to_start_with_bad_credentials(make_settings, pki):
    pair = pki.expired()
    with pytest.raises(ConfigError, match="expired"):
        build_c2pa(make_settings(signing_cert=pair.chain, signing_key=pair.key))
