"""The development certificate and the server TLS context."""

from __future__ import annotations

import datetime as dt
import ipaddress
import ssl
import stat
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec

from telepractice.config import ConfigError
from telepractice.tls import ensure_dev_certificate, server_ssl_context


def _load(cert_path: Path) -> x509.Certificate:
    return x509.load_pem_x509_certificate(cert_path.read_bytes())


def _rewrite_expiry(cert_path: Path, key_path: Path, expires_in: dt.timedelta) -> None:
    """Re-sign the certificate with the same key so that it expires after expires_in."""
    key = serialization.load_pem_private_key(key_path.read_bytes(), password=None)
    assert isinstance(key, ec.EllipticCurvePrivateKey)
    old = _load(cert_path)
    now = dt.datetime.now(dt.UTC)
    builder = (
        x509.CertificateBuilder()
        .subject_name(old.subject)
        .issuer_name(old.issuer)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + expires_in)
    )
    for extension in old.extensions:
        builder = builder.add_extension(extension.value, extension.critical)
    cert_path.write_bytes(builder.sign(key, hashes.SHA256()).public_bytes(serialization.Encoding.PEM))


def test_dev_certificate_names_localhost_and_both_loopback_addresses(tmp_path: Path) -> None:
    cert_path, _ = ensure_dev_certificate(tmp_path / "tls")
    san = _load(cert_path).extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert san.get_values_for_type(x509.DNSName) == ["localhost"]
    assert set(san.get_values_for_type(x509.IPAddress)) == {
        ipaddress.ip_address("127.0.0.1"),
        ipaddress.ip_address("::1"),
    }


def test_dev_certificate_is_p256_ecdsa_valid_for_90_days(tmp_path: Path) -> None:
    cert_path, key_path = ensure_dev_certificate(tmp_path / "tls")
    cert = _load(cert_path)
    public_key = cert.public_key()
    assert isinstance(public_key, ec.EllipticCurvePublicKey)
    assert isinstance(public_key.curve, ec.SECP256R1)
    lifetime = cert.not_valid_after_utc - dt.datetime.now(dt.UTC)
    assert dt.timedelta(days=89) < lifetime <= dt.timedelta(days=90)
    key = serialization.load_pem_private_key(key_path.read_bytes(), password=None)
    assert key.public_key() == public_key


def test_key_file_is_private_to_the_owner(tmp_path: Path) -> None:
    tls_dir = tmp_path / "tls"
    _, key_path = ensure_dev_certificate(tls_dir)
    assert stat.S_IMODE(key_path.stat().st_mode) == 0o600
    assert stat.S_IMODE(tls_dir.stat().st_mode) == 0o700


def test_existing_directory_is_made_private(tmp_path: Path) -> None:
    tls_dir = tmp_path / "tls"
    tls_dir.mkdir(mode=0o755)
    ensure_dev_certificate(tls_dir)
    assert stat.S_IMODE(tls_dir.stat().st_mode) == 0o700


def test_valid_certificate_is_reused(tmp_path: Path) -> None:
    cert_path, key_path = ensure_dev_certificate(tmp_path / "tls")
    cert_before, key_before = cert_path.read_bytes(), key_path.read_bytes()
    assert ensure_dev_certificate(tmp_path / "tls") == (cert_path, key_path)
    assert cert_path.read_bytes() == cert_before
    assert key_path.read_bytes() == key_before


def test_certificate_expiring_within_a_week_is_replaced(tmp_path: Path) -> None:
    cert_path, key_path = ensure_dev_certificate(tmp_path / "tls")
    _rewrite_expiry(cert_path, key_path, dt.timedelta(days=6))
    old_serial = _load(cert_path).serial_number
    ensure_dev_certificate(tmp_path / "tls")
    cert = _load(cert_path)
    assert cert.serial_number != old_serial
    assert cert.not_valid_after_utc - dt.datetime.now(dt.UTC) > dt.timedelta(days=89)


def test_certificate_with_more_than_a_week_left_is_kept(tmp_path: Path) -> None:
    cert_path, key_path = ensure_dev_certificate(tmp_path / "tls")
    _rewrite_expiry(cert_path, key_path, dt.timedelta(days=8))
    kept = cert_path.read_bytes()
    ensure_dev_certificate(tmp_path / "tls")
    assert cert_path.read_bytes() == kept


