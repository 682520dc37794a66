"""The key-encryption keys and the erasure ledger, kept in files outside the database.

Backups of the database therefore never hold what is needed to read them,
and the ledger lets erasures be re-applied to a database restored from before them.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
import os
import secrets
from pathlib import Path

from telepractice.crypto.envelope import DecryptionFailed, new_key, seal, unseal, wrap_context

KEK_FILE = "kek.json"
LEDGER_FILE = "erased-cases"


class KeyringError(Exception):
    """The key directory is missing a key, unreadable, or too open."""


def write_private(path: Path, data: bytes) -> None:
    """Atomically replace path with data, readable by the owner only."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    temporary = path.with_name(f".{path.name}.{secrets.token_hex(4)}")
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(descriptor, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, path)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise


def read_private(path: Path) -> bytes:
    """Read a key file, refusing one that others may read."""
    try:
        mode = path.stat().st_mode & 0o777
    except FileNotFoundError:
        raise KeyringError(f"{path}: key file is missing") from None
    if mode & 0o077:
        raise KeyringError(f"{path}: key file must be readable by its owner only (chmod 600)")
    return path.read_bytes()


FileStamp = tuple[int, int, int, int, int]


def file_stamp(path: Path) -> FileStamp | None:
    """What tells one version of a key file from another, for the processes that share it; None if missing.

    A file replaced (``write_private``), rewritten or re-permissioned has a new inode, mtime, ctime, size or
    mode; an mtime alone can repeat within the file system's clock step. Taken before the file is read, so a
    change made while it is read shows at the next look.
    """
    try:
        status = os.stat(path)
    except FileNotFoundError:
        return None
    return status.st_ino, status.st_mtime_ns, status.st_ctime_ns, status.st_size, status.st_mode


class Keyring:
    """Key-encryption keys by id, the current one, and the ledger of erased cases."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self._kek_path = directory / KEK_FILE
        self._ledger_path = directory / LEDGER_FILE
        self._keys: dict[str, bytes] = {}
        self._current = ""
        self._loaded: FileStamp | None = None  # the key file's stamp when _keys was read from it
        self._ledger: frozenset[str] = frozenset()
        self._ledger_stamp: FileStamp | None = None  # the ledger file's stamp when _ledger was read from it
        if not self._kek_path.exists():
            self._write(*self._fresh_key(), keys={})
        self.reload()

    @staticmethod
    def _fresh_key() -> tuple[str, bytes]:
        stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%S")
        return f"kek-{stamp}-{secrets.token_hex(3)}", new_key()

    def _write(self, current: str, key: bytes, keys: dict[str, bytes]) -> None:
        everything = {**keys, current: key}
        document = {
            "current": current,
            "keys": {kid: base64.b64encode(value).decode() for kid, value in everything.items()},
        }
        write_private(self._kek_path, json.dumps(document, indent=1).encode())

    def reload(self) -> None:
        stamp = file_stamp(self._kek_path)  # None if missing: read_private says so
        try:
            document = json.loads(read_private(self._kek_path))
            keys = {kid: base64.b64decode(value) for kid, value in document["keys"].items()}
            current = document["current"]
        except (ValueError, KeyError, TypeError) as error:
            raise KeyringError(f"{self._kek_path}: not a valid key file ({type(error).__name__})") from None
        if current not in keys or any(len(key) != 32 for key in keys.values()):
            raise KeyringError(f"{self._kek_path}: not a valid key file (bad current key or key length)")
        self._keys, self._current = keys, current
        self._loaded = stamp

    def _reload_if_changed(self) -> None:
        if file_stamp(self._kek_path) != self._loaded:
            self.reload()

    @property
    def current_id(self) -> str:
        return self._current

    @property
    def key_ids(self) -> frozenset[str]:
        return frozenset(self._keys)

    def wrap(self, case_id: str, data_key: bytes) -> tuple[str, bytes]:
        # Another process (keys rotate) may have made a new current key.
        self._reload_if_changed()
        kek_id = self._current
        return kek_id, seal(self._keys[kek_id], data_key, wrap_context(case_id, kek_id))

    def unwrap(self, case_id: str, kek_id: str, wrapped: bytes) -> bytes:
        if self.is_erased(case_id):
            raise DecryptionFailed("case was erased")
        if kek_id not in self._keys:
            self.reload()
        if kek_id not in self._keys:
            raise KeyringError(f"key-encryption key {kek_id} is not in {self._kek_path}")
        return unseal(self._keys[kek_id], wrapped, wrap_context(case_id, kek_id))

    def add_current(self) -> str:
        """Make a new current key, keeping the old ones so reads go on during a rotation."""
        self.reload()
        kek_id, key = self._fresh_key()
        self._write(kek_id, key, self._keys)
        self.reload()
        return kek_id

    def retire(self, kek_ids: set[str]) -> None:
        """Forget old keys for good once no data key is wrapped by them."""
        self.reload()
        if self._current in kek_ids:
            raise KeyringError("the current key-encryption key cannot be retired")
        remaining = {kid: key for kid, key in self._keys.items() if kid not in kek_ids and kid != self._current}
        self._write(self._current, self._keys[self._current], remaining)
        self.reload()

    def erased_cases(self) -> frozenset[str]:
        """The cases erased so far, as the ledger says now.

        Read again only when the file changed (``file_stamp``; another process, the operator's command, may
        erase a case at any time): every family member's join opens their case, and reading the file each time
        was 3 % of a join storm (bench/README.md).
        """
        stamp = file_stamp(self._ledger_path)
        if stamp is None:
            return frozenset()
        if stamp != self._ledger_stamp:
            try:
                text = read_private(self._ledger_path).decode()
            except KeyringError:
                if not self._ledger_path.exists():
                    return frozenset()
                raise
            self._ledger = frozenset(line.strip() for line in text.splitlines() if line.strip())
            self._ledger_stamp = stamp
        return self._ledger

    def is_erased(self, case_id: str) -> bool:
        return case_id in self.erased_cases()

    def record_erasure(self, case_id: str) -> None:
        """Write the case into the ledger (durably) before its key is destroyed in the database."""
        ledger = sorted(self.erased_cases() | {case_id})
        write_private(self._ledger_path, ("\n".join(ledger) + "\n").encode())
