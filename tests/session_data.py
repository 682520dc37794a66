"""Cases with staff, family and a scheduled session, written through the real services (for session tests)."""

from __future__ import annotations

import dataclasses
import datetime as dt
import itertools

from telepractice.cases.records import NewParticipant, add_participant, create_case
from telepractice.crypto.case_keys import CaseCipher
from telepractice.crypto.keyring import Keyring
from telepractice.sessions.scheduling import schedule_session
from telepractice.storage.engine import SessionFactory
from telepractice.storage.models import (
    Case,
    CaseSession,
    FamilyParticipant,
    StaffMember,
    utcnow,
)

_numbers = itertools.count(1)


@dataclasses.dataclass(frozen=True)
class CaseData:
    case: Case
    cipher: CaseCipher
    worker: StaffMember
    supervisor: StaffMember
    mother: FamilyParticipant
    child: FamilyParticipant
    scheduled: CaseSession


async def seed_case(
    db: SessionFactory,
    keyring: Keyring,
    *,
    reference: str | None = None,
    risk_level: str = "high",
    planned_start: dt.datetime | None = None,
    kind: str = "family",
    worker: StaffMember | None = None,
    supervisor: StaffMember | None = None,
) -> CaseData:
    """A case with a mother and her child and one scheduled session; new staff unless given."""
    n = next(_numbers)
    async with db() as session, session.begin():
        if supervisor is None:
            supervisor = StaffMember(username=f"sup{n}", display_name=f"Supervisor {n}", role="supervisor",
                                     password_hash="x")
            session.add(supervisor)
        if worker is None:
            worker = StaffMember(username=f"wrk{n}", display_name=f"Worker {n}", role="worker", password_hash="x")
            session.add(worker)
        await session.flush()
        case, cipher = await create_case(session, keyring, reference=reference or f"FAM-{n:04d}",
                                         risk_level=risk_level, supervisor_id=supervisor.id, worker_ids=[worker.id])
        mother = await add_participant(session, cipher, NewParticipant(display_name="Ana Mãe", role="guardian"))
        child = await add_participant(session, cipher, NewParticipant(
            display_name="Rui Filho", role="child", is_minor=True, guardian_id=mother.id))
        scheduled = await schedule_session(session, case, kind=kind, host_id=worker.id,
                                           planned_start=planned_start or utcnow().replace(microsecond=0))
    return CaseData(case, cipher, worker, supervisor, mother, child, scheduled)
