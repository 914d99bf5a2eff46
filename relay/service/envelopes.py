"""Accept, page and prove envelopes.

Admission (``post``): everything that needs no storage first (``relay.threads.parse_envelope``),
then the same rules against this process's admission cache (``relay.service.admission``: no
query in the common case), then the sequencer with the envelope as the submission's ``row``.

The envelope round writer (:func:`write_round`, registered with
``Sequencer.add_round_writer``) is the authority: inside the round's transaction, after the
log entries (which on SQLite take the write lock) it takes the next sequence numbers from each
thread row (``UPDATE ... RETURNING``, which on PostgreSQL also locks the row a removal locks),
then reads the round's threads' members and the stored envelopes among the round's hashes and
previous hashes, and decides every rule a race could change again: the sender is a current
member (a removal racing with the post is decided by that row lock), every recipient is a
current member's current device, no duplicate, a known previous envelope of the same thread
(or an earlier envelope of the same thread in the same round), null previous only for the
first. Refused submissions are withdrawn from the round; the rest are inserted in one
statement. Envelope rows, log entries and checkpoint commit together; the caller answers only
after that commit.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, replace
from typing import Any, TypeVar, cast

from sqlalchemy import Select, Table, bindparam, func, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from keys.encoding import b64u_encode
from keys.envelope import Envelope
from relay.db.api_models import EnvelopeReader, Identity, Member, StoredEnvelope, Thread
from relay.directory import split_devices
from relay.errors import ConflictError, NotFoundError, RelayError, UnknownPreviousError
from relay.log.entry import RecordType
from relay.log.sequencer import Receipt, RoundItem, Withdraw
from relay.service.admission import EnvelopeRow, ThreadView
from relay.service.backend import Backend
from relay.service.receipts import receipts_at_latest
from relay.service.threads import load_members, load_thread
from relay.threads import (
    MemberState,
    check_envelope,
    check_parsed_envelope,
    parse_envelope,
    readable_until,
    require_member,
)


@dataclass(frozen=True, slots=True)
class Posted:
    envelope: Envelope
    hash: bytes
    sequence: int
    receipt: Receipt
    created: bool
    """False: the same envelope was already stored (idempotent resubmission)."""
    readers: frozenset[bytes] = frozenset()
    """The recipients that were current members when it committed: whom to push it to."""
    reader_sequences: dict[bytes, int] | None = None
    """Each recipient identity's per-reader sequence number (None for a resubmission)."""
    by_removed: bool = False
    """Sent by a removed member: the HTTP answer leaves the sequence out (no count)."""


@dataclass(frozen=True, slots=True)
class Delivered:
    body: bytes
    hash: bytes
    index: int
    received_ms: int
    reader_sequence: int
    """The reader's own number for it; the thread-wide sequence is never served."""


@dataclass(frozen=True, slots=True)
class Page:
    envelopes: list[Delivered]
    next_after: int | None
    """The cursor for the next page (the reader's sequence number), None at the end."""


class _DuplicateError(Exception):
    """Withdrawn from its round: the same envelope is stored (or is being, in that round)."""


_FIRST_ONLY = (
    "This thread already has envelopes, so a new one must name the previous envelope it saw."
)
_UNKNOWN_PREV = (
    "The envelope's previous hash names no envelope of this thread; "
    "fetch the thread and seal again."
)


def push_message(posted: Posted, reader: bytes) -> dict[str, Any]:
    """What ``reader``'s stream receives for a new envelope (docs/api.md, "Stream")."""
    assert posted.reader_sequences is not None
    return {
        "type": "envelope",
        "thread": b64u_encode(posted.envelope.context.thread),
        "hash": posted.hash.hex(),
        # The reader's own number only: the thread's count would say how many were for others.
        "sequence": posted.reader_sequences[reader],
        "reader_sequence": posted.reader_sequences[reader],
        "index": posted.receipt.index,
        # The canonical bytes are RFC 8785 of the envelope's JSON value: parse, not re-encode.
        "envelope": json.loads(posted.envelope.to_bytes()),
    }


async def post(
    backend: Backend,
    caller: bytes,
    thread_id: bytes,
    body: bytes,
    now_ms: int,
    *,
    parsed: Envelope | None = None,
) -> Posted:
    """Admit ``body`` (envelope canonical bytes) into the thread, log it, push it to the
    members' streams (however it arrived, HTTP or mail) and return its receipt.

    ``parsed`` is ``Envelope.from_bytes(body)`` if the caller has it already (mail ingress);
    everything else is checked here as for any other body.
    """
    posted = await _post(backend, caller, thread_id, body, now_ms, parsed)
    if posted.created and backend.hub.listening(posted.readers):
        # Only the envelope's own readers, each with their own sequence number.
        for reader in posted.readers:
            if backend.hub.listening((reader,)):
                backend.hub.publish((reader,), push_message(posted, reader))
    return posted


