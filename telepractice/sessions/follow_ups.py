"""Did not attend: ended sessions where an expected family member never joined, for the case's staff to follow up."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from telepractice.crypto.case_keys import CaseCipher, open_case
from telepractice.crypto.keyring import Keyring
from telepractice.sessions.records import DID_NOT_ATTEND
from telepractice.storage.models import Case, SessionRecord


def absent_family(document: dict[str, Any]) -> list[dict[str, str]]:
    """The family members a session record shows as not attending."""
    return [
        {"id": p["id"], "display_name": p["display_name"], "role": p["role"]}
        for p in document["participants"]
        if p["kind"] == "family" and p["attendance"] == DID_NOT_ATTEND
    ]


async def did_not_attend(
    session: AsyncSession, keyring: Keyring, cases: list[Case], since: dt.datetime
) -> list[dict[str, Any]]:
    """Sessions of these cases ended since ``since`` with someone absent, newest first; callers audit the read."""
    by_id = {case.id: case for case in cases}
    rows = (
        await session.execute(
            select(SessionRecord)
            .where(SessionRecord.case_id.in_(list(by_id)), SessionRecord.actual_end >= since)
            .order_by(SessionRecord.actual_end.desc())
        )
    ).scalars().all()
    ciphers: dict[str, CaseCipher] = {}
    found = []
    for row in rows:
        if row.case_id not in ciphers:
            ciphers[row.case_id] = await open_case(session, keyring, row.case_id)
        document = json.loads(
            ciphers[row.case_id].decrypt("session_records", "record", row.session_id, row.record_enc)
        )
        absent = absent_family(document)
        if absent:
            found.append({
                "case_reference": by_id[row.case_id].reference,
                "session_id": row.session_id,
                "kind": document["kind"],
                "planned_start": document["planned_start"],
                "ended_at": document["actual_end"],
                "absent": absent,
            })
    return found
