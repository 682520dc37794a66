"""Staff passwords: argon2id, the length rule, decoy verification for unknown users, rehashing."""

from __future__ import annotations

import argon2
import pytest

from telepractice.auth import passwords
from telepractice.auth.passwords import (
    HASHER,
    MAX_PASSWORD_LENGTH,
    MIN_PASSWORD_LENGTH,
    WeakPassword,
    check_password_rule,
    hash_password,
    needs_rehash,
    verify_password,
)
from telepractice.errors import InvalidField

PASSWORD = "correct horse battery"


@pytest.fixture(scope="module")
def stored() -> str:
    return hash_password(PASSWORD)


def test_hashes_are_argon2id_with_the_current_parameters(stored: str) -> None:
    assert stored.startswith("$argon2id$")
    parameters = argon2.extract_parameters(stored)
    assert parameters.type is argon2.Type.ID
    assert (parameters.time_cost, parameters.memory_cost) == (HASHER.time_cost, HASHER.memory_cost)
    assert PASSWORD not in stored


def test_the_same_password_hashes_differently_each_time(stored: str) -> None:
    assert hash_password(PASSWORD) != stored


def test_the_right_password_verifies_and_others_do_not(stored: str) -> None:
    assert verify_password(stored, PASSWORD)
    assert not verify_password(stored, PASSWORD + " ")
    assert not verify_password(stored, "")


@pytest.mark.parametrize("length", [0, 1, MIN_PASSWORD_LENGTH - 1, MAX_PASSWORD_LENGTH + 1])
def test_passwords_outside_the_length_rule_are_refused(length: int) -> None:
    with pytest.raises(WeakPassword, match="12 to 1024 characters") as caught:
        hash_password("p" * length)
    assert isinstance(caught.value, InvalidField) and caught.value.status == 422
    assert caught.value.extra == {"field": "password"}


@pytest.mark.parametrize("length", [MIN_PASSWORD_LENGTH, MAX_PASSWORD_LENGTH])
def test_passwords_at_the_limits_are_accepted(length: int) -> None:
    check_password_rule("p" * length)


def test_an_unknown_user_is_verified_against_a_decoy_of_the_same_cost() -> None:
    """No hash to check against must cost one full verification, so timing reveals nobody."""
    decoy = argon2.extract_parameters(passwords._decoy_hash())
    real = argon2.extract_parameters(hash_password(PASSWORD))
    assert decoy == real
    assert not verify_password(None, PASSWORD)
    assert not verify_password(None, "no account has this password, it only burns the same time")


def test_a_damaged_stored_hash_never_verifies() -> None:
    assert not verify_password("$argon2id$not-a-hash", PASSWORD)
    assert not verify_password("plain text", PASSWORD)


def test_hashes_made_with_weaker_parameters_need_rehashing(stored: str) -> None:
    weak = argon2.PasswordHasher(time_cost=1, memory_cost=8192, parallelism=1).hash(PASSWORD)
    assert needs_rehash(weak)
    assert verify_password(weak, PASSWORD)
    assert not needs_rehash(stored)
    assert needs_rehash("not a hash")