async def _post(
    backend: Backend,
    caller: bytes,
    thread_id: bytes,
    body: bytes,
    now_ms: int,
    parsed: Envelope | None,
) -> Posted:
    max_recipients = backend.limits.max_recipients
    if parsed is not None and parsed.raw == body:
        envelope = check_parsed_envelope(parsed, max_recipients)
    else:
        envelope = parse_envelope(body, max_recipients)
    digest = hashlib.sha256(body).digest()
    admission = backend.admission
    view, fresh = await admission.thread(thread_id)
    budget = backend.limits.removed_post_budget
    try:
        check_envelope(
            envelope,
            caller=caller,
            thread_id=thread_id,
            members=view.members,
            removed_budget=budget,
        )
    except RelayError:
        if fresh:
            raise
        # Refuse only on what the database says: another process may have changed it.
        view = await admission.reload(thread_id)
        check_envelope(
            envelope,
            caller=caller,
            thread_id=thread_id,
            members=view.members,
            removed_budget=budget,
        )
    if admission.thread_of(digest) == thread_id:
        existing = await _stored(backend, digest)
        if existing is not None:
            return await _already_stored(backend, envelope, existing, view)
    if not await _prev_plausible(backend, view, envelope.context.prev):
        # A resubmission is answered with its receipt even if the thread moved on since.
        existing = await _stored(backend, digest)
        if existing is not None:
            return await _already_stored(backend, envelope, existing, view)
        raise UnknownPreviousError(_UNKNOWN_PREV if envelope.context.prev else _FIRST_ONLY)

    row = EnvelopeRow(envelope, digest, caller, thread_id, body, now_ms)
    try:
        receipt = await backend.sequencer.submit(
            RecordType.ENVELOPE, body, received_ms=now_ms, row=row
        )
    except (_DuplicateError, IntegrityError):
        # The same envelope is stored already, or was posted twice at once and the other
        # request stored it (its round has ended by now).
        existing = await _stored(backend, digest)
        if existing is None:
            raise ConflictError(
                "The same envelope was being stored by another request that failed; send it again."
            ) from None
        return await _already_stored(backend, envelope, existing, view)
    admission.posted(thread_id, digest, row.sequence)
    if row.by_removed:
        # Its post counted against the member's budget: the cached view is stale now.
        admission.invalidate_thread(thread_id)
    return Posted(
        envelope,
        digest,
        row.sequence,
        receipt,
        True,
        row.readers,
        dict(row.reader_sequences),
        row.by_removed,
    )


async def _prev_plausible(backend: Backend, view: ThreadView, prev: bytes | None) -> bool:
    """The previous-hash rule against the cache (the round decides it again)."""
    if prev is None:
        return view.count == 0  # the count only grows: a non-zero one is never stale
    return await backend.admission.in_thread(prev, view.thread_id)


# --- the round writer: the authority, inside the round's transaction ----------------------------

_threads = cast(Table, Thread.__table__)
_members = cast(Table, Member.__table__)
_identities = cast(Table, Identity.__table__)
_envelopes = cast(Table, StoredEnvelope.__table__)
_readers = cast(Table, EnvelopeReader.__table__)

_TAKE_SEQUENCES = (
    update(_threads)
    .where(_threads.c.thread_id == bindparam("t_id"))
    .values(envelope_count=_threads.c.envelope_count + bindparam("n"))
    .returning(_threads.c.envelope_count)
)
_ROUND_MEMBERS = (
    select(
        _members.c.thread_id,
        _members.c.identity_key,
        _members.c.removed_after,
        _members.c.role,
        _identities.c.devices,
        _threads.c.creator,
        _identities.c.revoked,
        _members.c.posts_after_removal,
    )
    .join_from(_members, _identities, _identities.c.identity_key == _members.c.identity_key)
    .join(_threads, _threads.c.thread_id == _members.c.thread_id)
    .where(_members.c.thread_id.in_(bindparam("threads", expanding=True)))
)
_COUNT_REMOVED_POSTS = (
    update(_members)
    .where(
        _members.c.thread_id == bindparam("t_id"),
        _members.c.identity_key == bindparam("who"),
    )
    .values(posts_after_removal=_members.c.posts_after_removal + bindparam("n"))
)
_KNOWN_HASHES = select(_envelopes.c.hash, _envelopes.c.thread_id).where(
    _envelopes.c.hash.in_(bindparam("hashes", expanding=True))
)
_INSERT_ENVELOPES = insert(_envelopes)
# One reader's last number: the end of a primary-key prefix, one index seek however long
# the thread (a GROUP BY over the thread would grow with it).
_READER_LAST = select(func.max(_readers.c.reader_sequence)).where(
    _readers.c.thread_id == bindparam("t_id"), _readers.c.reader == bindparam("reader")
)
_INSERT_READERS = insert(_readers)


