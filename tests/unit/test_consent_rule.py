"""The admission rule on standing consent (sessions/consent.py consent_suffices), without a database."""

from __future__ import annotations

import pytest

from telepractice.sessions.consent import consent_suffices


@pytest.mark.parametrize(("is_minor", "standing", "admitted"), [
    (False, {"consent"}, True),
    (False, set(), False),
    (False, {"assent"}, False),
    (True, {"consent"}, False),  # a parent's consent alone does not bring a child in: the child assents too
    (True, {"assent"}, False),
    (True, {"consent", "assent"}, True),
])
def test_an_adult_needs_consent_and_a_child_consent_and_assent(is_minor: bool, standing: set[str], admitted: bool) -> None:
    assert consent_suffices(is_minor, standing) is admitted
