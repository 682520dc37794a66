"""A family member's personal link: a join token naming one session and one person.

The token rides in the URL fragment, which browsers never send to a server,
so it cannot land in access logs, proxies or Referer headers.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession

from telepractice.auth.signing_keys import SigningKeyring
from telepractice.auth.tokens import issue_token
from telepractice.config import Settings
from telepractice.sessions.scheduling import planned_end
from telepractice.storage.models import CaseSession, FamilyParticipant, SessionInvite, new_id, utcnow

JOIN_AUDIENCE = "telepractice:join"
# A family member may arrive late or reconnect near the end; the link outlives the plan a little.
GRACE_AFTER_END = dt.timedelta(minutes=30)


async def issue_invite(
    session: AsyncSession,
    signing_keys: SigningKeyring,
    settings: Settings,
    scheduled: CaseSession,
    participant: FamilyParticipant,
) -> tuple[SessionInvite, str]:
    """A new personal link for one family member; any earlier link of theirs for this session is revoked."""
    now = utcnow()
    await session.execute(
        update(SessionInvite)
        .where(
            SessionInvite.session_id == scheduled.id,
            SessionInvite.participant_id == participant.id,
            SessionInvite.revoked_at.is_(None),
        )
        .values(revoked_at=now)
    )
    expires_at = planned_end(scheduled) + GRACE_AFTER_END
    invite = SessionInvite(id=new_id(), session_id=scheduled.id, participant_id=participant.id, expires_at=expires_at)
    session.add(invite)
    await session.flush()
    token = issue_token(
        signing_keys,
        issuer=settings.issuer,
        audience=JOIN_AUDIENCE,
        subject=participant.id,
        ttl=expires_at - now,
        claims={"session": scheduled.id, "jti": invite.id},
    )
    return invite, token


def join_link(settings: Settings, token: str) -> str:
    return f"{settings.public_origin}/join#invite={token}"
