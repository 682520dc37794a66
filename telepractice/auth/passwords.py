"""Staff passwords: argon2id hashes, the length rule, and verification that costs the same for everyone."""

from __future__ import annotations

import functools

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from telepractice.errors import InvalidField

MIN_PASSWORD_LENGTH = 12
# argon2 hashes any length, but a megabyte-long "password" is a denial-of-service attempt.
MAX_PASSWORD_LENGTH = 1024

# argon2-cffi's defaults are RFC 9106's low-memory profile (argon2id, t=3, m=64 MiB, p=4);
# when a release raises them, stored hashes are upgraded at the next login.
HASHER = PasswordHasher()


class WeakPassword(InvalidField):
    """The password breaks the length rule."""

    title = "The password is too short or too long."


def check_password_rule(password: str, field: str = "password") -> None:
    """WeakPassword unless the password has 12 to 1024 characters."""
    if not MIN_PASSWORD_LENGTH <= len(password) <= MAX_PASSWORD_LENGTH:
        raise WeakPassword(
            f"The password must have {MIN_PASSWORD_LENGTH} to {MAX_PASSWORD_LENGTH} characters.", field=field
        )


def hash_password(password: str) -> str:
    """An argon2id hash of a password that keeps the length rule."""
    check_password_rule(password)
    return HASHER.hash(password)


@functools.cache
def _decoy_hash() -> str:
    # Made with the same parameters as real hashes, so checking against it takes as long.
    return HASHER.hash("no account has this password, it only burns the same time")


def verify_password(stored_hash: str | None, password: str) -> bool:
    """Whether password matches; with no stored hash (unknown user) it still does one full verification."""
    try:
        matched = HASHER.verify(stored_hash or _decoy_hash(), password)
    except (VerificationError, InvalidHashError):
        return False
    return matched and stored_hash is not None


def needs_rehash(stored_hash: str) -> bool:
    """Whether the hash was made with other parameters than the current ones."""
    try:
        return HASHER.check_needs_rehash(stored_hash)
    except InvalidHashError:
        return True
