"""Threads and membership: create, list, describe, invite, join, remove.

Membership changes are not logged (log entries say nothing about who is in which thread);
they commit in one transaction each. A removal locks the thread row while it reads the
envelope count, the same row every envelope's sequencing updates, so an envelope is either
sequenced before the removal (the removed member may read it) or refused (they may not post).
Joins and removals drop the thread from this process's admission cache once they are done.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import and_, exists, func, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased
from sqlalchemy.sql.selectable import ScalarSelect

from relay.db.api_models import EnvelopeReader, Identity, Invite, Member, StoredEnvelope, Thread
from relay.directory import split_devices
from relay.errors import ConflictError, InviteUsedError, NotAllowedError, NotFoundError
from relay.service.backend import Backend
from relay.threads import (
    InviteState,
    MemberState,
    check_create_thread,
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
    devices: list[bytes]
    joined_at: int
    removed_at: int | None
    invite_id: bytes | None
    join_proof: bytes | None


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
    previous, newest first."""


@dataclass(frozen=True, slots=True)
class ThreadSummary:
    thread_id: bytes
    created_at: int
    envelope_count: int
    removed: bool


async def role_of(session: AsyncSession, identity_key: bytes) -> str | None:
    return (
        await session.execute(select(Identity.role).where(Identity.identity_key == identity_key))
    ).scalar()


async def load_thread(session: AsyncSession, thread_id: bytes) -> Thread:
    thread = await session.get(Thread, thread_id)
    if thread is None:
        raise NotFoundError("There is no such thread on this relay.")
    return thread


async def load_members(session: AsyncSession, thread_id: bytes) -> dict[bytes, MemberState]:
    rows = await session.execute(
        select(Member.identity_key, Member.removed_after, Identity.role, Identity.devices)
        .join(Identity, Identity.identity_key == Member.identity_key)
        .where(Member.thread_id == thread_id)
    )
    return {
        row.identity_key: MemberState(
            row.identity_key, row.role, split_devices(row.devices), row.removed_after
        )
        for row in rows
    }


async def create_thread(backend: Backend, caller: bytes, thread_id: bytes, now: int) -> None:
    async with backend.sessions() as session:
        check_create_thread(await role_of(session, caller))
        if await session.get(Thread, thread_id) is not None:
            raise ConflictError("A thread with this id already exists; choose a new random id.")
    try:
        # Writes open the transaction: on SQLite a transaction that reads first and writes
        # later fails outright if another connection committed in between.
        async with backend.sessions() as session, session.begin():
            await session.execute(
                insert(Thread).values(
                    thread_id=thread_id, creator=caller, created_at=now, envelope_count=0
                )
            )
            await session.execute(
                insert(Member).values(
                    thread_id=thread_id, identity_key=caller, joined_at=now, joined_after=0
                )
            )
    except IntegrityError as exc:
        raise ConflictError(
            "A thread with this id already exists; choose a new random id."
        ) from exc


def _served_count(caller: bytes, thread_id: Any) -> ScalarSelect[int]:
    """How many envelopes of the thread are addressed to ``caller``: their last reader number."""
    return (
        select(func.coalesce(func.max(EnvelopeReader.reader_sequence), 0))
        .where(EnvelopeReader.thread_id == thread_id, EnvelopeReader.reader == caller)
        .scalar_subquery()
    )


async def list_threads(backend: Backend, caller: bytes) -> list[ThreadSummary]:
    async with backend.sessions() as session:
        served = _served_count(caller, Thread.thread_id)
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
            ThreadSummary(r.thread_id, r.created_at, r.envelope_count, r.removed_at is not None)
            for r in rows
        ]


async def describe(backend: Backend, caller: bytes, thread_id: bytes) -> ThreadInfo:
    async with backend.sessions() as session:
        thread = await load_thread(session, thread_id)
        require_member(await load_members(session, thread_id), caller)
        rows = await session.execute(
            select(Member, Identity.fingerprint, Identity.role, Identity.devices)
            .join(Identity, Identity.identity_key == Member.identity_key)
            .where(Member.thread_id == thread_id)
            .order_by(Member.joined_at, Member.identity_key)
        )
        members = [
            MemberInfo(
                m.identity_key,
                fingerprint,
                role,
                sorted(split_devices(devices)),
                m.joined_at,
                m.removed_at,
                m.invite_id,
                m.join_proof,
            )
            for m, fingerprint, role, devices in rows
        ]
        # Heads among the caller's own envelopes: what another reader was served stays unseen.
        mine = aliased(EnvelopeReader)
        child = aliased(StoredEnvelope)
        child_reader = aliased(EnvelopeReader)
        heads = (
            await session.execute(
                select(StoredEnvelope.hash)
                .join(mine, and_(mine.hash == StoredEnvelope.hash, mine.reader == caller))
                .where(
                    StoredEnvelope.thread_id == thread_id,
                    ~exists(
                        select(child.hash)
                        .join(
                            child_reader,
                            and_(child_reader.hash == child.hash, child_reader.reader == caller),
                        )
                        .where(child.thread_id == thread_id, child.prev == StoredEnvelope.hash)
                    ),
                )
                .order_by(StoredEnvelope.sequence.desc())
                .limit(MAX_HEADS)
            )
        ).scalars()
        count = (await session.execute(select(_served_count(caller, thread_id)))).scalar()
        return ThreadInfo(
            thread_id,
            thread.creator,
            thread.created_at,
            int(count or 0),
            members,
            list(heads),
        )


async def create_invite(
    backend: Backend, caller: bytes, thread_id: bytes, invite_id: bytes, expires_at: int, now: int
) -> None:
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
        if await role_of(session, caller) is None:
            raise NotAllowedError("Register your identity with the relay before joining a thread.")
        await load_thread(session, thread_id)
        invite = await session.get(Invite, invite_id)
        state = (
            None
            if invite is None
            else InviteState(invite.thread_id, invite.expires_at, invite.used_by is not None)
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
            count = await _lock_thread(session, thread_id)
            await session.execute(
                insert(Member).values(
                    thread_id=thread_id,
                    identity_key=caller,
                    joined_at=now,
                    joined_after=count,
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
            count = await _lock_thread(session, thread_id)
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
                .values(removed_at=now, removed_after=count, removed_by=caller)
            )
    finally:
        backend.admission.invalidate_thread(thread_id)


async def _lock_thread(session: AsyncSession, thread_id: bytes) -> int:
    """Write-lock the thread row and return its envelope count (404 if there is no thread)."""
    count = (
        await session.execute(
            update(Thread)
            .where(Thread.thread_id == thread_id)
            .values(envelope_count=Thread.envelope_count)
            .returning(Thread.envelope_count)
        )
    ).scalar()
    if count is None:
        raise NotFoundError("There is no such thread on this relay.")
    return int(count)
