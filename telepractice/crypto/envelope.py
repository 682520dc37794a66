"""AES-256-GCM sealing with associated data; pure functions, no key storage."""

from __future__ import annotations

import os

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

FORMAT_V1 = b"\x01"
NONCE_BYTES = 12
KEY_BYTES = 32


class DecryptionFailed(Exception):
    """The ciphertext was altered, moved to another record, or sealed under another key."""


def new_key() -> bytes:
    return AESGCM.generate_key(bit_length=KEY_BYTES * 8)


def seal(key: bytes, plaintext: bytes, associated_data: bytes) -> bytes:
    """Version byte, random 96-bit nonce, then ciphertext with its tag."""
    nonce = os.urandom(NONCE_BYTES)
    return FORMAT_V1 + nonce + AESGCM(key).encrypt(nonce, plaintext, associated_data)


def unseal(key: bytes, blob: bytes, associated_data: bytes) -> bytes:
    if len(blob) < 1 + NONCE_BYTES + 16 or blob[:1] != FORMAT_V1:
        raise DecryptionFailed("not a telepractice ciphertext")
    nonce, body = blob[1 : 1 + NONCE_BYTES], blob[1 + NONCE_BYTES :]
    try:
        return AESGCM(key).decrypt(nonce, body, associated_data)
    except InvalidTag:
        raise DecryptionFailed("ciphertext does not open under this key and associated data") from None


def field_context(table: str, column: str, row_id: str, case_id: str) -> bytes:
    """Associated data binding a field's ciphertext to exactly one place in one case."""
    for part in (table, column, row_id, case_id):
        if "|" in part:
            raise ValueError("context parts may not contain '|'")
    return f"field|{table}|{column}|{row_id}|{case_id}".encode()


def wrap_context(case_id: str, kek_id: str) -> bytes:
    return f"case-key|{case_id}|{kek_id}".encode()
