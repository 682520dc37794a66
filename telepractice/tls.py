"""The development certificate for localhost and the server's TLS context."""

from __future__ import annotations

import datetime as dt
import ipaddress
import os
import ssl
import tempfile
from pathlib import Path

from cryptography import x509
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from telepractice.config import ConfigError

CERT_NAME = "localhost-cert.pem"
KEY_NAME = "localhost-key.pem"
VALID_FOR = dt.timedelta(days=90)
RENEW_BEFORE = dt.timedelta(days=7)
# Browsers insist on a subjectAltName; these are every way a developer reaches the server.
DNS_NAMES = ("localhost",)
IP_ADDRESSES = (ipaddress.ip_address("127.0.0.1"), ipaddress.ip_address("::1"))


def ensure_dev_certificate(tls_dir: Path) -> tuple[Path, Path]:
    """The (certificate, key) paths in tls_dir, made anew when missing, unreadable or about to expire."""
    tls_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    tls_dir.chmod(0o700)
    cert_path, key_path = tls_dir / CERT_NAME, tls_dir / KEY_NAME
    if not _reusable(cert_path, key_path):
        key, cert = _make_certificate()
        _write_private(
            key_path,
            key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            ),
        )
        _write_private(cert_path, cert.public_bytes(serialization.Encoding.PEM))
    return cert_path, key_path


def server_ssl_context(cert: Path, key: Path) -> ssl.SSLContext:
    """A server-side TLS 1.2+ context; ConfigError names the file that cannot be used."""
    _check_certificate_file(cert)
    _check_key_file(key)
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    try:
        context.load_cert_chain(cert, key)
    except (OSError, ssl.SSLError) as error:
        raise ConfigError(f"{cert}: does not match the private key in {key} ({error})") from None
    return context


def _make_certificate() -> tuple[ec.EllipticCurvePrivateKey, x509.Certificate]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name(
        [
            x509.NameAttribute(NameOID.COMMON_NAME, "localhost"),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "telepractice development"),
        ]
    )
    now = dt.datetime.now(dt.UTC)
    alt_names: list[x509.GeneralName] = [x509.DNSName(n) for n in DNS_NAMES]
    alt_names += [x509.IPAddress(ip) for ip in IP_ADDRESSES]
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        # A few minutes back so a client whose clock lags slightly still accepts it.
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + VALID_FOR)
        .add_extension(x509.SubjectAlternativeName(alt_names), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=False,
                crl_sign=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .sign(key, hashes.SHA256())
    )
    return key, cert


def _reusable(cert_path: Path, key_path: Path) -> bool:
    try:
        cert = x509.load_pem_x509_certificate(cert_path.read_bytes())
        key = serialization.load_pem_private_key(key_path.read_bytes(), password=None)
    except (OSError, ValueError, TypeError, UnsupportedAlgorithm):
        return False
    if cert.public_key() != key.public_key():
        return False
    return cert.not_valid_after_utc - dt.datetime.now(dt.UTC) > RENEW_BEFORE


def _write_private(path: Path, data: bytes) -> None:
    # Written beside the target then renamed, so a crash never leaves half a key behind;
    # mkstemp creates the file 0600 before any byte is written.
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(handle, "wb") as file:
            file.write(data)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def _check_certificate_file(cert: Path) -> None:
    try:
        data = cert.read_bytes()
    except OSError as error:
        raise ConfigError(f"{cert}: cannot read the TLS certificate ({error.strerror})") from None
    try:
        x509.load_pem_x509_certificates(data)
    except ValueError:
        raise ConfigError(f"{cert}: not a PEM certificate") from None


def _check_key_file(key: Path) -> None:
    try:
        data = key.read_bytes()
    except OSError as error:
        raise ConfigError(f"{key}: cannot read the TLS private key ({error.strerror})") from None
    try:
        serialization.load_pem_private_key(data, password=None)
    except TypeError:
        raise ConfigError(f"{key}: the TLS private key is encrypted; give an unencrypted key") from None
    except (ValueError, UnsupportedAlgorithm):
        raise ConfigError(f"{key}: not a PEM private key") from None
