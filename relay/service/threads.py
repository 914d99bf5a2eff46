"""Threads and membership: create, list, describe, invite, join, grant, remove.

Joins and removals are not logged (log entries say nothing about who is in which thread);
they commit in one transaction each. A grant is logged (its entry holds only the hash of the
signed grant) and commits with its log entry, inside the sequencer's round. Every membership
change locks the thread row and takes the next roster number from it: the same row every
envelope's sequencing updates, so an envelope is either sequenced before a removal (the
removed member may read it) or after it (then only as a removed member's post to the
coordinators). Changes drop the thread from this process's admission cache once done.

A removed member is shown the thread as it stood at their removal: the envelope count and
heads up to it, and only the members, removals and grants numbered before it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import and_, exists, func, insert, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased
from sqlalchemy.sql.selectable import ScalarSelect

from keys.errors import KeysError, LimitError
from keys.grant import decode_grant
from relay.db.api_models import (
    EnvelopeReader,
    Grant,
    Identity,
    Invite,
    Member,
    StoredEnvelope,
    Thread,
)
from relay.directory import split_devices
from relay.errors import (
    ConflictError,
    InvalidRequestError,
    InviteUsedError,
    NotAllowedError,
    NotFoundError,
    TooLargeError,
)
from relay.log.entry import RecordType
from relay.log.sequencer import ExtraRows, LogPosition, Receipt
from relay.service.backend import Backend
from relay.threads import (
    DAY,
    InviteState,
    MemberState,
    check_create_thread,
    check_grant,
    check_invite_role,
    check_join,
    check_new_invite,
    check_removal,
    require_member,
)

MAX_HEADS = 16


@dataclass(frozen=True, slots=True)
class MemberInfo:
    identity_key: bytes
    fingerprint: bytes
    role: str
    """The member's role in the thread (as it stood when the caller was removed, if they were)."""
    devices: list[bytes]
    joined_at: int
    removed_at: int | None
    invite_id: bytes | None
    join_proof: bytes | None
    creator: bool = False


@dataclass(frozen=True, slots=True)
class GrantInfo:
    grantee: bytes
    granter: bytes
    statement: bytes
    log_index: int
    granted_at: int


@dataclass(frozen=True, slots=True)
class ThreadInfo:
    thread_id: bytes
    creator: bytes
    created_at: int
    envelope_count: int
    """How many envelopes of the thread are addressed to the caller (not the thread's total)."""
    members: list[MemberInfo]
    heads: list[bytes]
    """Hashes of the caller's envelopes that none of the caller's envelopes names as
    previous, newest first (for a removed member: as the thread stood at their removal)."""
    grants: list[GrantInfo]


@dataclass(frozen=True, slots=True)
class ThreadSummary:
    thread_id: bytes
    created_at: int
    envelope_count: int
    removed: bool


async def registered(session: AsyncSession, identity_key: bytes) -> bool:
    found = await session.execute(
        select(Identity.identity_key).where(Identity.identity_key == identity_key)
    )
    return found.scalar() is not None


async def load_thread(session: AsyncSession, thread_id: bytes) -> Thread:
    thread = await session.get(Thread, thread_id)
    if thread is None:
        raise NotFoundError("There is no such thread on this relay.")
    return thread


async def load_members(session: AsyncSession, thread_id: bytes) -> dict[bytes, MemberState]:
    rows = await session.execute(
        select(
            Member.identity_key,
            Member.removed_after,
            Member.role,
            Member.posts_after_removal,
            Identity.devices,
            Identity.revoked,
            Thread.creator,
        )
        .join(Identity, Identity.identity_key == Member.identity_key)
        .join(Thread, Thread.thread_id == Member.thread_id)
        .where(Member.thread_id == thread_id)
    )
    return {
        row.identity_key: MemberState(
            row.identity_key,
            row.role,
            split_devices(row.devices),
            row.removed_after,
            creator=row.creator == row.identity_key,
            revoked=bool(row.revoked),
            posts_after_removal=int(row.posts_after_removal),
        )
        for row in rows
    }


