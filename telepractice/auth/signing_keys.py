"""The Ed25519 keys that sign tokens, kept in one owner-only file beside the other keys.

The newest key signs. A rotated-out key still verifies for a grace period
(twice an access token's lifetime, so no token it signed outlives it) and is
then dropped. Several server processes share the file: each reloads it when
it changes (``file_stamp``).
"""

from __future__ import annotations

import base64
import dataclasses
import datetime as dt
import json
import secrets
from collections.abc import Callable
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from telepractice.config import Settings
from telepractice.crypto.keyring import FileStamp, KeyringError, file_stamp, read_private, write_private

SIGNING_KEYS_FILE = "signing-keys.json"
# The one algorithm these keys sign with and the only one a verifier accepts (RFC 8725 §2.1).
ALGORITHM = "EdDSA"

Clock = Callable[[], dt.datetime]


def _utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


@dataclasses.dataclass(frozen=True)
class SigningKey:
    kid: str
    private_key: Ed25519PrivateKey
    created_at: dt.datetime
    retired_at: dt.datetime | None = None

    @property
    def public_key(self) -> Ed25519PublicKey:
        return self.private_key.public_key()

    def to_json(self) -> dict[str, str | None]:
        raw = self.private_key.private_bytes_raw()
        return {
            "kid": self.kid,
            "created_at": self.created_at.isoformat(),
            "retired_at": None if self.retired_at is None else self.retired_at.isoformat(),
            "private_key": base64.b64encode(raw).decode(),
        }

    @classmethod
    def from_json(cls, item: dict[str, str | None]) -> SigningKey:
        retired = item.get("retired_at")
        return cls(
            kid=str(item["kid"]),
            private_key=Ed25519PrivateKey.from_private_bytes(base64.b64decode(str(item["private_key"]))),
            created_at=dt.datetime.fromisoformat(str(item["created_at"])),
            retired_at=None if retired is None else dt.datetime.fromisoformat(retired),
        )


class SigningKeyring:
    """The current signing key and the retired keys still inside their grace period."""

    def __init__(self, directory: Path, settings: Settings, clock: Clock = _utcnow) -> None:
        self.path = directory / SIGNING_KEYS_FILE
        self.grace = dt.timedelta(minutes=2 * settings.access_token_minutes)
        self._clock = clock
        self._keys: list[SigningKey] = []
        self._loaded: FileStamp | None = None  # the file's stamp when _keys was read from it
        if not self.path.exists():
            self._write([self._fresh_key()])
        self.reload()

    def _fresh_key(self) -> SigningKey:
        now = self._clock()
        return SigningKey(f"sig-{now:%Y%m%dT%H%M%S}-{secrets.token_hex(3)}", Ed25519PrivateKey.generate(), now)

    def _write(self, keys: list[SigningKey]) -> None:
        document = {"algorithm": ALGORITHM, "keys": [key.to_json() for key in keys]}
        write_private(self.path, json.dumps(document, indent=1).encode())

    def reload(self) -> None:
        """Read the key file again (another process may have rotated)."""
        stamp = file_stamp(self.path)  # None if missing: read_private says so
        try:
            document = json.loads(read_private(self.path))
            keys = [SigningKey.from_json(item) for item in document["keys"]]
        except (ValueError, KeyError, TypeError) as error:
            raise KeyringError(f"{self.path}: not a valid signing key file ({type(error).__name__})") from None
        if sum(key.retired_at is None for key in keys) != 1:
            raise KeyringError(f"{self.path}: not a valid signing key file (needs exactly one current key)")
        self._keys = keys
        self._loaded = stamp

    def _reload_if_changed(self) -> None:
        if file_stamp(self.path) != self._loaded:
            self.reload()

    @property
    def current(self) -> SigningKey:
        """The key that signs new tokens."""
        self._reload_if_changed()
        return next(key for key in self._keys if key.retired_at is None)

    def verification_key(self, kid: str) -> Ed25519PublicKey | None:
        """The public key named kid, or None if unknown or retired longer than the grace period."""
        self._reload_if_changed()
        now = self._clock()
        for key in self._keys:
            if key.kid == kid and (key.retired_at is None or now - key.retired_at <= self.grace):
                return key.public_key
        return None

    @property
    def key_ids(self) -> frozenset[str]:
        self._reload_if_changed()
        return frozenset(key.kid for key in self._keys)

    def rotate(self) -> str:
        """Make a new current key, retire the previous one, drop keys past their grace; return the new kid."""
        self.reload()
        now = self._clock()
        kept = [
            dataclasses.replace(key, retired_at=key.retired_at or now)
            for key in self._keys
            if key.retired_at is None or now - key.retired_at <= self.grace
        ]
        fresh = self._fresh_key()
        self._write([*kept, fresh])
        self.reload()
        return fresh.kid
