"""A real ``python -m telepractice serve`` inside a network namespace, with data prepared beforehand.

The data (staff, a family case, consent, a session, join links, a staff
login) is made by the same service functions the demo and the API use,
straight into the server's SQLite file, before the server starts; the tokens
come back to the test. The server is stopped by its PID.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import os
import secrets
import subprocess
import sys
import textwrap
from collections.abc import Mapping, Sequence
from pathlib import Path

from telepractice.audit import AuditLog
from telepractice.auth.logins import StaffLogins
from telepractice.auth.signing_keys import SigningKeyring
from telepractice.auth.staff import add_staff
from telepractice.cases.records import NewParticipant, add_participant, create_case
from telepractice.config import ENV_PREFIX, Settings, load_settings
from telepractice.crypto.keyring import Keyring
from telepractice.sessions.consent import ConsentGiven, record_consent
from telepractice.sessions.invites import issue_invite
from telepractice.sessions.scheduling import schedule_session
from telepractice.storage.engine import make_engine, make_session_factory
from telepractice.storage.models import ConsentKind, ConsentMethod, SessionKind, StaffRole, utcnow
from telepractice.testing.netns import Namespace
from telepractice.testing.processes import stop_process

PORT = 8443  # every namespace is new and empty, so the usual port is always free in it
START_TIMEOUT = 30.0
STOP_TIMEOUT = 10.0


class ServerError(RuntimeError):
    """The server did not start or listen in time; the message carries its log's tail."""


def server_environment(data_dir: Path, port: int = PORT, **settings: str) -> dict[str, str]:
    """The TELEPRACTICE_* variables of a test server (staff tokens last an hour so no test outlives one)."""
    values = {"data_dir": str(data_dir), "host": "127.0.0.1", "port": str(port), "access_token_minutes": "60"}
    values.update(settings)
    return {f"{ENV_PREFIX}{key.upper()}": value for key, value in values.items()}


def settings_for(environment: Mapping[str, str]) -> Settings:
    """The Settings the server will read from ``environment``: pytest prepares data with the same ones."""
    return load_settings(environment)


@dataclasses.dataclass(frozen=True)
class FamilyMember:
    participant_id: str
    name: str
    join_token: str = dataclasses.field(repr=False)


@dataclasses.dataclass(frozen=True)
class PreparedSession:
    """A family session ready to join: the worker (its host) logged in, and each family member's link."""

    session_id: str
    worker_id: str
    worker_name: str
    worker_token: str = dataclasses.field(repr=False)
    family: tuple[FamilyMember, ...] = ()


async def prepare_family_session(
    settings: Settings, family_names: Sequence[str] = ("Ana Test", "Rui Test"), *, consent: bool = True,
    without_consent: Sequence[str] = (), minors: Sequence[str] = (),
) -> PreparedSession:
    """Migrate the database and make a worker, a case with these adults, their consent, a session and links.

    The people of ``without_consent`` come next, with a link but no consent on record; ``minors`` last:
    children in the first adult's care, with that guardian's consent on record but not yet their own assent.
    """
    from telepractice.server import migrate

    await migrate(settings)
    engine = make_engine(settings.database_url)
    try:
        db = make_session_factory(engine)
        audit = AuditLog()
        keyring = Keyring(settings.key_directory)
        signing = SigningKeyring(settings.key_directory, settings)
        password = secrets.token_urlsafe(18)
        worker = await add_staff(db, audit, username="test.worker", display_name="Marta Worker",
                                 role=StaffRole.WORKER, password=password, actor="test")
        supervisor = await add_staff(db, audit, username="test.supervisor", display_name="Sofia Supervisor",
                                     role=StaffRole.SUPERVISOR, password=secrets.token_urlsafe(18), actor="test")
        members: list[FamilyMember] = []
        async with audit.recording(db) as session:
            case, cipher = await create_case(session, keyring, reference="BROWSER-0001", risk_level="high",
                                             supervisor_id=supervisor.id, worker_ids=[worker.id])
            scheduled = await schedule_session(session, case, kind=SessionKind.FAMILY,
                                               planned_start=utcnow() - dt.timedelta(minutes=1), host_id=worker.id)
            for name in (*family_names, *without_consent):
                person = await add_participant(session, cipher, NewParticipant(display_name=name, role="guardian"))
                if consent and name in family_names:
                    await record_consent(session, cipher, person, ConsentGiven(
                        kind=ConsentKind.CONSENT, method=ConsentMethod.BROWSER, text_version="test-1",
                        text_hash="0" * 64, language="en", given_by_participant_id=person.id))
                _invite, token = await issue_invite(session, signing, settings, scheduled, person)
                members.append(FamilyMember(person.id, name, token))
            for name in minors:
                guardian = members[0].participant_id
                child = await add_participant(session, cipher, NewParticipant(
                    display_name=name, role="child", is_minor=True, guardian_id=guardian))
                await record_consent(session, cipher, child, ConsentGiven(
                    kind=ConsentKind.CONSENT, method=ConsentMethod.BROWSER, text_version="test-1",
                    text_hash="0" * 64, language="en", given_by_participant_id=guardian))
                _invite, token = await issue_invite(session, signing, settings, scheduled, child)
                members.append(FamilyMember(child.id, name, token))
        pair = await StaffLogins(db, audit, signing, settings).login("test.worker", password, "127.0.0.1")
        return PreparedSession(scheduled.id, worker.id, worker.display_name, pair.access_token, tuple(members))
    finally:
        await engine.dispose()