async def create_thread(backend: Backend, caller: bytes, thread_id: bytes, now: int) -> None:
    async with backend.sessions() as session:
        recent = (
            await session.execute(
                select(func.count())
                .select_from(Thread)
                .where(Thread.creator == caller, Thread.created_at > now - DAY)
            )
        ).scalar_one()
        check_create_thread(
            await registered(session, caller), int(recent), backend.limits.threads_per_day
        )
        if await session.get(Thread, thread_id) is not None:
            raise ConflictError("A thread with this id already exists; choose a new random id.")
    try:
        # Writes open the transaction: on SQLite a transaction that reads first and writes
        # later fails outright if another connection committed in between.
        async with backend.sessions() as session, session.begin():
            await session.execute(
                insert(Thread).values(
                    thread_id=thread_id,
                    creator=caller,
                    created_at=now,
                    envelope_count=0,
                    roster=0,
                )
            )
            await session.execute(
                insert(Member).values(
                    thread_id=thread_id,
                    identity_key=caller,
                    role="ic",
                    joined_at=now,
                    joined_after=0,
                    joined_roster=0,
                )
            )
    except IntegrityError as exc:
        raise ConflictError(
            "A thread with this id already exists; choose a new random id."
        ) from exc


def _served_count(caller: bytes, thread_id: Any, until: Any = None) -> ScalarSelect[int]:
    """How many envelopes of the thread are addressed to ``caller``: their last reader number,
    for a removed member among the envelopes up to their removal (``until``: the last thread
    sequence they may read, a value or a column; None: no limit)."""
    query = select(func.coalesce(func.max(EnvelopeReader.reader_sequence), 0)).where(
        EnvelopeReader.thread_id == thread_id, EnvelopeReader.reader == caller
    )
    if isinstance(until, int):
        query = query.where(EnvelopeReader.sequence <= until)
    elif until is not None:
        query = query.where(or_(until.is_(None), EnvelopeReader.sequence <= until))
    return query.scalar_subquery()


async def list_threads(backend: Backend, caller: bytes) -> list[ThreadSummary]:
    async with backend.sessions() as session:
        served = _served_count(caller, Thread.thread_id, Member.removed_after)
        rows = await session.execute(
            select(
                Thread.thread_id,
                Thread.created_at,
                served.label("envelope_count"),
                Member.removed_at,
            )
            .join(Member, Member.thread_id == Thread.thread_id)
            .where(Member.identity_key == caller)
            .order_by(Thread.created_at, Thread.thread_id)
        )
        return [
            ThreadSummary(
                r.thread_id,
                r.created_at,
                r.envelope_count,
                r.removed_at is not None,
            )
            for r in rows
        ]


