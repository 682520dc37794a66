"""After the demo data is made, the raw database holds none of the family's personal data."""

from __future__ import annotations

import subprocess
from pathlib import Path

from sqlalchemy.engine import make_url

from telepractice.audit import AuditLog
from telepractice.config import Settings
from telepractice.crypto.keyring import Keyring
from telepractice.demo import CASE_REFERENCE, DEMO_FAMILY, DEMO_NOTE, prepare_demo
from telepractice.storage.engine import make_engine, make_session_factory

SECRETS = [name for name, *_ in DEMO_FAMILY] + [contact for *_, contact in DEMO_FAMILY if contact] + [DEMO_NOTE]
# Parts too: a first name alone, or a note's distinctive words, must not leak either.
SECRETS += [name.split()[0] for name, *_ in DEMO_FAMILY] + ["first contact made by phone"]


def _raw_database(settings: Settings) -> bytes:
    url = make_url(settings.database_url)
    if url.get_backend_name() == "sqlite":
        database = Path(url.database or "")
        return b"".join(path.read_bytes() for path in database.parent.glob(database.name + "*"))
    dump = subprocess.run(
        ["pg_dump", "--data-only", "--no-owner", "-h", url.host or "127.0.0.1", "-p", str(url.port or 5432),
         "-U", url.username or "postgres", url.database or ""],
        check=True, capture_output=True,
    )
    return dump.stdout


async def test_demo_family_names_notes_and_contacts_are_not_in_the_raw_database(settings: Settings) -> None:
    engine = make_engine(settings.database_url)
    demo = await prepare_demo(settings, make_session_factory(engine), Keyring(settings.key_directory), AuditLog())
    await engine.dispose()
    assert [link.name for link in demo.links] == [name for name, *_ in DEMO_FAMILY]

    raw = _raw_database(settings)
    assert CASE_REFERENCE.encode() in raw, "the dump should hold the (non-identifying) case reference"
    for secret in SECRETS:
        for encoding in ("utf-8", "utf-16-le"):
            assert secret.encode(encoding) not in raw, f"{secret!r} is in the raw database"


async def test_demo_can_run_again_with_fresh_passwords_and_links(settings: Settings) -> None:
    engine = make_engine(settings.database_url)
    db, keyring, audit = make_session_factory(engine), Keyring(settings.key_directory), AuditLog()
    first = await prepare_demo(settings, db, keyring, audit)
    second = await prepare_demo(settings, db, keyring, audit)
    await engine.dispose()
    assert {login.password for login in first.logins}.isdisjoint(login.password for login in second.logins)
    assert {link.link for link in first.links}.isdisjoint(link.link for link in second.links)
    assert first.session_start == second.session_start
    assert all("/join#invite=" in link.link for link in second.links)
