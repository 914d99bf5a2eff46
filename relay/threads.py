"""Thread rules, pure: who may create, invite, join, grant, remove, post and read; time is
passed in.

Authority comes from the thread, never from the ``role`` an identity states about itself
(``keys.roles``). The creator is the thread's IC and its first member; nobody can remove the
creator and the creator cannot leave. Another member becomes a co-coordinator only by the
creator's signed, logged grant (``keys.grant``); a co-coordinator cannot grant others, and
only the creator removes one. Others join with a single-use, expiring invite that names the
role it admits. A coordinator may invite and may remove members who are not coordinators; any
member but the creator may leave. A revoked identity can do nothing. If the creator's identity
is revoked, the co-coordinators keep their powers and nobody can grant new ones.

A removed member cannot rejoin, read envelopes sequenced after the removal, or learn anything
of the thread past it, but may still post, within a small budget of their own, envelopes
addressed only to the thread's coordinators and their own devices: a withdrawal, a check-in or
a report always lands.

Envelope admission, in this order (docs/api.md lists the statuses): the relay's recipient
cap, the outer signature, sender == caller, the envelope's thread == the URL's thread, the
sender is a member whose identity is not revoked, and then for a current member every
recipient is a current member's current device key; for a removed member every recipient is a
current coordinator's device or the sender's own, within the budget. Previous hash and
duplicates need storage and are checked by ``relay.service.envelopes``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from keys.envelope import Envelope
from keys.errors import EncodingError, KeysError, LimitError
from keys.grant import Grant
from keys.identity import Fingerprint
from keys.roles import INVITABLE_ROLES, THREAD_ROLES, thread_role
from relay.errors import (
    BudgetSpentError,
    ConflictError,
    InvalidRequestError,
    InviteExpiredError,
    InviteUsedError,
    NotAllowedError,
    NotAMemberError,
    NotFoundError,
    RevokedError,
    TooLargeError,
    TooManyError,
    UnprocessableError,
)

IC_ROLE = "ic"
DAY = 86400


@dataclass(frozen=True, slots=True)
class MemberState:
    """What the rules need to know about one member of a thread."""

    identity_key: bytes
    role: str
    """The member's role in this thread (``keys.roles``), never the identity's own claim."""
    devices: frozenset[bytes]
    removed_after: int | None = None
    """None while a member; after removal, the last sequence the member may still read."""
    creator: bool = False
    revoked: bool = False
    """The identity was revoked: it can do nothing, and it has no device left."""
    posts_after_removal: int = 0

    @property
    def current(self) -> bool:
        return self.removed_after is None

    @property
    def coordinates(self) -> bool:
        """A coordinator right now: a current, unrevoked member in a coordinating role."""
        role = thread_role(self.role)
        return self.current and not self.revoked and role is not None and role.coordinates


@dataclass(frozen=True, slots=True)
class InviteState:
    thread_id: bytes
    expires_at: int
    used: bool
    role: str = "performer"


def check_not_revoked(revoked: bool) -> None:
    """Every signed request, and every envelope however it arrives: not a revoked identity."""
    if revoked:
        raise RevokedError(
            "This identity was revoked, so the relay accepts nothing it signs; use your new "
            'identity (docs/api.md, "A revoked identity").'
        )


def check_create_thread(registered: bool, created_recently: int, per_day: int) -> None:
    """Any registered identity may create a thread (and is its IC), a few a day."""
    if not registered:
        raise NotAllowedError("Register your identity with the relay before creating a thread.")
    if created_recently >= per_day:
        raise TooManyError(
            f"This identity created {created_recently} threads in the last 24 hours, the most "
            "this relay allows; try again in an hour.",
            retry_after=3600,
        )


def coordinators(members: Mapping[bytes, MemberState]) -> list[MemberState]:
    return [m for m in members.values() if m.coordinates]


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


def require_coordinator(members: Mapping[bytes, MemberState], who: bytes, what: str) -> None:
    if not require_current(members, who).coordinates:
        raise NotAllowedError(
            f"Only the thread's coordinators (its creator, and members the creator granted "
            f"coordination) can {what}."
        )


def check_invite_role(role: object) -> str:
    if not isinstance(role, str) or role not in THREAD_ROLES:
        raise InvalidRequestError(f"An invite's role must be one of {', '.join(INVITABLE_ROLES)}.")
    if role not in INVITABLE_ROLES:
        raise InvalidRequestError(
            f"An invite cannot admit a member as {role}: a co-coordinator exists only by the "
            "creator's signed grant (POST /v1/threads/{thread}/grants)."
        )
    return role


def check_new_invite(
    members: Mapping[bytes, MemberState], inviter: bytes, expires_at: int, now: int, ttl_max: int
) -> None:
    require_coordinator(members, inviter, "invite to it")
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


def check_grant(
    members: Mapping[bytes, MemberState], caller: bytes, grant: Grant, thread_id: bytes
) -> MemberState:
    """The creator makes a current member a coordinator; returns the grantee's state."""
    acting = require_current(members, caller)
    if grant.granter != caller:
        raise NotAllowedError("You can only send a grant you signed yourself.")
    if grant.thread != thread_id:
        raise UnprocessableError("This grant is for another thread.")
    if not acting.creator or acting.revoked:
        raise NotAllowedError(
            "Only the thread's creator can make a member co-coordinator; a co-coordinator "
            "cannot grant others."
        )
    grantee = members.get(grant.grantee)
    if grantee is None or not grantee.current:
        raise UnprocessableError(
            f"{Fingerprint.of(grant.grantee)} is not a current member of this thread; "
            "invite them first."
        )
    if grantee.revoked:
        raise UnprocessableError(f"{Fingerprint.of(grant.grantee)} has revoked their identity.")
    if grantee.coordinates:
        raise ConflictError(f"{Fingerprint.of(grant.grantee)} is already a coordinator.")
    return grantee