def round_writer(budget: int) -> Any:
    """The round writer for a relay whose removed members may post ``budget`` envelopes."""

    async def write(session: AsyncSession, items: list[RoundItem]) -> None:
        await write_round(session, items, budget)

    return write


async def write_round(session: AsyncSession, items: list[RoundItem], budget: int = 16) -> None:
    """Check and store the round's envelopes (see the module docstring); withdraw the refused."""
    mine = [(item, item.row) for item in items if isinstance(item.row, EnvelopeRow)]
    if not mine:
        return
    per_thread: dict[bytes, int] = {}
    for _, row in mine:
        per_thread[row.thread_id] = per_thread.get(row.thread_id, 0) + 1
    # Sorted: two processes' rounds lock shared thread rows in the same order (no deadlock).
    before: dict[bytes, int] = {}
    for thread_id in sorted(per_thread):
        count = (
            await session.execute(_TAKE_SEQUENCES, {"t_id": thread_id, "n": per_thread[thread_id]})
        ).scalar()
        if count is not None:
            before[thread_id] = int(count) - per_thread[thread_id]
    members: dict[bytes, dict[bytes, MemberState]] = {t: {} for t in before}
    if before:
        result = await session.execute(_ROUND_MEMBERS, {"threads": list(before)})
        for thread_id, key, removed_after, role, devices, creator, revoked, posts in result:
            members[thread_id][key] = MemberState(
                key,
                role,
                split_devices(devices),
                removed_after,
                creator=creator == key,
                revoked=bool(revoked),
                posts_after_removal=int(posts),
            )
    wanted = {row.digest for _, row in mine}
    wanted.update(row.envelope.context.prev for _, row in mine if row.envelope.context.prev)
    known = dict((await session.execute(_KNOWN_HASHES, {"hashes": sorted(wanted)})).all())

    readers = {
        t: frozenset(k for k, m in ms.items() if m.current and not m.revoked)
        for t, ms in members.items()
    }
    removed_posts: dict[tuple[bytes, bytes], int] = {}
    taken = dict(before)
    in_round: dict[bytes, bytes] = {}
    errors: dict[RoundItem, BaseException] = {}
    values: list[dict[str, Any]] = []
    for item, row in mine:
        thread_id = row.thread_id
        if thread_id not in taken:
            errors[item] = NotFoundError("There is no such thread on this relay.")
            continue
        sender = members[thread_id].get(row.caller)
        try:
            check_envelope(
                row.envelope,
                caller=row.caller,
                thread_id=thread_id,
                members=members[thread_id],
                removed_budget=budget,
            )
        except RelayError as exc:
            errors[item] = exc
            continue
        if row.digest in known or row.digest in in_round:
            errors[item] = _DuplicateError()
            continue
        prev = row.envelope.context.prev
        if prev is None:
            if taken[thread_id] != 0:
                errors[item] = UnknownPreviousError(_FIRST_ONLY)
                continue
        elif known.get(prev) != thread_id and in_round.get(prev) != thread_id:
            errors[item] = UnknownPreviousError(_UNKNOWN_PREV)
            continue
        taken[thread_id] += 1
        row.sequence = taken[thread_id]
        row.readers = readers[thread_id] & row.envelope.context.recipient_identities
        if sender is not None and not sender.current:
            # A removed member's post spends their own budget, counted in this round too.
            row.by_removed = True
            key = (thread_id, row.caller)
            removed_posts[key] = removed_posts.get(key, 0) + 1
            members[thread_id][row.caller] = replace(
                sender, posts_after_removal=sender.posts_after_removal + 1
            )
        in_round[row.digest] = thread_id
        values.append(
            {
                "hash": row.digest,
                "thread_id": thread_id,
                "sequence": row.sequence,
                "sender": row.caller,
                "prev": prev,
                "body": row.body,
                "log_index": item.position.index,
                "received_ms": row.received_ms,
            }
        )
    if errors:
        raise Withdraw(errors)
    await session.execute(_INSERT_ENVELOPES, values)
    await session.execute(_INSERT_READERS, await _reader_rows(session, mine))
    for (thread_id, who), n in removed_posts.items():
        await session.execute(_COUNT_REMOVED_POSTS, {"t_id": thread_id, "who": who, "n": n})


