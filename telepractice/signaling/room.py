"""One session's room: waiting room, admission, relay rules, side rooms, presence. No I/O.

A ``Room`` is fed connections, typed messages and the time, and answers by
calling ``send``/``close`` on ``Peer`` objects. Every decision comes from the
room's own record of the sender (role, state, side room), never from fields
of the message. ``registry.RoomRegistry`` holds the rooms of one server.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import enum
from collections.abc import Callable
from typing import assert_never

from telepractice.signaling import errors, outbound
from telepractice.signaling.errors import CloseCode
from telepractice.signaling.messages import (
    MAX_CANDIDATE_CHARS,
    MAX_FRAME_BYTES,
    MAX_ROOM_PARTICIPANTS,
    MAX_SDP_CHARS,
    Admit,
    Answer,
    Candidate,
    Chat,
    EndSession,
    Hello,
    Help,
    IceServers,
    HelpAcknowledge,
    InboundMessage,
    Leave,
    MediaState,
    Offer,
    Ping,
    Pong,
    SendToWaitingRoom,
    SideRoomCreate,
    SideRoomMove,
    SideRoomReturn,
    TurnAway,
)
from telepractice.signaling.help_desk import HelpDesk, SafetyEvent
from telepractice.signaling.outbound import Departure, PresenceEvent, WaitingReason
from telepractice.signaling.participant import Identity, Input, Participant, Peer, Role, State
from telepractice.signaling.ratelimit import TokenBucket
from telepractice.signaling.roster import Roster
from telepractice.signaling.ice_refresh import IceRefreshLimit
from telepractice.signaling.side_rooms import SideRooms

DEFAULT_GRACE_SECONDS = 30.0
# Per outgoing video stream, by number of peers: a mesh sender uploads one stream per peer.
BITRATE_KBPS = (1500, 1500, 1200, 800, 600, 500)

_HOST_ONLY = (Admit, TurnAway, SendToWaitingRoom, SideRoomCreate, SideRoomMove, SideRoomReturn, EndSession)
_IN_CALL_ONLY = (Offer, Answer, Candidate, Chat)
_ADMITTED_ONLY = _HOST_ONLY + _IN_CALL_ONLY
_RELAYED = frozenset((Offer, Answer, Candidate))  # by exact type: the message classes are final
# Chat: a short burst (a few quick lines), then one line a second; typing by hand never meets it.
CHAT_BURST = 10
CHAT_PER_SECOND = 1.0


def _wall_clock() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def bitrate_for(peers: int) -> int:
    """The video bitrate cap, in kbit/s, for a sender with this many peers."""
    return BITRATE_KBPS[min(peers, len(BITRATE_KBPS) - 1)]


class RoomState(enum.StrEnum):
    OPEN = "open"
    ENDED = "ended"


# An enum member read through its class costs 70 ns on Python 3.11 (the metaclass's lookup), a module name
# 20: every relayed message makes three comparisons with these two, so they are read once here.
_ENDED, _ADMITTED = RoomState.ENDED, State.ADMITTED


class EventKind(enum.StrEnum):
    ADMITTED = "admitted"
    DROPPED = "dropped"
    RECONNECTED = "reconnected"
    LEFT = "left"
    ENDED = "ended"
    MOVED_ASIDE = "moved-aside"  # taken into a side room (``reason``: which); still in the session
    BROUGHT_BACK = "brought-back"  # back in the main room from a side room


@dataclasses.dataclass(frozen=True, slots=True)
class RoomEvent:
    """Something attendance records care about, as it happened."""

    kind: EventKind
    at: float
    participant_id: str | None = None
    reason: str | None = None


class Room:
    """The state machine of one session."""

    def __init__(
        self,
        room_id: str,
        *,
        grace: float = DEFAULT_GRACE_SECONDS,
        max_participants: int = MAX_ROOM_PARTICIPANTS,
        wall_clock: Callable[[], dt.datetime] = _wall_clock,
    ) -> None:
        self.room_id = room_id
        self._wall_clock = wall_clock  # only to stamp chat lines with a time people can read
        self.grace = grace
        self.max_participants = max_participants
        self.state = RoomState.OPEN
        self._roster = Roster()
        self._side_rooms = SideRooms(self._roster.participants)
        self._help = HelpDesk(self._roster)
        self._events: list[RoomEvent] = []
        self._ice_refresh = IceRefreshLimit()
        self._chat_buckets: dict[str, TokenBucket] = {}

    @property
    def host_id(self) -> str | None:
        return self._roster.host_id

    # --- what the transport calls -------------------------------------------

    def connect(self, identity: Identity, peer: Peer, now: float) -> None:
        """A connection authenticated as ``identity``: welcome it into the waiting room or the call."""
        self._require_open()
        if identity.room_id != self.room_id:
            raise errors.WrongRoom()
        if identity.role is Role.HOST and self.host_id not in (None, identity.participant_id):
            raise errors.HostTaken()
        known = self._roster.get(identity.participant_id)
        if known is not None and known.role is not identity.role:
            raise errors.WrongRoom(f"This participant is in the session as {known.role}, not {identity.role}.")
        if identity.role is Role.HOST:
            self._roster.host_id = identity.participant_id
        record = self._roster.participants.setdefault(identity.participant_id, Participant(identity))
        record.identity = identity
        if record.connected:
            self._replace(record, peer, now)
        elif record.state is State.DROPPED:
            self._reconnect(record, peer, now)
        else:
            record.move(Input.ARRIVE, now)
            self._roster.attach(record, peer)
            self._welcome(record)
            self._settle_waiting(record, now)

    def receive(self, peer: Peer, message: InboundMessage, now: float) -> bool:
        """One parsed message from ``peer``; raises a signalling error to refuse it.

        Returns whether attendance or safety events now wait to be taken (``has_news``): never after a relayed
        message, which records nothing, so the caller need not ask for nearly every message.
        """
        if self.state is _ENDED:  # _require_open, without its call: every message passes here
            raise errors.SessionEnded()
        sender = self._roster.current(peer)
        if sender is None:
            raise errors.StaleConnection()
        if type(message) in _RELAYED:
            # Nearly every message is one of these: relayed before the other kinds are matched, and in_call
            # read in line (the sender's peer is set, since it is theirs that sent this).
            if sender.state is not _ADMITTED:
                raise errors.NotAdmitted()
            self._relay(sender, message)  # type: ignore[arg-type]
            return False
        self._authorise(sender, message)
        match message:
            case Admit():
                self._admit(self._roster.target(message.participant), now)
            case TurnAway():
                self._turn_away(self._roster.target(message.participant), now)
            case SendToWaitingRoom():
                self._send_back(sender, self._roster.target(message.participant), now)
            case MediaState():
                self._media_state(sender, message)
            case Offer() | Answer() | Candidate():
                raise AssertionError("relayed above")  # listed so the match stays exhaustive for type checks
            case SideRoomCreate():
                aside = [self._roster.target(pid) for pid in message.participants]
                name = self._side_rooms.create(aside)
                self._moved(aside, EventKind.MOVED_ASIDE, now, name)
                self._update_bitrates()
            case SideRoomMove():
                moved = self._roster.target(message.participant)
                self._side_rooms.move(moved, message.side_room)
                self._moved([moved], EventKind.MOVED_ASIDE, now, message.side_room)
                self._update_bitrates()
            case SideRoomReturn():
                back = [self._roster.target(pid) for pid in message.participants]
                self._side_rooms.bring_back(back)
                self._moved(back, EventKind.BROUGHT_BACK, now)
                self._update_bitrates()
            case EndSession():
                self.end(now, Departure.ENDED_BY_HOST)
            case IceServers():
                self._fresh_ice_servers(sender, now)
            case Leave():
                self._leave(sender, now)
            case Help():
                self._help.ask(sender, now)
            case HelpAcknowledge():
                self._help.acknowledge_from(sender, message.alert, now)
            case Chat():
                self._chat(sender, message, now)
            case Ping():
                self._roster.send(sender, outbound.pong(message.nonce))
            case Pong():
                pass  # liveness is the transport's business: any message counts
            case Hello():
                raise errors.AlreadyJoined()
            case _:
                assert_never(message)
        return self.has_news

    def disconnect(self, peer: Peer, now: float) -> None:
        """The socket of ``peer`` closed without leave: hold their place for the grace period."""
        record = self._roster.current(peer)
        if record is None:
            return  # replaced, turned away, or already gone: nothing to hold
        in_call = record.in_call
        self._roster.detach(record)
        record.move(Input.DROP, now)
        if in_call:
            self._roster.broadcast(outbound.presence(PresenceEvent.DROPPED, record.view()))
            self._event(EventKind.DROPPED, now, record)
            self._host_check_out(record)
            self._update_bitrates()
        else:
            self._roster.tell_host(outbound.participant_left_waiting(record.id, Departure.DROPPED))

    def expire(self, now: float) -> None:
        """Whoever dropped more than ``grace`` seconds ago has left."""
        for record in self._roster:
            gone_since = record.dropped_at if record.state is State.DROPPED else None
            if gone_since is not None and now - gone_since >= self.grace:
                held_seat = record.holds_a_seat
                record.move(Input.EXPIRE, now)
                if held_seat:
                    self._left_call(record, Departure.TIMED_OUT, now)

    def set_consent(self, participant_id: str, consent_ok: bool, now: float) -> None:
        """The sessions layer recorded or withdrew a participant's consent."""
        record = self._roster.get(participant_id)
        if record is None or self.state is RoomState.ENDED:
            return
        record.identity = dataclasses.replace(record.identity, consent_ok=consent_ok)
        if record.state is State.LEFT:
            return
        if consent_ok:
            if record.state is State.WAITING:
                self._roster.tell_host(outbound.participant_waiting(record.waiting_view()))
        elif not record.consent_allows_admission:
            self._remove(record, Departure.CONSENT_WITHDRAWN, now)

    def end(self, now: float, reason: Departure = Departure.ENDED) -> None:
        """End the session for everyone; nobody can join it again."""
        if self.state is RoomState.ENDED:
            return
        for record in self._roster:
            peer = self._roster.detach(record)
            if peer is not None:
                peer.send(outbound.session_ended(reason))
                peer.close(CloseCode.SESSION_ENDED, "session-ended")
            if record.holds_a_seat:
                self._event(EventKind.LEFT, now, record, reason)
            if record.state is not State.LEFT:
                record.move(Input.REMOVE, now)
        self.state = RoomState.ENDED
        self._event(EventKind.ENDED, now, reason=reason)

    def remove(self, participant_id: str, reason: Departure, now: float) -> bool:
        """Take someone out from outside the call (their link was revoked); False when they are not here."""
        record = self._roster.get(participant_id)
        if record is None or self.state is RoomState.ENDED or record.state is State.LEFT:
            return False
        self._remove(record, reason, now)
        return True

    def tell_host(self, message: outbound.Message) -> bool:
        """A message from the sessions layer (a time warning) to the host; False when the host is not in the call."""
        host = self._roster.host
        if self.state is RoomState.ENDED or host is None or not host.in_call or host.peer is None:
            return False
        self._roster.send(host, message)
        return True

    @property
    def has_news(self) -> bool:
        """Whether attendance or safety events wait to be taken: relaying a message records none."""
        return bool(self._events) or self._help.has_events

    def take_events(self) -> list[RoomEvent]:
        """The events since the last call, oldest first, for the attendance record."""
        events, self._events = self._events, []
        return events

    def take_safety_events(self) -> list[SafetyEvent]:
        """The safety alerts asked for and acknowledged since the last call, for the case record."""
        return self._help.take_events()

    def acknowledge_help(self, alert_id: str, staff_id: str, now: float) -> None:
        """Staff acknowledged an alert outside the call (the alerts API); UnknownAlert if not this room's."""
        self._help.acknowledge(alert_id, staff_id, now)

    def participant(self, participant_id: str) -> Participant | None:
        return self._roster.get(participant_id)

    def side_rooms(self) -> dict[str, list[str]]:
        return self._side_rooms.snapshot()

    @property
    def is_idle(self) -> bool:
        """Nobody is connected or due back."""
        return self._roster.is_idle

    # --- authority ----------------------------------------------------------

    def _require_open(self) -> None:
        if self.state is RoomState.ENDED:
            raise errors.SessionEnded()

    def _authorise(self, sender: Participant, message: InboundMessage) -> None:
        if isinstance(message, _HOST_ONLY) and sender.role is not Role.HOST:
            raise errors.NotHost()
        if isinstance(message, _ADMITTED_ONLY) and not sender.in_call:
            raise errors.NotAdmitted()

    # --- admission ----------------------------------------------------------

    def _settle_waiting(self, record: Participant, now: float) -> None:
        """Someone is (back) in the waiting room: staff with a free seat go straight in."""
        if record.role is not Role.FAMILY and self._has_seat_for(record):
            record.move(Input.ADMIT, now)
            self._in_call(record, PresenceEvent.JOINED, now)
            return
        self._roster.send(record, outbound.waiting(self._waiting_reason()))
        self._roster.tell_host(outbound.participant_waiting(record.waiting_view()))

    def _has_seat_for(self, record: Participant) -> bool:
        if record.role is Role.HOST or record.holds_a_seat:
            return True
        # The host's seat is kept free even before the host arrives.
        return self._roster.seats_taken_by_others_than_host() + 2 <= self.max_participants

    def _admit(self, target: Participant, now: float) -> None:
        target.check(Input.ADMIT)
        if not target.consent_allows_admission:
            raise errors.ConsentMissing(participant=target.id)
        if not self._has_seat_for(target):
            raise errors.RoomFull(max_participants=self.max_participants)
        target.move(Input.ADMIT, now)
        self._roster.tell_host(outbound.participant_left_waiting(target.id, Departure.ADMITTED))
        self._in_call(target, PresenceEvent.JOINED, now)

    def _turn_away(self, target: Participant, now: float) -> None:
        target.check(Input.TURN_AWAY)
        peer = self._roster.detach(target)
        target.move(Input.TURN_AWAY, now)
        if peer is not None:
            peer.send(outbound.turned_away())
            peer.close(CloseCode.TURNED_AWAY, "turned-away")
        self._roster.tell_host(outbound.participant_left_waiting(target.id, Departure.TURNED_AWAY))

    def _send_back(self, sender: Participant, target: Participant, now: float) -> None:
        if target is sender or target.role is Role.HOST:
            raise errors.InvalidTarget("The host cannot be sent to the waiting room.", participant=target.id)
        target.check(Input.SEND_BACK)
        target.move(Input.SEND_BACK, now)
        self._roster.send(target, outbound.waiting(WaitingReason.SENT_BACK))
        self._left_call(target, Departure.SENT_TO_WAITING_ROOM, now)
        self._roster.tell_host(outbound.participant_waiting(target.waiting_view()))

    def _in_call(self, record: Participant, event: PresenceEvent, now: float) -> None:
        """``record`` is now in the call on a fresh connection: brief them, and tell the others."""
        others = [other for other in self._roster.seat_holders() if other is not record]
        call = [other.id for other in others if other.in_call and other.side_room == record.side_room]
        self._roster.send(
            record,
            outbound.admitted([other.view() for other in others], call, record.side_room, self.side_rooms()),
        )
        self._roster.broadcast(outbound.presence(event, record.view()), exclude=record)
        kind = EventKind.ADMITTED if event is PresenceEvent.JOINED else EventKind.RECONNECTED
        self._event(kind, now, record)
        if record.id == self.host_id:
            self._host_checked_in()
        self._update_bitrates()

    def _waiting_reason(self) -> WaitingReason:
        return WaitingReason.AWAITING_ADMISSION if self._roster.host_in_call else WaitingReason.HOST_ABSENT

    def _host_checked_in(self) -> None:
        for record in self._roster.waiting():
            self._roster.tell_host(outbound.participant_waiting(record.waiting_view()))
            self._roster.send(record, outbound.waiting(WaitingReason.AWAITING_ADMISSION))

    def _host_check_out(self, record: Participant) -> None:
        if record.id == self.host_id:
            for waiting in self._roster.waiting():
                self._roster.send(waiting, outbound.waiting(WaitingReason.HOST_ABSENT))

    # --- connections come and go --------------------------------------------

    def _replace(self, record: Participant, peer: Peer, now: float) -> None:
        """A second connection with the same identity takes over from the first."""
        old = self._roster.detach(record)
        if old is not None:
            old.send(outbound.replaced())
            old.close(CloseCode.REPLACED, "replaced")
        self._roster.attach(record, peer)
        self._welcome(record)
        if record.state is State.ADMITTED:
            self._in_call(record, PresenceEvent.RECONNECTED, now)
        else:
            self._roster.send(record, outbound.waiting(self._waiting_reason()))

    def _reconnect(self, record: Participant, peer: Peer, now: float) -> None:
        """Back within the grace period: to the call without waiting, or to the waiting room."""
        if record.dropped_from is State.ADMITTED and not record.consent_allows_admission:
            record.dropped_from = State.WAITING
            self._left_call(record, Departure.CONSENT_WITHDRAWN, now)
        self._roster.attach(record, peer)
        record.move(Input.RECONNECT, now)
        self._welcome(record)
        if record.state is State.ADMITTED:
            self._in_call(record, PresenceEvent.RECONNECTED, now)
        else:
            self._settle_waiting(record, now)

    def _leave(self, sender: Participant, now: float) -> None:
        in_call = sender.in_call
        peer = self._roster.detach(sender)
        sender.move(Input.LEAVE, now)
        if peer is not None:
            peer.close(CloseCode.NORMAL, "left")
        if in_call:
            self._left_call(sender, Departure.LEFT, now)
            self._host_check_out(sender)
        else:
            self._roster.tell_host(outbound.participant_left_waiting(sender.id, Departure.LEFT))

    def _remove(self, record: Participant, reason: Departure, now: float) -> None:
        held_seat, waiting = record.holds_a_seat, record.state is State.WAITING
        peer = self._roster.detach(record)
        record.move(Input.REMOVE, now)
        if peer is not None:
            peer.send(outbound.removed(reason))
            peer.close(CloseCode.REMOVED, str(reason))
        if held_seat:
            self._left_call(record, reason, now)
        elif waiting:
            self._roster.tell_host(outbound.participant_left_waiting(record.id, reason))

    def _left_call(self, record: Participant, reason: Departure, now: float) -> None:
        self._roster.broadcast(outbound.presence(PresenceEvent.LEFT, record.view(), reason))
        self._event(EventKind.LEFT, now, record, reason)
        self._update_bitrates()

    # --- media signalling ---------------------------------------------------

    def _fresh_ice_servers(self, sender: Participant, now: float) -> None:
        """Answer ``ice-servers``; the transport adds the TURN credentials, which the room never sees.

        Someone waiting may ask too: their connection test before joining must try the path the call
        will take, TURN included. One allowance per person, whether waiting or in the call.
        """
        self._ice_refresh.allow(sender.id, now)
        self._roster.send(sender, outbound.ice_servers())

    def _moved(self, records: list[Participant], kind: EventKind, now: float, side_room: str | None = None) -> None:
        """Side-room moves go into the attendance record: who was taken aside or brought back, and when."""
        for record in records:
            self._event(kind, now, record, side_room)

    def _media_state(self, sender: Participant, message: MediaState) -> None:
        sender.audio, sender.video, sender.screen = message.audio, message.video, message.screen
        if sender.in_call:
            self._roster.broadcast(outbound.presence(PresenceEvent.MEDIA, sender.view()), exclude=sender)

    def _relay(self, sender: Participant, message: Offer | Answer | Candidate) -> None:
        target = self._roster.target(message.to)
        if target is sender:
            raise errors.InvalidTarget("A participant cannot signal to themselves.", participant=target.id)
        # in_call and id read in line: every relayed message passes here, and a property is a call.
        if target.state is not _ADMITTED or target.peer is None:
            raise errors.PeerUnavailable(participant=target.id)
        if target.side_room != sender.side_room:
            raise errors.PeerApart(participant=target.id)
        sender_id = sender.identity.participant_id
        match message:  # candidates first: a call trickles ten or more for each offer
            case Candidate():
                relayed = outbound.relayed_candidate(sender_id, message)
            case Offer():
                relayed = outbound.relayed_offer(sender_id, message.sdp)
            case Answer():
                relayed = outbound.relayed_answer(sender_id, message.sdp)
            case _:
                assert_never(message)
        target.peer.send(relayed)  # type: ignore[union-attr]  # in the call, so connected

    def _chat(self, sender: Participant, message: Chat, now: float) -> None:
        """Relay a chat line to everyone in the sender's part of the call, and nowhere else; nothing is kept.

        A child taken aside must be able to write what they would not say in front of the others,
        so a side room's lines stay in it, and the main room's lines never reach it.
        """
        bucket = self._chat_buckets.setdefault(sender.id, TokenBucket(CHAT_PER_SECOND, CHAT_BURST))
        if not bucket.take(now):
            raise errors.ChatLimited(retry_after=round(bucket.retry_after(now), 1))
        line = outbound.chat(sender.id, message.text, self._wall_clock().isoformat(), sender.side_room)
        for record in self._roster.in_call():
            if record.side_room == sender.side_room:
                self._roster.send(record, line)

    def _update_bitrates(self) -> None:
        """Tell each sender in the call its cap whenever its number of peers changes."""
        in_call = self._roster.in_call()
        for record in in_call:
            peers = sum(1 for other in in_call if other is not record and other.side_room == record.side_room)
            if record.bitrate_peers != peers:
                record.bitrate_peers = peers
                self._roster.send(record, outbound.bitrate(bitrate_for(peers), peers))

    # --- plumbing -----------------------------------------------------------

    def _welcome(self, record: Participant) -> None:
        limits = {
            "max_frame_bytes": MAX_FRAME_BYTES,
            "max_sdp_chars": MAX_SDP_CHARS,
            "max_candidate_chars": MAX_CANDIDATE_CHARS,
            "max_participants": self.max_participants,
            "reconnect_grace_seconds": self.grace,
        }
        self._roster.send(record, outbound.welcome(record.view(), self.room_id, limits))
        self._help.brief(record)

    def _event(self, kind: EventKind, now: float, record: Participant | None = None, reason: str | None = None) -> None:
        shown_reason = None if reason is None else str(reason)
        self._events.append(RoomEvent(kind, now, record.id if record else None, shown_reason))