async def describe(backend: Backend, caller: bytes, thread_id: bytes) -> ThreadInfo:
    """The thread as the caller may see it: all of it for a current member, and for a removed
    one the thread as it stood at their removal (no count, heads or members after it)."""
    async with backend.sessions() as session:
        thread = await load_thread(session, thread_id)
        me = require_member(await load_members(session, thread_id), caller)
        horizon = None
        if not me.current:
            horizon = (
                await session.execute(
                    select(Member.removed_roster).where(
                        Member.thread_id == thread_id, Member.identity_key == caller
                    )
                )
            ).scalar()
        grant_rows = (
            await session.execute(
                select(Grant).where(Grant.thread_id == thread_id).order_by(Grant.roster)
            )
        ).scalars()
        grants = [g for g in grant_rows if horizon is None or g.roster < horizon]
        later_grants = (
            {}
            if horizon is None
            else {
                g.grantee: g.previous_role
                for g in (
                    await session.execute(
                        select(Grant).where(Grant.thread_id == thread_id, Grant.roster >= horizon)
                    )
                ).scalars()
            }
        )
        query = (
            select(Member, Identity.fingerprint, Identity.devices)
            .join(Identity, Identity.identity_key == Member.identity_key)
            .where(Member.thread_id == thread_id)
            .order_by(Member.joined_roster, Member.joined_at, Member.identity_key)
        )
        if horizon is not None:
            query = query.where(Member.joined_roster < horizon)
        members = []
        for m, fingerprint, devices in await session.execute(query):
            removed_at = m.removed_at
            if horizon is not None and (m.removed_roster is None or m.removed_roster > horizon):
                removed_at = None  # removed after the caller was: not theirs to know
            members.append(
                MemberInfo(
                    m.identity_key,
                    fingerprint,
                    later_grants.get(m.identity_key, m.role),
                    sorted(split_devices(devices)),
                    m.joined_at,
                    removed_at,
                    m.invite_id,
                    m.join_proof,
                    m.identity_key == thread.creator,
                )
            )
        # Heads among the caller's own envelopes (what another reader was served stays unseen),
        # and for a removed member only up to their removal (a later child does not count).
        until = me.removed_after
        mine = aliased(EnvelopeReader)
        child = aliased(StoredEnvelope)
        child_reader = aliased(EnvelopeReader)
        named = select(child.hash).join(
            child_reader,
            and_(child_reader.hash == child.hash, child_reader.reader == caller),
        )
        named = named.where(child.thread_id == thread_id, child.prev == StoredEnvelope.hash)
        if until is not None:
            named = named.where(child.sequence <= until)
        heads_query = (
            select(StoredEnvelope.hash)
            .join(mine, and_(mine.hash == StoredEnvelope.hash, mine.reader == caller))
            .where(StoredEnvelope.thread_id == thread_id, ~exists(named))
            .order_by(StoredEnvelope.sequence.desc())
            .limit(MAX_HEADS)
        )
        if until is not None:
            heads_query = heads_query.where(StoredEnvelope.sequence <= until)
        heads = (await session.execute(heads_query)).scalars()
        count = (await session.execute(select(_served_count(caller, thread_id, until)))).scalar()
        return ThreadInfo(
            thread_id,
            thread.creator,
            thread.created_at,
            int(count or 0),
            members,
            list(heads),
            [
                GrantInfo(g.grantee, g.granter, g.statement, g.log_index, g.granted_at)
                for g in grants
            ],
        )


async def create_invite(
    backend: Backend,
    caller: bytes,
    thread_id: bytes,
    invite_id: bytes,
    expires_at: int,
    now: int,
    role: str = "performer",
) -> None:
    role = check_invite_role(role)
    async with backend.sessions() as session:
        await load_thread(session, thread_id)
        members = await load_members(session, thread_id)
        check_new_invite(members, caller, expires_at, now, backend.limits.invite_ttl_max)
        if await session.get(Invite, invite_id) is not None:
            raise ConflictError("An invite with this id already exists; make a new invite secret.")
    try:
        async with backend.sessions() as session, session.begin():
            await session.execute(
                insert(Invite).values(
                    invite_id=invite_id,
                    thread_id=thread_id,
                    inviter=caller,
                    role=role,
                    created_at=now,
                    expires_at=expires_at,
                )
            )
    except IntegrityError as exc:
        raise ConflictError(
            "An invite with this id already exists; make a new invite secret."
        ) from exc


async def join(
    backend: Backend, caller: bytes, thread_id: bytes, invite_id: bytes, proof: bytes, now: int
) -> None:
    async with backend.sessions() as session:
        if not await registered(session, caller):
            raise NotAllowedError("Register your identity with the relay before joining a thread.")
        await load_thread(session, thread_id)
        invite = await session.get(Invite, invite_id)
        state = (
            None
            if invite is None
            else InviteState(
                invite.thread_id, invite.expires_at, invite.used_by is not None, invite.role
            )
        )
        check_join(state, thread_id, await load_members(session, thread_id), caller, now)
    try:
        async with backend.sessions() as session, session.begin():
            # Compare-and-set: of two joiners racing on one invite, exactly one wins.
            used = await session.execute(
                update(Invite)
                .where(Invite.invite_id == invite_id, Invite.used_by.is_(None))
                .values(used_by=caller, used_at=now)
            )
            if used.rowcount != 1:  # type: ignore[attr-defined]
                raise InviteUsedError("This invite was already used; invites work once.")
            count, roster = await _lock_thread(session, thread_id)
            await session.execute(
                insert(Member).values(
                    thread_id=thread_id,
                    identity_key=caller,
                    # The role the invite named, read again under the lock: never the
                    # role the joiner's identity states about itself.
                    role=select(Invite.role).where(Invite.invite_id == invite_id).scalar_subquery(),
                    joined_at=now,
                    joined_after=count,
                    joined_roster=roster,
                    invite_id=invite_id,
                    join_proof=proof,
                )
            )
    except IntegrityError as exc:
        raise ConflictError("You are already a member of this thread.") from exc
    finally:
        backend.admission.invalidate_thread(thread_id)


