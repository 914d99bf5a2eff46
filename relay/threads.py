"""Thread rules, pure: who may create, invite, join, remove, post and read; time is passed in.

Membership: the creator (an IC) is the first member; others join with a single-use,
expiring invite. An IC member may remove any other member; any member may leave (remove
themself), except the last IC, so a thread always has someone who can invite. A removed
member cannot rejoin the same thread, post, or read envelopes sequenced after the removal.

Envelope admission, in this order (docs/api.md lists the statuses): the relay's recipient
cap, the outer signature, sender == caller, the envelope's thread == the URL's thread, the
sender is a current member, every recipient is a current member and every recipient device
is one of that member's current device keys. Previous hash and duplicates need storage and
are checked by ``relay.service.envelopes``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from keys.envelope import Envelope
from keys.errors import EncodingError, KeysError, LimitError
from keys.identity import Fingerprint
from relay.errors import (
    ConflictError,
    InvalidRequestError,
    InviteExpiredError,
    InviteUsedError,
    NotAllowedError,
    NotAMemberError,
    NotFoundError,
    TooLargeError,
    UnprocessableError,
)

IC_ROLE = "ic"


@dataclass(frozen=True, slots=True)
class MemberState:
    """What the rules need to know about one member of a thread."""

    identity_key: bytes
    role: str
    devices: frozenset[bytes]
    removed_after: int | None = None
    """None while a member; after removal, the last sequence the member may still read."""

    @property
    def current(self) -> bool:
        return self.removed_after is None


@dataclass(frozen=True, slots=True)
class InviteState:
    thread_id: bytes
    expires_at: int
    used: bool


def check_create_thread(role: str | None) -> None:
    if role is None:
        raise NotAllowedError("Register your identity with the relay before creating a thread.")
    if role != IC_ROLE:
        raise NotAllowedError(
            f"Only an intimacy coordinator can create a thread; your identity's role is {role}."
        )


def require_member(members: Mapping[bytes, MemberState], who: bytes) -> MemberState:
    """The caller's membership, current or past; refuse outsiders."""
    member = members.get(who)
    if member is None:
        raise NotAMemberError("You are not a member of this thread.")
    return member


def require_current(members: Mapping[bytes, MemberState], who: bytes) -> MemberState:
    member = require_member(members, who)
    if not member.current:
        raise NotAMemberError("You were removed from this thread.")
    return member


def check_new_invite(
    members: Mapping[bytes, MemberState], inviter: bytes, expires_at: int, now: int, ttl_max: int
) -> None:
    member = require_current(members, inviter)
    if member.role != IC_ROLE:
        raise NotAllowedError("Only an intimacy coordinator member can invite to a thread.")
    if expires_at <= now:
        raise InvalidRequestError("The invite's expiry time must be in the future.")
    if expires_at - now > ttl_max:
        raise InvalidRequestError(
            f"An invite may be valid for at most {ttl_max} seconds on this relay."
        )


def check_join(
    invite: InviteState | None,
    thread_id: bytes,
    members: Mapping[bytes, MemberState],
    joiner: bytes,
    now: int,
) -> None:
    if invite is None or invite.thread_id != thread_id:
        raise NotFoundError("There is no such invite for this thread; ask for a new invite code.")
    existing = members.get(joiner)
    if existing is not None:
        if existing.current:
            raise ConflictError("You are already a member of this thread.")
        raise NotAllowedError("You were removed from this thread and cannot rejoin it.")
    if invite.used:
        raise InviteUsedError("This invite was already used; invites work once.")
    if now >= invite.expires_at:
        raise InviteExpiredError("This invite has expired; ask for a new invite code.")


def check_removal(members: Mapping[bytes, MemberState], actor: bytes, target: bytes) -> None:
    acting = require_current(members, actor)
    removed = members.get(target)
    if removed is None or not removed.current:
        raise NotFoundError(f"{Fingerprint.of(target)} is not a current member of this thread.")
    if actor != target and acting.role != IC_ROLE:
        raise NotAllowedError("Only an intimacy coordinator can remove another member.")
    if actor == target and acting.role == IC_ROLE:
        others = [
            m for m in members.values() if m.current and m.role == IC_ROLE and m is not acting
        ]
        if not others:
            raise ConflictError("The last intimacy coordinator of a thread cannot leave it.")


def parse_envelope(body: bytes, max_recipients: int) -> Envelope:
    """Parse and check what needs no storage: format, the relay's cap, the outer signature."""
    try:
        envelope = Envelope.from_bytes(body)
    except LimitError as exc:
        raise TooLargeError(str(exc)) from exc
    except EncodingError as exc:
        raise InvalidRequestError(str(exc)) from exc
    return check_parsed_envelope(envelope, max_recipients)


def check_parsed_envelope(envelope: Envelope, max_recipients: int) -> Envelope:
    """The checks of :func:`parse_envelope` after parsing: the relay's cap, the signature."""
    if len(envelope.context.recipients) > max_recipients:
        raise TooLargeError(
            f"This relay accepts at most {max_recipients} recipient devices per envelope, "
            f"not {len(envelope.context.recipients)}."
        )
    try:
        return envelope.verify_outer()
    except KeysError as exc:
        raise UnprocessableError(f"The envelope's outer signature does not verify: {exc}") from exc


def check_envelope(
    envelope: Envelope, *, caller: bytes, thread_id: bytes, members: Mapping[bytes, MemberState]
) -> None:
    """Sender, thread and recipients against the thread as stored."""
    context = envelope.context
    if context.sender != caller:
        raise NotAllowedError("You can only post envelopes you signed yourself as sender.")
    if context.thread != thread_id:
        raise UnprocessableError("This envelope belongs to another thread.")
    require_current(members, caller)
    for recipient in context.recipients:
        member = members.get(recipient.identity)
        if member is None or not member.current or recipient.device not in member.devices:
            raise UnprocessableError(
                "The envelope's recipients do not match the thread: every recipient must be a "
                "current member's current device key."
            )


def readable_until(member: MemberState) -> int | None:
    """The last sequence a member may read (None: no limit)."""
    return member.removed_after
