"""The audit chain's hash covers every field of an entry."""

from __future__ import annotations

from telepractice.audit import GENESIS, entry_hash

FIELDS = (1, "2026-11-23T10:00:00+00:00", "staff:1", "case.read", "case:9", "{}", GENESIS)


def test_changing_any_field_changes_the_hash() -> None:
    original = entry_hash(*FIELDS)
    for index in range(len(FIELDS)):
        changed = list(FIELDS)
        changed[index] = changed[index] + 1 if isinstance(changed[index], int) else changed[index] + "x"
        assert entry_hash(*changed) != original


def test_hash_is_stable() -> None:
    assert entry_hash(*FIELDS) == entry_hash(*FIELDS)
