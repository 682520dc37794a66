"""Signed tokens and their keys: every forged, stale or misdirected token is refused, saying why."""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
import json
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from telepractice.auth.signing_keys import SIGNING_KEYS_FILE, SigningKeyring
from telepractice.auth.tokens import REQUIRED_CLAIMS, issue_token, verify_token
from telepractice.config import Settings, load_settings
from telepractice.crypto.keyring import KeyringError
from telepractice.errors import NotAuthenticated

ISSUER = "telepractice-test"
AUDIENCE = "telepractice:staff"


class Clock:
    """A clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = dt.datetime.now(dt.UTC)

    def __call__(self) -> dt.datetime:
        return self.now


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return load_settings({}, {"data_dir": str(tmp_path), "issuer": ISSUER})


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def keyring(settings: Settings, clock: Clock) -> SigningKeyring:
    return SigningKeyring(settings.key_directory, settings, clock=clock)


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def forge(header: dict[str, Any], payload: dict[str, Any], sign: Callable[[bytes], bytes]) -> str:
    """A JWT put together by hand, the way an attacker would."""
    signing_input = f"{_b64(json.dumps(header).encode())}.{_b64(json.dumps(payload).encode())}"
    return f"{signing_input}.{_b64(sign(signing_input.encode()))}"


def claims(**changes: Any) -> dict[str, Any]:
    now = int(time.time())
    payload = {"iss": ISSUER, "aud": AUDIENCE, "sub": "staff-1", "iat": now, "nbf": now, "exp": now + 300,
               "jti": "token-1", "role": "admin", "sid": "login-1"}
    payload.update(changes)
    return {key: value for key, value in payload.items() if value is not None}


def signed(keyring: SigningKeyring, payload: dict[str, Any], **headers: Any) -> str:
    key = keyring.current
    return jwt.encode(payload, key.private_key, algorithm="EdDSA", headers={"kid": key.kid, **headers})


def refusal(keyring: SigningKeyring, token: str, audience: str = AUDIENCE) -> str:
    with pytest.raises(NotAuthenticated) as caught:
        verify_token(keyring, token, issuer=ISSUER, audience=audience)
    detail = caught.value.detail
    assert detail.endswith(".") and ". " not in detail, f"not one sentence: {detail}"
    for part in token.split("."):
        assert len(part) < 8 or part not in detail
    return detail


def test_an_issued_token_verifies_with_its_claims(keyring: SigningKeyring) -> None:
    token = issue_token(keyring, issuer=ISSUER, audience=AUDIENCE, subject="staff-7",
                        ttl=dt.timedelta(minutes=5), claims={"role": "worker", "sid": "login-7"})
    header = jwt.get_unverified_header(token)
    assert header["alg"] == "EdDSA" and header["kid"] == keyring.current.kid
    verified = verify_token(keyring, token, issuer=ISSUER, audience=AUDIENCE)
    assert verified["sub"] == "staff-7" and verified["role"] == "worker" and verified["sid"] == "login-7"
    assert verified["iss"] == ISSUER and verified["aud"] == AUDIENCE
    assert verified["exp"] - verified["iat"] == 300 and verified["nbf"] == verified["iat"]
    assert set(REQUIRED_CLAIMS) <= set(verified)


def test_each_token_gets_its_own_id_unless_the_caller_names_one(keyring: SigningKeyring) -> None:
    def jti(**extra: Any) -> str:
        token = issue_token(keyring, issuer=ISSUER, audience=AUDIENCE, subject="s", ttl=dt.timedelta(minutes=1),
                            claims=extra)
        return str(verify_token(keyring, token, issuer=ISSUER, audience=AUDIENCE)["jti"])

    assert jti() != jti()
    assert jti(jti="invite-42") == "invite-42"


@pytest.mark.parametrize("claim", ["exp", "iat", "nbf", "iss", "aud", "sub"])
def test_callers_cannot_override_the_claims_issue_token_sets(keyring: SigningKeyring, claim: str) -> None:
    with pytest.raises(ValueError, match=claim):
        issue_token(keyring, issuer=ISSUER, audience=AUDIENCE, subject="s", ttl=dt.timedelta(minutes=1),
                    claims={claim: "x"})


def test_a_token_needs_a_positive_lifetime(keyring: SigningKeyring) -> None:
    with pytest.raises(ValueError, match="ttl"):
        issue_token(keyring, issuer=ISSUER, audience=AUDIENCE, subject="s", ttl=dt.timedelta(0))


def test_alg_none_is_refused(keyring: SigningKeyring) -> None:
    token = forge({"alg": "none", "typ": "JWT", "kid": keyring.current.kid}, claims(), lambda _: b"")
    assert "EdDSA" in refusal(keyring, token)
    assert "EdDSA" in refusal(keyring, token.rsplit(".", 1)[0] + ".")


def test_hs256_with_a_secret_is_refused(keyring: SigningKeyring) -> None:
    token = jwt.encode(claims(), os.urandom(32), algorithm="HS256", headers={"kid": keyring.current.kid})
    assert "EdDSA" in refusal(keyring, token)


@pytest.mark.parametrize("encoding", ["raw", "pem", "der"])
def test_hs256_signed_with_the_public_key_bytes_is_refused(keyring: SigningKeyring, encoding: str) -> None:
    public = keyring.current.public_key
    secret = {
        "raw": public.public_bytes_raw(),
        "pem": public.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo),
        "der": public.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo),
    }[encoding]
    token = forge({"alg": "HS256", "typ": "JWT", "kid": keyring.current.kid}, claims(),
                  lambda data: hmac.new(secret, data, hashlib.sha256).digest())
    assert "EdDSA" in refusal(keyring, token)


def test_a_token_without_kid_is_refused(keyring: SigningKeyring) -> None:
    token = jwt.encode(claims(), keyring.current.private_key, algorithm="EdDSA")
    assert "does not name its signing key" in refusal(keyring, token)


def test_a_token_signed_by_an_unknown_key_is_refused(keyring: SigningKeyring) -> None:
    token = jwt.encode(claims(), Ed25519PrivateKey.generate(), algorithm="EdDSA", headers={"kid": "sig-forged"})
    assert "does not know" in refusal(keyring, token)


def test_a_token_signed_by_another_key_under_our_kid_is_refused(keyring: SigningKeyring) -> None:
    token = jwt.encode(claims(), Ed25519PrivateKey.generate(), algorithm="EdDSA",
                       headers={"kid": keyring.current.kid})
    assert "signature does not verify" in refusal(keyring, token)


def test_a_changed_payload_breaks_the_signature(keyring: SigningKeyring) -> None:
    header, _payload, signature = signed(keyring, claims(role="worker")).split(".")
    tampered = f"{header}.{_b64(json.dumps(claims(role='admin')).encode())}.{signature}"
    assert "signature does not verify" in refusal(keyring, tampered)


def test_a_token_for_another_audience_is_refused(keyring: SigningKeyring) -> None:
    join_token = signed(keyring, claims(aud="telepractice:join"))
    assert "another audience" in refusal(keyring, join_token)
    assert "another audience" in refusal(keyring, signed(keyring, claims(aud=[AUDIENCE, "other"])))


def test_a_token_from_another_issuer_is_refused(keyring: SigningKeyring) -> None:
    assert "another issuer" in refusal(keyring, signed(keyring, claims(iss="someone-else")))


def test_an_expired_token_is_refused(keyring: SigningKeyring) -> None:
    now = int(time.time())
    assert "expired" in refusal(keyring, signed(keyring, claims(iat=now - 400, nbf=now - 400, exp=now - 60)))


def test_a_token_not_yet_valid_is_refused(keyring: SigningKeyring) -> None:
    now = int(time.time())
    assert "not valid yet" in refusal(keyring, signed(keyring, claims(nbf=now + 60, exp=now + 600)))


def test_a_few_seconds_of_clock_skew_are_forgiven(keyring: SigningKeyring) -> None:
    now = int(time.time())
    for token in (signed(keyring, claims(exp=now - 2)), signed(keyring, claims(nbf=now + 2, iat=now + 2))):
        assert verify_token(keyring, token, issuer=ISSUER, audience=AUDIENCE)["sub"] == "staff-1"


@pytest.mark.parametrize("claim", REQUIRED_CLAIMS)
def test_a_token_missing_a_required_claim_is_refused(keyring: SigningKeyring, claim: str) -> None:
    assert f"'{claim}'" in refusal(keyring, signed(keyring, claims(**{claim: None})))


@pytest.mark.parametrize(
    "garbage",
    ["", "not a token", "a.b.c", "....", "eyJhbGciOiJFZERTQSJ9.e30", "eyJ%%%.eyJ.sig", "x" * 5000,
     _b64(b'{"alg":"EdDSA"}') + "." + _b64(b"not json") + ".c2ln"],
)
def test_garbage_is_refused(keyring: SigningKeyring, garbage: str) -> None:
    refusal(keyring, garbage)


def test_the_key_file_is_private_and_reused(settings: Settings, keyring: SigningKeyring) -> None:
    path = settings.key_directory / SIGNING_KEYS_FILE
    assert path.stat().st_mode & 0o777 == 0o600
    again = SigningKeyring(settings.key_directory, settings)
    assert again.current.kid == keyring.current.kid


def test_a_key_file_others_can_read_is_refused(settings: Settings, keyring: SigningKeyring) -> None:
    (settings.key_directory / SIGNING_KEYS_FILE).chmod(0o644)
    with pytest.raises(KeyringError, match="chmod 600"):
        SigningKeyring(settings.key_directory, settings)


def test_a_rotated_out_key_verifies_for_the_grace_period_then_is_dropped(
    keyring: SigningKeyring, clock: Clock, settings: Settings
) -> None:
    old_kid = keyring.current.kid
    old_token = issue_token(keyring, issuer=ISSUER, audience=AUDIENCE, subject="s", ttl=dt.timedelta(hours=1))
    new_kid = keyring.rotate()
    assert new_kid != old_kid and keyring.current.kid == new_kid
    assert jwt.get_unverified_header(
        issue_token(keyring, issuer=ISSUER, audience=AUDIENCE, subject="s", ttl=dt.timedelta(minutes=1))
    )["kid"] == new_kid
    assert keyring.grace == dt.timedelta(minutes=2 * settings.access_token_minutes)

    clock.now += keyring.grace - dt.timedelta(seconds=1)
    assert verify_token(keyring, old_token, issuer=ISSUER, audience=AUDIENCE)["sub"] == "s"
    clock.now += dt.timedelta(seconds=2)
    assert "retired" in refusal(keyring, old_token)

    keyring.rotate()
    assert old_kid not in keyring.key_ids and new_kid in keyring.key_ids


def test_a_rotation_within_the_same_modification_time_is_picked_up(
    settings: Settings, keyring: SigningKeyring
) -> None:
    # A coarse file-system clock can give the rotated file the old one's mtime: the replaced file is still seen.
    path = settings.key_directory / SIGNING_KEYS_FILE
    before = path.stat().st_mtime_ns
    new_kid = SigningKeyring(settings.key_directory, settings).rotate()
    os.utime(path, ns=(before, before))
    assert keyring.current.kid == new_kid


def test_a_rotation_by_another_process_is_picked_up(settings: Settings, keyring: SigningKeyring) -> None:
    other_process = SigningKeyring(settings.key_directory, settings)
    path = settings.key_directory / SIGNING_KEYS_FILE
    before = path.stat().st_mtime_ns
    new_kid = other_process.rotate()
    # Guard against a coarse file-system clock: make sure the modification time moved.
    os.utime(path, ns=(before + 1_000_000, before + 1_000_000))
    assert keyring.current.kid == new_kid
    token = issue_token(other_process, issuer=ISSUER, audience=AUDIENCE, subject="s", ttl=dt.timedelta(minutes=1))
    assert verify_token(keyring, token, issuer=ISSUER, audience=AUDIENCE)["sub"] == "s"