async def remove_member(
    backend: Backend, caller: bytes, thread_id: bytes, fingerprint: bytes, now: int
) -> None:
    try:
        async with backend.sessions() as session, session.begin():
            # Lock the thread row first (the row envelope sequencing updates), then decide.
            count, roster = await _lock_thread(session, thread_id)
            members = await load_members(session, thread_id)
            target = (
                await session.execute(
                    select(Identity.identity_key).where(Identity.fingerprint == fingerprint)
                )
            ).scalar()
            check_removal(members, caller, target or bytes(32))
            await session.execute(
                update(Member)
                .where(Member.thread_id == thread_id, Member.identity_key == target)
                .values(
                    removed_at=now,
                    removed_after=count,
                    removed_by=caller,
                    removed_roster=roster,
                )
            )
    finally:
        backend.admission.invalidate_thread(thread_id)


async def _lock_thread(session: AsyncSession, thread_id: bytes) -> tuple[int, int]:
    """Write-lock the thread row, take the next roster number, and return the envelope count
    and that number (404 if there is no thread)."""
    row = (
        await session.execute(
            update(Thread)
            .where(Thread.thread_id == thread_id)
            .values(envelope_count=Thread.envelope_count, roster=Thread.roster + 1)
            .returning(Thread.envelope_count, Thread.roster)
        )
    ).first()
    if row is None:
        raise NotFoundError("There is no such thread on this relay.")
    return int(row[0]), int(row[1])


# --- grants: the creator's co-coordinators, logged ---------------------------------------------


async def grant(
    backend: Backend, caller: bytes, thread_id: bytes, body: bytes, now: int
) -> tuple[GrantInfo, Receipt]:
    """Accept the creator's signed grant, log it, and make the grantee a coordinator."""
    try:
        parsed = decode_grant(body)
    except LimitError as exc:
        raise TooLargeError(str(exc)) from exc
    except KeysError as exc:
        raise InvalidRequestError(f"This is not a valid thread grant: {exc}") from exc
    async with backend.sessions() as session:
        await load_thread(session, thread_id)
        check_grant(await load_members(session, thread_id), caller, parsed, thread_id)
    logged = parsed.to_bytes()
    try:
        receipt = await backend.sequencer.submit(
            RecordType.THREAD_GRANT,
            logged,
            received_ms=now * 1000,
            extra=_record_grant(caller, thread_id, parsed.grantee, logged, now),
        )
    except IntegrityError as exc:
        raise ConflictError("This member was made coordinator by another request.") from exc
    finally:
        backend.admission.invalidate_thread(thread_id)
    return GrantInfo(parsed.grantee, caller, logged, receipt.index, now), receipt


def _record_grant(
    caller: bytes, thread_id: bytes, grantee: bytes, logged: bytes, now: int
) -> ExtraRows:
    async def extra(session: AsyncSession, where: LogPosition) -> None:
        # Inside the round: lock the thread and decide again (a removal may have raced).
        _, roster = await _lock_thread(session, thread_id)
        members = await load_members(session, thread_id)
        target = check_grant(members, caller, decode_grant(logged), thread_id)
        await session.execute(
            insert(Grant).values(
                thread_id=thread_id,
                grantee=grantee,
                granter=caller,
                statement=logged,
                log_index=where.index,
                granted_at=now,
                roster=roster,
                previous_role=target.role,
            )
        )
        await session.execute(
            update(Member)
            .where(Member.thread_id == thread_id, Member.identity_key == grantee)
            .values(role="ic")
        )

    return extra
