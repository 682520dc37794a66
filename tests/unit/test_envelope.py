"""Envelope encryption: sealing, the associated data that pins a field to its place, the keyring."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from telepractice.crypto.case_keys import CaseCipher
from telepractice.crypto.envelope import DecryptionFailed, field_context, new_key, seal, unseal
from telepractice.crypto.keyring import Keyring, KeyringError


def test_sealed_text_opens_with_the_same_key_and_context() -> None:
    key = new_key()
    blob = seal(key, b"Ana", b"ctx")
    assert b"Ana" not in blob
    assert unseal(key, blob, b"ctx") == b"Ana"


def test_sealing_twice_gives_different_ciphertexts() -> None:
    key = new_key()
    assert seal(key, b"Ana", b"ctx") != seal(key, b"Ana", b"ctx")


@pytest.mark.parametrize(
    "context",
    [
        field_context("family_participants", "contact", "row-1", "case-1"),
        field_context("family_participants", "display_name", "row-2", "case-1"),
        field_context("family_participants", "display_name", "row-1", "case-2"),
        field_context("case_notes", "display_name", "row-1", "case-1"),
    ],
)
def test_ciphertext_moved_to_another_column_row_or_case_fails(context: bytes) -> None:
    key = new_key()
    blob = seal(key, b"Ana", field_context("family_participants", "display_name", "row-1", "case-1"))
    with pytest.raises(DecryptionFailed):
        unseal(key, blob, context)


def test_tampered_or_truncated_ciphertext_fails() -> None:
    key = new_key()
    blob = bytearray(seal(key, b"Ana", b"ctx"))
    blob[-1] ^= 1
    with pytest.raises(DecryptionFailed):
        unseal(key, bytes(blob), b"ctx")
    with pytest.raises(DecryptionFailed):
        unseal(key, b"\x01short", b"ctx")


def test_context_parts_cannot_smuggle_the_separator() -> None:
    with pytest.raises(ValueError):
        field_context("t", "c|x", "r", "case")


def test_case_cipher_never_shows_its_key() -> None:
    key = new_key()
    cipher = CaseCipher("case-1", key)
    assert key.hex() not in repr(cipher) and str(key) not in repr(cipher)


def test_keyring_creates_a_private_key_file(tmp_path: Path) -> None:
    keyring = Keyring(tmp_path / "keys")
    kek_file = tmp_path / "keys" / "kek.json"
    assert kek_file.stat().st_mode & 0o777 == 0o600
    assert json.loads(kek_file.read_text())["current"] == keyring.current_id


def test_keyring_refuses_a_key_file_others_can_read(tmp_path: Path) -> None:
    Keyring(tmp_path)
    os.chmod(tmp_path / "kek.json", 0o644)
    with pytest.raises(KeyringError, match="chmod 600"):
        Keyring(tmp_path)


def test_keyring_refuses_a_corrupt_key_file(tmp_path: Path) -> None:
    Keyring(tmp_path)
    (tmp_path / "kek.json").write_text("{not json")
    with pytest.raises(KeyringError, match="not a valid key file"):
        Keyring(tmp_path)


def test_wrapped_key_is_bound_to_its_case(tmp_path: Path) -> None:
    keyring = Keyring(tmp_path)
    data_key = new_key()
    kek_id, wrapped = keyring.wrap("case-1", data_key)
    assert keyring.unwrap("case-1", kek_id, wrapped) == data_key
    with pytest.raises(DecryptionFailed):
        keyring.unwrap("case-2", kek_id, wrapped)


def test_a_server_sees_a_key_added_by_another_process(tmp_path: Path) -> None:
    server, operator = Keyring(tmp_path), Keyring(tmp_path)
    new_id = operator.add_current()
    kek_id, wrapped = operator.wrap("case-1", b"k" * 32)
    assert kek_id == new_id
    assert server.unwrap("case-1", kek_id, wrapped) == b"k" * 32


def test_retired_keys_are_forgotten_and_the_current_one_cannot_be(tmp_path: Path) -> None:
    keyring = Keyring(tmp_path)
    old = keyring.current_id
    kek_id, wrapped = keyring.wrap("case-1", b"k" * 32)
    keyring.add_current()
    keyring.retire({old})
    assert old not in Keyring(tmp_path).key_ids
    with pytest.raises(KeyringError):
        keyring.unwrap("case-1", kek_id, wrapped)
    with pytest.raises(KeyringError):
        keyring.retire({keyring.current_id})


def test_erased_case_cannot_be_unwrapped_even_with_its_wrapped_key(tmp_path: Path) -> None:
    keyring = Keyring(tmp_path)
    kek_id, wrapped = keyring.wrap("case-1", b"k" * 32)
    keyring.record_erasure("case-1")
    assert (tmp_path / "erased-cases").stat().st_mode & 0o777 == 0o600
    with pytest.raises(DecryptionFailed):
        Keyring(tmp_path).unwrap("case-1", kek_id, wrapped)


def test_a_server_sees_a_case_erased_by_another_process_after_reading_the_ledger(tmp_path: Path) -> None:
    server, operator = Keyring(tmp_path), Keyring(tmp_path)
    kek_id, wrapped = server.wrap("case-2", b"k" * 32)
    assert not server.is_erased("case-2")
    operator.record_erasure("case-1")
    assert server.erased_cases() == {"case-1"}
    assert server.unwrap("case-2", kek_id, wrapped) == b"k" * 32  # read once, the ledger is kept
    operator.record_erasure("case-2")
    with pytest.raises(DecryptionFailed):
        server.unwrap("case-2", kek_id, wrapped)


def test_a_ledger_opened_to_others_is_refused_even_after_it_was_read(tmp_path: Path) -> None:
    keyring = Keyring(tmp_path)
    keyring.record_erasure("case-1")
    assert keyring.is_erased("case-1")
    (tmp_path / "erased-cases").chmod(0o644)
    with pytest.raises(KeyringError):
        keyring.is_erased("case-1")
