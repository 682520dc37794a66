"""The safety signal inside one room: a family member asks for help and only staff hear of it. No I/O.

A child may press help with a parent beside them, so nothing about an alert
ever reaches another family member's connection: not the request, not the
acknowledgement, not a change of anyone's presence. Staff (the host and other
staff of the case) get every alert still open whenever they connect, so one
asked for before they arrived, or while their connection was down, is not
missed. The ``Room`` hands ``help`` and ``help-acknowledge`` here; what
happened is kept as ``SafetyEvent``s for the transport to write to the case
record.
"""

from __future__ import annotations

import dataclasses
import enum
import uuid
from collections.abc import Callable

from telepractice.signaling import errors, outbound
from telepractice.signaling.participant import Participant, Role
from telepractice.signaling.ratelimit import TokenBucket
from telepractice.signaling.roster import Roster

# A family member may ask this many times in a row, then once more every HELP_REFILL_SECONDS.
HELP_BURST = 3
HELP_REFILL_SECONDS = 60.0


class SafetyKind(enum.StrEnum):
    REQUESTED = "requested"
    ACKNOWLEDGED = "acknowledged"


@dataclasses.dataclass(frozen=True, slots=True)
class SafetyEvent:
    """A safety alert asked for or acknowledged, for the case record; ids and a time only."""

    kind: SafetyKind
    alert_id: str
    at: float
    participant_id: str  # the family member who asked
    staff_id: str | None = None  # who acknowledged


@dataclasses.dataclass(slots=True)
class Alert:
    id: str
    participant_id: str
    at: float
    acknowledged_by: str | None = None


def _new_alert_id() -> str:
    return str(uuid.uuid4())


class HelpDesk:
    """The safety alerts of one room and the rule that only staff hear of them."""

    def __init__(self, roster: Roster, *, new_id: Callable[[], str] = _new_alert_id) -> None:
        self._roster = roster
        self._new_id = new_id
        self._alerts: dict[str, Alert] = {}
        self._buckets: dict[str, TokenBucket] = {}
        self._events: list[SafetyEvent] = []

    @property
    def pending(self) -> list[Alert]:
        """Alerts nobody has acknowledged yet, oldest first."""
        return [alert for alert in self._alerts.values() if alert.acknowledged_by is None]

    def ask(self, sender: Participant, now: float) -> Alert:
        """``sender`` pressed help: record an alert and tell every connected member of staff."""
        if sender.role is not Role.FAMILY:
            raise errors.FamilyOnly()
        bucket = self._buckets.setdefault(sender.id, TokenBucket(1 / HELP_REFILL_SECONDS, HELP_BURST))
        if not bucket.take(now):
            raise errors.HelpLimited(retry_after=round(bucket.retry_after(now)))
        alert = Alert(self._new_id(), sender.id, now)
        self._alerts[alert.id] = alert
        self._events.append(SafetyEvent(SafetyKind.REQUESTED, alert.id, now, sender.id))
        message = outbound.help_requested(alert.id, sender.view(), len(self.pending))
        for staff in self._staff():
            self._roster.send(staff, message)
        return alert

    def acknowledge(self, alert_id: str, staff_id: str, now: float) -> None:
        """A member of staff has seen the alert (in the call or through the API); tell the other staff."""
        alert = self._alerts.get(alert_id)
        if alert is None:
            raise errors.UnknownAlert(alert=alert_id)
        if alert.acknowledged_by is not None:
            return  # two staff pressing at once: the first one counts
        alert.acknowledged_by = staff_id
        self._events.append(SafetyEvent(SafetyKind.ACKNOWLEDGED, alert.id, now, alert.participant_id, staff_id))
        message = outbound.help_acknowledged(alert.id, alert.participant_id, staff_id, len(self.pending))
        for staff in self._staff():
            self._roster.send(staff, message)

    def acknowledge_from(self, sender: Participant, alert_id: str, now: float) -> None:
        if sender.role is Role.FAMILY:
            raise errors.StaffOnly()
        self.acknowledge(alert_id, sender.id, now)

    def brief(self, record: Participant) -> None:
        """A member of staff has just connected: every alert still open, so none is missed."""
        if record.role is Role.FAMILY:
            return
        pending = self.pending
        for count, alert in enumerate(pending, start=1):
            asker = self._roster.get(alert.participant_id)
            view = asker.view() if asker is not None else {"id": alert.participant_id}
            self._roster.send(record, outbound.help_requested(alert.id, view, count))

    @property
    def has_events(self) -> bool:
        return bool(self._events)

    def take_events(self) -> list[SafetyEvent]:
        events, self._events = self._events, []
        return events

    def _staff(self) -> list[Participant]:
        """Everyone connected who is staff of the session, wherever they are (waiting, main or side room)."""
        return [record for record in self._roster if record.role is not Role.FAMILY and record.connected]
