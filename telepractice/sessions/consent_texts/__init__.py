"""The consent texts people read before a video session: versioned, translated, each with its SHA-256.

A text lives in ``<version>/<language>/<audience>.md`` beside this module and
is never edited once published: a change is a new version directory. A
consent record keeps the version and the hash the server computed from the
file, so the record says exactly which words the person agreed to.
"""

from __future__ import annotations

import dataclasses
import enum
import functools
import hashlib
from pathlib import Path

from telepractice.errors import InvalidField

ROOT = Path(__file__).resolve().parent
CURRENT_VERSION = "2026-11"
LANGUAGES = ("pt", "en")
DEFAULT_LANGUAGE = "pt"


class Audience(enum.StrEnum):
    """Who reads the text: an adult for themself, a guardian for a child, a child giving assent."""

    ADULT = "adult"
    GUARDIAN = "guardian"
    CHILD = "child"


@dataclasses.dataclass(frozen=True)
class ConsentText:
    version: str
    language: str
    audience: Audience
    text: str
    sha256: str

    def as_dict(self) -> dict[str, str]:
        return {"version": self.version, "language": self.language, "audience": str(self.audience),
                "text": self.text, "sha256": self.sha256}


def versions() -> list[str]:
    return sorted(path.name for path in ROOT.iterdir() if path.is_dir() and not path.name.startswith("_"))


def language_for(preferred: str | None) -> str:
    """The person's language when a text exists in it, Portuguese otherwise."""
    return preferred if preferred in LANGUAGES else DEFAULT_LANGUAGE


@functools.cache
def consent_text(version: str, language: str, audience: Audience) -> ConsentText:
    """One published text; InvalidField naming the part that does not exist."""
    if version not in versions():
        raise InvalidField(f"There is no consent text version '{version}'.", field="version")
    path = ROOT / version / language / f"{audience}.md"
    if language not in LANGUAGES or not path.is_file():
        raise InvalidField(f"The consent text {version} has no {audience} text in '{language}'.", field="language")
    raw = path.read_bytes()
    return ConsentText(version, language, audience, raw.decode("utf-8"), hashlib.sha256(raw).hexdigest())
