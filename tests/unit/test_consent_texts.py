"""The consent texts: every role in Portuguese and English, plain about recording and withdrawal, hashes stable."""

from __future__ import annotations

import hashlib

import pytest

from telepractice.errors import InvalidField
from telepractice.sessions.consent_texts import (
    CURRENT_VERSION,
    LANGUAGES,
    Audience,
    consent_text,
    language_for,
    versions,
)

# The published texts never change: a new wording is a new version. These pin the current one.
PINNED = {
    ("pt", Audience.ADULT): "cceec5c1340fab63249b815a0f0c70365406c6ddfcb43811b3f928752a482b6b",
    ("pt", Audience.GUARDIAN): "f79982d22c9a235134bce81cb46b8034e3a4a80b8b5446fdbd581088f8fc8301",
    ("pt", Audience.CHILD): "3876ce6e61599e4a887d75437951c2195640e74a9d0ba628c86478135f0fad0e",
    ("en", Audience.ADULT): "09a39b7eed6d67dafe6df7cf0b13e81a927aa0db89e60c0f8d1bfbae582ba131",
    ("en", Audience.GUARDIAN): "29d065c8b8e9a986a37c4a40dc235b5df9d44ca8103602405b1c11c7cc65ec2b",
    ("en", Audience.CHILD): "bc537eb118ffc849d3fde483b1f7eb59686cec947a85f85760c35646d68406c4",
}

# Words each text must carry, in its language: not recorded, and how to stop.
MUST_SAY = {
    "en": ("nothing is recorded", "withdraw"),
    "pt": ("nada é gravado", "retirar"),
}
MUST_SAY_CHILD = {
    "en": ("nobody records", "stop"),
    "pt": ("ninguém grava", "parar"),
}


@pytest.mark.parametrize("language", LANGUAGES)
@pytest.mark.parametrize("audience", list(Audience))
def test_every_role_has_a_text_in_portuguese_and_english(language: str, audience: Audience) -> None:
    text = consent_text(CURRENT_VERSION, language, audience)
    assert (text.version, text.language, text.audience) == (CURRENT_VERSION, language, audience)
    assert len(text.text) > 300
    words = MUST_SAY_CHILD if audience is Audience.CHILD else MUST_SAY
    lowered = text.text.lower()
    for phrase in words[language]:
        assert phrase in lowered, (language, audience, phrase)


@pytest.mark.parametrize("language", LANGUAGES)
@pytest.mark.parametrize("audience", list(Audience))
def test_a_texts_hash_is_the_sha256_of_its_file_and_stable(language: str, audience: Audience) -> None:
    first = consent_text(CURRENT_VERSION, language, audience)
    consent_text.cache_clear()
    again = consent_text(CURRENT_VERSION, language, audience)
    assert first.sha256 == again.sha256 == PINNED[(language, audience)]
    assert first.sha256 == hashlib.sha256(first.text.encode("utf-8")).hexdigest()


def test_the_current_version_is_published() -> None:
    assert CURRENT_VERSION in versions()


@pytest.mark.parametrize(("version", "language", "field"), [("1999-01", "pt", "version"), (CURRENT_VERSION, "fr", "language")])
def test_a_missing_text_is_refused_naming_what_is_missing(version: str, language: str, field: str) -> None:
    with pytest.raises(InvalidField) as raised:
        consent_text(version, language, Audience.ADULT)
    assert raised.value.extra["field"] == field


def test_a_language_without_texts_falls_back_to_portuguese() -> None:
    assert language_for("en") == "en"
    assert language_for("fr") == "pt"
    assert language_for(None) == "pt"