@dataclasses.dataclass
class RunningServer:
    """A server process inside a namespace: where browsers there reach it, and how to stop it."""

    process: subprocess.Popen[bytes]
    origin: str
    log_path: Path

    @property
    def pid(self) -> int:
        return self.process.pid

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def stop(self) -> None:
        """SIGTERM (aiohttp's graceful shutdown), then SIGKILL if it has not ended in time."""
        stop_process(self.process, STOP_TIMEOUT)


_WAIT_FOR_PORT = textwrap.dedent("""
    import socket, sys, time
    port, deadline = int(sys.argv[1]), time.monotonic() + float(sys.argv[2])
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            sys.exit(0)
        except OSError:
            time.sleep(0.05)
    sys.exit(1)
""")


def wait_for_port(ns: Namespace, port: int, timeout: float) -> bool:
    """Whether something listens on 127.0.0.1:``port`` inside ``ns`` within ``timeout`` seconds (checked from inside)."""
    waited = subprocess.run(ns.command([sys.executable, "-c", _WAIT_FOR_PORT, str(port), str(timeout)]),
                            timeout=timeout + 5, check=False, capture_output=True)
    return waited.returncode == 0


async def stored_connection_tests(environment: Mapping[str, str], session_id: str) -> list[tuple[str | None, str, str]]:
    """Every connection test kept with a session, read from the server's database: (whose id, kind, verdict)."""
    from telepractice.sessions.connection_tests import connection_tests_of

    engine = make_engine(settings_for(environment).database_url)
    try:
        rows = await connection_tests_of(make_session_factory(engine), session_id)
    finally:
        await engine.dispose()
    return [(row.participant_id or row.staff_id, row.who_kind, row.verdict) for row in rows]


def start_server(ns: Namespace, environment: Mapping[str, str], log_path: Path,
                 timeout: float = START_TIMEOUT) -> RunningServer:
    """Start ``python -m telepractice serve`` in ``ns``; return once it listens there (checked from inside)."""
    settings = settings_for(environment)
    env = {key: value for key, value in os.environ.items() if not key.startswith(ENV_PREFIX)}
    env.update(environment)
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with log_path.open("wb") as log_file:
        process = ns.popen([sys.executable, "-m", "telepractice", "serve"], env=env, stdout=log_file,
                           stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    server = RunningServer(process, settings.public_origin, log_path)
    try:
        if not wait_for_port(ns, settings.port, timeout) or process.poll() is not None:
            raise ServerError(f"the server did not listen on port {settings.port} within {timeout:g} s; "
                              f"its log ends:\n{server.log()[-2000:]}")
    except BaseException:
        server.stop()
        raise
    return server