def check_removal(members: Mapping[bytes, MemberState], actor: bytes, target: bytes) -> None:
    acting = require_current(members, actor)
    removed = members.get(target)
    if removed is None or not removed.current:
        raise NotFoundError(f"{Fingerprint.of(target)} is not a current member of this thread.")
    if actor == target:
        if removed.creator:
            raise ConflictError(
                "The creator of a thread is its IC and cannot leave it; grant a co-coordinator "
                "to share the work instead."
            )
        return
    require_coordinator(members, actor, "remove another member")
    if removed.creator:
        raise NotAllowedError("Nobody can remove the creator of a thread: it is the thread's IC.")
    if removed.coordinates and not acting.creator:
        raise NotAllowedError("Only the thread's creator can remove a co-coordinator.")


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
    envelope: Envelope,
    *,
    caller: bytes,
    thread_id: bytes,
    members: Mapping[bytes, MemberState],
    removed_budget: int,
) -> None:
    """Sender, thread and recipients against the thread as stored."""
    context = envelope.context
    if context.sender != caller:
        raise NotAllowedError("You can only post envelopes you signed yourself as sender.")
    if context.thread != thread_id:
        raise UnprocessableError("This envelope belongs to another thread.")
    sender = require_member(members, caller)
    check_not_revoked(sender.revoked)
    if sender.current:
        allowed = {m.identity_key: m.devices for m in members.values() if m.current}
        wrong = (
            "The envelope's recipients do not match the thread: every recipient must be a "
            "current member's current device key."
        )
    else:
        if sender.posts_after_removal >= removed_budget:
            raise BudgetSpentError(
                f"You were removed from this thread and have sent the {removed_budget} "
                "envelopes to its coordinators that a removed member may; tell the IC in "
                "person or in writing."
            )
        allowed = {m.identity_key: m.devices for m in coordinators(members)}
        allowed[caller] = sender.devices
        wrong = (
            "You were removed from this thread: you can still send a withdrawal, check-in or "
            "report, addressed only to the thread's coordinators and your own devices."
        )
    for recipient in context.recipients:
        if recipient.device not in allowed.get(recipient.identity, frozenset()):
            raise UnprocessableError(wrong)


def readable_until(member: MemberState) -> int | None:
    """The last sequence a member may read (None: no limit)."""
    return member.removed_after
