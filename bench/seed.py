"""Data for the telepractice benchmarks, made before the server starts, by the same service functions the API uses.

One worker (logged in; its access token opens every session below as host), and:
- ``pairs`` family sessions with one adult family member each (consent on record, a personal link):
  the rooms of the latency and throughput figures;
- ``storm_rounds`` × ``storm_rooms`` family sessions with ``storm_family`` members each: the join storm,
  fresh sessions for every round;
- ``idle`` sessions the worker hosts alone: the idle connections.
The tokens go to a JSON file for the load client; nothing here is real data.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import secrets
import time
from pathlib import Path

from telepractice.audit import AuditLog
from telepractice.auth.logins import StaffLogins
from telepractice.auth.signing_keys import SigningKeyring
from telepractice.auth.staff import add_staff
from telepractice.cases.records import NewParticipant, add_participant, create_case
from telepractice.config import Settings
from telepractice.crypto.keyring import Keyring
from telepractice.sessions.consent import ConsentGiven, record_consent
from telepractice.sessions.invites import issue_invite
from telepractice.sessions.scheduling import schedule_session
from telepractice.storage.engine import make_engine, make_session_factory
from telepractice.storage.models import ConsentKind, ConsentMethod, SessionKind, StaffRole, utcnow

WORKER = "bench.worker"
SESSION_MINUTES = 90  # the longest family session: tokens outlive any benchmark run


@dataclasses.dataclass(frozen=True)
class Plan:
    pairs: int = 500
    storm_rounds: int = 3
    storm_rooms: int = 125
    storm_family: int = 3
    idle: int = 10_000


async def seed(settings: Settings, plan: Plan, out: Path) -> dict:
    """Migrate, make the data, write the tokens to ``out``; returns them too."""
    from telepractice.server import migrate

    started = time.monotonic()
    await migrate(settings)
    engine = make_engine(settings.database_url)
    try:
        db = make_session_factory(engine)
        audit = AuditLog()
        keyring = Keyring(settings.key_directory)
        signing = SigningKeyring(settings.key_directory, settings)
        password = secrets.token_urlsafe(18)
        worker = await add_staff(db, audit, username=WORKER, display_name="Bench Worker", role=StaffRole.WORKER,
                                 password=password, actor="bench")
        supervisor = await add_staff(db, audit, username="bench.supervisor", display_name="Bench Supervisor",
                                     role=StaffRole.SUPERVISOR, password=secrets.token_urlsafe(18), actor="bench")
        start = utcnow() - dt.timedelta(minutes=1)
        counter = iter(range(1, 10**9))

        async def family_sessions(count: int, members: int) -> list[dict]:
            made = []
            async with audit.recording(db) as session:
                for _ in range(count):
                    case, cipher = await create_case(session, keyring, reference=f"BENCH-{next(counter):06d}",
                                                     risk_level="medium", supervisor_id=supervisor.id,
                                                     worker_ids=[worker.id])
                    scheduled = await schedule_session(session, case, kind=SessionKind.FAMILY, planned_start=start,
                                                       planned_minutes=SESSION_MINUTES, host_id=worker.id)
                    family = []
                    for index in range(members):
                        person = await add_participant(session, cipher, NewParticipant(
                            display_name=f"Bench Family {index}", role="guardian"))
                        await record_consent(session, cipher, person, ConsentGiven(
                            kind=ConsentKind.CONSENT, method=ConsentMethod.BROWSER, text_version="bench-1",
                            text_hash="0" * 64, language="en", given_by_participant_id=person.id))
                        _invite, token = await issue_invite(session, signing, settings, scheduled, person)
                        family.append({"id": person.id, "token": token})
                    made.append({"session": scheduled.id, "family": family})
            return made

        pairs = await family_sessions(plan.pairs, 1)
        storms = [await family_sessions(plan.storm_rooms, plan.storm_family) for _ in range(plan.storm_rounds)]
        idle: list[str] = []
        async with audit.recording(db) as session:
            case, _cipher = await create_case(session, keyring, reference="BENCH-IDLE", risk_level="low",
                                              supervisor_id=supervisor.id, worker_ids=[worker.id])
            for _ in range(plan.idle):
                scheduled = await schedule_session(session, case, kind=SessionKind.CASE_DISCUSSION, planned_start=start,
                                                   planned_minutes=SESSION_MINUTES, host_id=worker.id)
                idle.append(scheduled.id)
        login = await StaffLogins(db, audit, signing, settings).login(WORKER, password, "127.0.0.1")
    finally:
        await engine.dispose()
    data = {"worker_id": worker.id, "worker_token": login.access_token, "pairs": pairs, "storms": storms,
            "idle": idle, "seconds": round(time.monotonic() - started, 1)}
    out.write_text(json.dumps(data))
    return data
