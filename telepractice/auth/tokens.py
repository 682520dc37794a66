"""Signed tokens (JWT, EdDSA only): staff access tokens now, family join tokens later.

Each audience names what a token opens, so a token for one door never opens
another. Every rejection is a NotAuthenticated whose detail says why in one
sentence and never repeats what the token held.
"""

from __future__ import annotations

import datetime as dt
import secrets
from collections.abc import Mapping
from typing import Any

import jwt

from telepractice.auth.signing_keys import ALGORITHM, SigningKeyring
from telepractice.errors import NotAuthenticated

REQUIRED_CLAIMS = ("exp", "iat", "nbf", "iss", "aud", "sub", "jti")
# Set by issue_token itself; callers may choose only the jti (e.g. an invite's id).
_RESERVED_CLAIMS = frozenset({"exp", "iat", "nbf", "iss", "aud", "sub"})
# Ours are a few hundred bytes; anything far larger is not worth parsing.
MAX_TOKEN_LENGTH = 4096


def issue_token(
    keyring: SigningKeyring,
    *,
    issuer: str,
    audience: str,
    subject: str,
    ttl: dt.timedelta,
    claims: Mapping[str, Any] | None = None,
) -> str:
    """A token signed by the current key, valid from now for ttl; jti is random unless claims give one."""
    reserved = _RESERVED_CLAIMS.intersection(claims or {})
    if reserved:
        raise ValueError(f"claims may not set {', '.join(sorted(reserved))}; issue_token sets them")
    if ttl <= dt.timedelta(0):
        raise ValueError("a token's ttl must be positive")
    now = dt.datetime.now(dt.UTC).replace(microsecond=0)
    payload: dict[str, Any] = {"jti": secrets.token_urlsafe(16), **(claims or {})}
    payload.update(iss=issuer, aud=audience, sub=subject, iat=now, nbf=now, exp=now + ttl)
    key = keyring.current
    return jwt.encode(payload, key.private_key, algorithm=ALGORITHM, headers={"kid": key.kid, "typ": "JWT"})


def _header(token: str) -> dict[str, Any]:
    if not isinstance(token, str) or not token or len(token) > MAX_TOKEN_LENGTH:
        raise NotAuthenticated("The token is empty or too long to be one of ours.")
    try:
        return jwt.get_unverified_header(token)
    except jwt.PyJWTError:
        raise NotAuthenticated("The token is not a well-formed JWT.") from None


_REASONS: tuple[tuple[type[jwt.PyJWTError], str], ...] = (
    (jwt.ExpiredSignatureError, "The token has expired."),
    (jwt.ImmatureSignatureError, "The token is not valid yet."),
    (jwt.InvalidAudienceError, "The token is meant for another audience."),
    (jwt.InvalidIssuerError, "The token was issued by another issuer."),
    (jwt.InvalidSignatureError, "The token's signature does not verify."),
    (jwt.InvalidIssuedAtError, "The token's issue time is not a valid time."),
    (jwt.exceptions.InvalidSubjectError, "The token's subject is not a string."),
    (jwt.exceptions.InvalidJTIError, "The token's id is not a string."),
    (jwt.InvalidAlgorithmError, "The token is not signed with the one accepted algorithm, EdDSA."),
)


def _reason(error: jwt.PyJWTError) -> str:
    if isinstance(error, jwt.MissingRequiredClaimError):
        return f"The token lacks the required '{error.claim}' claim."
    for kind, reason in _REASONS:
        if isinstance(error, kind):
            return reason
    return "The token is not a well-formed JWT."


def verify_token(
    keyring: SigningKeyring, token: str, *, issuer: str, audience: str, leeway_seconds: int = 5
) -> dict[str, Any]:
    """The token's claims if it is ours, for this audience, and valid now; NotAuthenticated otherwise."""
    header = _header(token)
    # Checked before the signature so that a token naming another algorithm never reaches a key.
    if header.get("alg") != ALGORITHM:
        raise NotAuthenticated("The token is not signed with the one accepted algorithm, EdDSA.")
    kid = header.get("kid")
    if not isinstance(kid, str) or not kid:
        raise NotAuthenticated("The token does not name its signing key.")
    public_key = keyring.verification_key(kid)
    if public_key is None:
        raise NotAuthenticated("The token was signed by a key this server does not know or has retired.")
    try:
        return jwt.decode(
            token,
            public_key,
            algorithms=[ALGORITHM],
            audience=audience,
            issuer=issuer,
            leeway=leeway_seconds,
            options={"require": list(REQUIRED_CLAIMS), "strict_aud": True},
        )
    except jwt.PyJWTError as error:
        raise NotAuthenticated(_reason(error)) from None
