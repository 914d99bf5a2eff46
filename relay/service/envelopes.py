"""Accept, page and prove envelopes.

Admission (``post``): everything that needs no storage first (``relay.threads.parse_envelope``),
then the thread's members, the duplicate check, the previous hash; then the sequencer. The
envelope row goes in through ``extra``, inside the round's transaction, which also takes the
next per-thread sequence number from the thread row and re-checks that the sender is still a
member there (a removal racing with the post is decided by that row lock). Envelope row, log
entry and checkpoint commit together; the caller answers only after that commit.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field

from sqlalchemy import insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from keys.envelope import Envelope
from relay.db.api_models import Member, StoredEnvelope, Thread
from relay.errors import NotAMemberError, NotFoundError, UnknownPreviousError
from relay.log.entry import RecordType
from relay.log.sequencer import LogPosition, Receipt
from relay.service.backend import Backend
from relay.service.receipts import receipts_at_latest
from relay.service.threads import load_members, load_thread
from relay.threads import check_envelope, parse_envelope, readable_until, require_member


@dataclass(frozen=True, slots=True)
class Posted:
    envelope: Envelope
    hash: bytes
    sequence: int
    receipt: Receipt
    created: bool
    """False: the same envelope was already stored (idempotent resubmission)."""
    readers: frozenset[bytes] = frozenset()
    """The members current when it committed: whom to push it to."""


@dataclass(frozen=True, slots=True)
class Delivered:
    body: bytes
    hash: bytes
    index: int
    sequence: int
    received_ms: int


@dataclass(frozen=True, slots=True)
class Page:
    envelopes: list[Delivered]
    next_after: int | None
    """The cursor for the next page (a sequence number), None at the end."""


@dataclass(slots=True)
class _Sequenced:
    sequence: int = 0
    readers: frozenset[bytes] = field(default_factory=frozenset)


async def post(
    backend: Backend, caller: bytes, thread_id: bytes, body: bytes, now_ms: int
) -> Posted:
    """Admit ``body`` (envelope canonical bytes) into the thread and log it."""
    envelope = parse_envelope(body, backend.limits.max_recipients)
    digest = hashlib.sha256(body).digest()
    async with backend.sessions() as session:
        thread = await load_thread(session, thread_id)
        check_envelope(
            envelope,
            caller=caller,
            thread_id=thread_id,
            members=await load_members(session, thread_id),
        )
        existing = await _stored(session, digest)
        if existing is None:
            await _check_prev(session, thread, envelope.context.prev)
    if existing is not None:
        return await _already_stored(backend, envelope, existing)

    sequenced = _Sequenced()
    prev = envelope.context.prev

    async def extra(session: AsyncSession, where: LogPosition) -> None:
        sequence = (
            await session.execute(
                update(Thread)
                .where(Thread.thread_id == thread_id)
                .values(envelope_count=Thread.envelope_count + 1)
                .returning(Thread.envelope_count)
            )
        ).scalar_one()
        readers = frozenset(
            (
                await session.execute(
                    select(Member.identity_key).where(
                        Member.thread_id == thread_id, Member.removed_at.is_(None)
                    )
                )
            ).scalars()
        )
        if caller not in readers:
            raise NotAMemberError("You were removed from this thread.")
        if prev is None and sequence != 1:
            raise UnknownPreviousError(_FIRST_ONLY)
        await session.execute(
            insert(StoredEnvelope).values(
                hash=digest,
                thread_id=thread_id,
                sequence=sequence,
                sender=caller,
                prev=prev,
                body=body,
                log_index=where.index,
                received_ms=now_ms,
            )
        )
        sequenced.sequence, sequenced.readers = sequence, readers

    try:
        receipt = await backend.sequencer.submit(
            RecordType.ENVELOPE, body, received_ms=now_ms, extra=extra
        )
    except IntegrityError:
        # The same envelope, posted twice at once: the other request stored it.
        async with backend.sessions() as session:
            existing = await _stored(session, digest)
        if existing is None:
            raise
        return await _already_stored(backend, envelope, existing)
    return Posted(envelope, digest, sequenced.sequence, receipt, True, sequenced.readers)


_FIRST_ONLY = (
    "This thread already has envelopes, so a new one must name the previous envelope it saw."
)


async def _check_prev(session: AsyncSession, thread: Thread, prev: bytes | None) -> None:
    if prev is None:
        if thread.envelope_count:
            raise UnknownPreviousError(_FIRST_ONLY)
        return
    known = (
        await session.execute(
            select(StoredEnvelope.hash).where(
                StoredEnvelope.hash == prev, StoredEnvelope.thread_id == thread.thread_id
            )
        )
    ).scalar()
    if known is None:
        raise UnknownPreviousError(
            "The envelope's previous hash names no envelope of this thread; "
            "fetch the thread and seal again."
        )


async def _stored(session: AsyncSession, digest: bytes) -> StoredEnvelope | None:
    return await session.get(StoredEnvelope, digest)


async def _already_stored(backend: Backend, envelope: Envelope, row: StoredEnvelope) -> Posted:
    (receipt,) = await receipts_at_latest(backend.store, [row.log_index])
    return Posted(envelope, row.hash, row.sequence, receipt, False)


async def page(backend: Backend, caller: bytes, thread_id: bytes, after: int, limit: int) -> Page:
    """Envelopes of the thread with sequence > ``after``, oldest first, as the caller may read."""
    async with backend.sessions() as session:
        await load_thread(session, thread_id)
        member = require_member(await load_members(session, thread_id), caller)
        query = (
            select(
                StoredEnvelope.body,
                StoredEnvelope.hash,
                StoredEnvelope.log_index,
                StoredEnvelope.sequence,
                StoredEnvelope.received_ms,
            )
            .where(StoredEnvelope.thread_id == thread_id, StoredEnvelope.sequence > after)
            .order_by(StoredEnvelope.sequence)
            .limit(limit + 1)
        )
        until = readable_until(member)
        if until is not None:
            query = query.where(StoredEnvelope.sequence <= until)
        rows = (await session.execute(query)).all()
    items = [Delivered(*row) for row in rows[:limit]]
    more = len(rows) > limit
    return Page(items, items[-1].sequence if more else None)


async def receipt(backend: Backend, caller: bytes, digest: bytes) -> tuple[StoredEnvelope, Receipt]:
    """The receipt of an envelope the caller may read, against the latest checkpoint."""
    async with backend.sessions() as session:
        row = await _stored(session, digest)
        members = {} if row is None else await load_members(session, row.thread_id)
    member = members.get(caller)
    until = None if member is None else readable_until(member)
    if row is None or member is None or (until is not None and row.sequence > until):
        raise NotFoundError("There is no envelope with this hash that you can read.")
    (proof,) = await receipts_at_latest(backend.store, [row.log_index])
    return row, proof