async def _reader_rows(
    session: AsyncSession, mine: list[tuple[RoundItem, EnvelopeRow]]
) -> list[dict[str, Any]]:
    """One row per (envelope, recipient identity), numbering each reader's envelopes on.

    The thread rows are locked (the sequences were taken above), so no other round numbers
    the same readers at the same time.
    """
    counts: dict[tuple[bytes, bytes], int] = {}
    for key in sorted(
        {(r.thread_id, k) for _, r in mine for k in r.envelope.context.recipient_identities}
    ):
        last = await session.execute(_READER_LAST, {"t_id": key[0], "reader": key[1]})
        counts[key] = int(last.scalar() or 0)
    rows = []
    for _, row in mine:
        row.reader_sequences = {}
        for reader in sorted(row.envelope.context.recipient_identities):
            key = (row.thread_id, reader)
            counts[key] += 1
            row.reader_sequences[reader] = counts[key]
            rows.append(
                {
                    "thread_id": row.thread_id,
                    "reader": reader,
                    "reader_sequence": counts[key],
                    "sequence": row.sequence,
                    "hash": row.digest,
                }
            )
    return rows


# --- reads ------------------------------------------------------------------------------------


async def _stored(backend: Backend, digest: bytes) -> StoredEnvelope | None:
    async with backend.sessions() as session:
        return await session.get(StoredEnvelope, digest)


async def _already_stored(
    backend: Backend, envelope: Envelope, row: StoredEnvelope, view: ThreadView | None = None
) -> Posted:
    (receipt,) = await receipts_at_latest(backend.store, [row.log_index])
    async with backend.sessions() as session:
        numbers = await session.execute(
            select(EnvelopeReader.reader, EnvelopeReader.reader_sequence).where(
                EnvelopeReader.hash == row.hash
            )
        )
        sequences = {reader: int(n) for reader, n in numbers}
    sender = None if view is None else view.members.get(row.sender)
    by_removed = sender is not None and not sender.current
    return Posted(
        envelope,
        row.hash,
        row.sequence,
        receipt,
        False,
        reader_sequences=sequences,
        by_removed=by_removed,
    )


_Query = TypeVar("_Query", bound=Select)  # type: ignore[type-arg]


def addressed_to(query: _Query, reader: bytes) -> _Query:
    """Only the envelopes addressed to one of ``reader``'s devices (docs/api.md, "Readers").

    ``query`` selects from ``StoredEnvelope``; the result also has the reader's
    ``EnvelopeReader.reader_sequence`` to select.
    """
    return query.join(
        EnvelopeReader,
        (EnvelopeReader.hash == StoredEnvelope.hash) & (EnvelopeReader.reader == reader),
    )


async def page(backend: Backend, caller: bytes, thread_id: bytes, after: int, limit: int) -> Page:
    """The caller's envelopes of the thread with reader sequence > ``after``, oldest first."""
    async with backend.sessions() as session:
        await load_thread(session, thread_id)
        member = require_member(await load_members(session, thread_id), caller)
        query = (
            addressed_to(
                select(
                    StoredEnvelope.body,
                    StoredEnvelope.hash,
                    StoredEnvelope.log_index,
                    StoredEnvelope.received_ms,
                    EnvelopeReader.reader_sequence,
                ),
                caller,
            )
            .where(StoredEnvelope.thread_id == thread_id, EnvelopeReader.reader_sequence > after)
            .order_by(EnvelopeReader.reader_sequence)
            .limit(limit + 1)
        )
        until = readable_until(member)
        if until is not None:
            query = query.where(StoredEnvelope.sequence <= until)
        rows = (await session.execute(query)).all()
    items = [Delivered(*row) for row in rows[:limit]]
    more = len(rows) > limit
    return Page(items, items[-1].reader_sequence if more else None)


async def receipt(
    backend: Backend, caller: bytes, digest: bytes
) -> tuple[StoredEnvelope, int, Receipt]:
    """The receipt of an envelope addressed to the caller, against the latest checkpoint,
    with the caller's per-reader sequence number for it."""
    async with backend.sessions() as session:
        found = (
            await session.execute(
                addressed_to(select(StoredEnvelope, EnvelopeReader.reader_sequence), caller).where(
                    StoredEnvelope.hash == digest
                )
            )
        ).first()
        row: StoredEnvelope | None = None if found is None else found[0]
        reader_sequence = 0 if found is None else int(found[1])
        members = {} if row is None else await load_members(session, row.thread_id)
    member = members.get(caller)
    until = None if member is None else readable_until(member)
    if row is None or member is None or (until is not None and row.sequence > until):
        raise NotFoundError("There is no envelope with this hash that you can read.")
    (proof,) = await receipts_at_latest(backend.store, [row.log_index])
    return row, int(reader_sequence), proof