@pytest.mark.parametrize("damaged", ["cert", "key"])
def test_unreadable_certificate_or_key_is_replaced(tmp_path: Path, damaged: str) -> None:
    cert_path, key_path = ensure_dev_certificate(tmp_path / "tls")
    (cert_path if damaged == "cert" else key_path).write_text("not PEM")
    ensure_dev_certificate(tmp_path / "tls")
    server_ssl_context(cert_path, key_path)


def test_key_that_does_not_belong_to_the_certificate_is_replaced(tmp_path: Path) -> None:
    cert_path, key_path = ensure_dev_certificate(tmp_path / "tls")
    _, other_key = ensure_dev_certificate(tmp_path / "other")
    key_path.write_bytes(other_key.read_bytes())
    ensure_dev_certificate(tmp_path / "tls")
    server_ssl_context(cert_path, key_path)


def test_server_context_accepts_tls_1_2_and_up(tmp_path: Path) -> None:
    context = server_ssl_context(*ensure_dev_certificate(tmp_path / "tls"))
    assert context.minimum_version == ssl.TLSVersion.TLSv1_2
    assert context.protocol == ssl.PROTOCOL_TLS_SERVER


@pytest.mark.parametrize("server_name", ["localhost", "127.0.0.1", "::1"])
def test_client_trusting_the_certificate_completes_a_handshake(tmp_path: Path, server_name: str) -> None:
    cert_path, key_path = ensure_dev_certificate(tmp_path / "tls")
    client_context = ssl.create_default_context(cafile=cert_path)
    server_in, server_out, client_in, client_out = (ssl.MemoryBIO() for _ in range(4))
    server = server_ssl_context(cert_path, key_path).wrap_bio(server_in, server_out, server_side=True)
    client = client_context.wrap_bio(client_in, client_out, server_hostname=server_name)
    for _ in range(10):
        for side in (client, server):
            try:
                side.do_handshake()
            except ssl.SSLWantReadError:
                pass
        server_in.write(client_out.read())
        client_in.write(server_out.read())
    assert client.version() in {"TLSv1.2", "TLSv1.3"}
    assert client.getpeercert() is not None


def test_missing_certificate_file_is_named(tmp_path: Path) -> None:
    _, key_path = ensure_dev_certificate(tmp_path / "tls")
    missing = tmp_path / "nowhere.pem"
    with pytest.raises(ConfigError, match="nowhere.pem"):
        server_ssl_context(missing, key_path)


def test_garbage_certificate_file_is_named(tmp_path: Path) -> None:
    _, key_path = ensure_dev_certificate(tmp_path / "tls")
    garbage = tmp_path / "garbage-cert.pem"
    garbage.write_text("-----BEGIN CERTIFICATE-----\nnonsense\n-----END CERTIFICATE-----\n")
    with pytest.raises(ConfigError, match="garbage-cert.pem"):
        server_ssl_context(garbage, key_path)


def test_garbage_key_file_is_named(tmp_path: Path) -> None:
    cert_path, _ = ensure_dev_certificate(tmp_path / "tls")
    garbage = tmp_path / "garbage-key.pem"
    garbage.write_text("hello")
    with pytest.raises(ConfigError, match="garbage-key.pem"):
        server_ssl_context(cert_path, garbage)


def test_encrypted_key_file_is_refused_by_name(tmp_path: Path) -> None:
    cert_path, key_path = ensure_dev_certificate(tmp_path / "tls")
    key = serialization.load_pem_private_key(key_path.read_bytes(), password=None)
    locked = tmp_path / "locked-key.pem"
    locked.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.BestAvailableEncryption(b"secret"),
        )
    )
    with pytest.raises(ConfigError, match="locked-key.pem.*encrypted"):
        server_ssl_context(cert_path, locked)


def test_key_of_another_certificate_is_refused_naming_both_files(tmp_path: Path) -> None:
    cert_path, _ = ensure_dev_certificate(tmp_path / "tls")
    _, other_key = ensure_dev_certificate(tmp_path / "other")
    with pytest.raises(ConfigError) as caught:
        server_ssl_context(cert_path, other_key)
    assert str(cert_path) in str(caught.value)
    assert str(other_key) in str(caught.value)
