"""How ``infra.client.connect`` secures its connection: none for the compose stack's own server, TLS for an API
key (Temporal Cloud), mTLS with a client certificate; a certificate without its key is refused at start-up."""

from pathlib import Path

import pytest
from pydantic import ValidationError
from temporalio.service import TLSConfig

from infra.client import tls_config
from schemas.settings import Settings


def _settings(**values: object) -> Settings:
    """Settings from these values alone: a developer's .env or RINGFLOW_TEMPORAL_* must not leak in."""
    plain = {
        "temporal_api_key": None,
        "temporal_tls": False,
        "temporal_tls_cert_path": None,
        "temporal_tls_key_path": None,
    }
    return Settings(_env_file=None, **{**plain, **values})


def test_a_self_hosted_server_gets_no_tls() -> None:
    assert tls_config(_settings()) is False


def test_an_api_key_implies_tls() -> None:
    assert tls_config(_settings(temporal_api_key="key")) is True


def test_tls_can_be_asked_for_without_credentials() -> None:
    assert tls_config(_settings(temporal_tls=True)) is True


def test_a_client_certificate_and_key_make_mtls(tmp_path: Path) -> None:
    cert, key = tmp_path / "client.pem", tmp_path / "client.key"
    cert.write_bytes(b"-----BEGIN CERTIFICATE-----\ncert\n")
    key.write_bytes(b"-----BEGIN PRIVATE KEY-----\nkey\n")

    config = tls_config(_settings(temporal_tls_cert_path=cert, temporal_tls_key_path=key))

    assert isinstance(config, TLSConfig)
    assert config.client_cert == cert.read_bytes()
    assert config.client_private_key == key.read_bytes()


@pytest.mark.parametrize("only", ["temporal_tls_cert_path", "temporal_tls_key_path"])
def test_half_a_certificate_pair_is_a_settings_error(only: str, tmp_path: Path) -> None:
    with pytest.raises(ValidationError, match="RINGFLOW_TEMPORAL_TLS_CERT_PATH and RINGFLOW_TEMPORAL_TLS_KEY_PATH"):
        _settings(**{only: tmp_path / "file.pem"})
