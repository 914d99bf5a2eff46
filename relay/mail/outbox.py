"""The mail outbox: queue an envelope's mail inside its log round; claim, settle and list it.

:meth:`Outbox.queue_round` is a sequencer round writer (``Sequencer.add_round_writer``),
registered after the envelopes' own: it runs in the same transaction as the envelope rows, so
every committed envelope, however it arrived (HTTP or SMTP), has its mail queued, and a
refused one (withdrawn from its round, which is then retried without it) has none. The egress
worker claims due rows with a lease, so two relay processes never send the same row at the
same time.
"""

from __future__ import annotations

import hashlib
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import cast

from sqlalchemy import Table, and_, bindparam, func, insert, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from keys.envelope import Envelope
from keys.identity import decode_history
from relay.db.api_models import Identity, Member, StoredEnvelope
from relay.db.mail_models import FAILED, QUEUED, SENT, OutgoingMail
from relay.directory import split_devices
from relay.log.sequencer import RoundItem
from relay.service.admission import EnvelopeRow

MESSAGE_ID_DOMAIN = b"closedset/mail/message-id/v1\x00"
MAX_REFERENCES = 10  # a long References header helps no mail client and grows every message
_EMAIL_CACHE = 10_000

_identities = cast(Table, Identity.__table__)
_members = cast(Table, Member.__table__)
_mail = cast(Table, OutgoingMail.__table__)

_CURRENT_RECIPIENTS = (
    select(
        _members.c.thread_id,
        _identities.c.identity_key,
        _identities.c.history,
        _identities.c.record_count,
    )
    .join_from(_members, _identities, _identities.c.identity_key == _members.c.identity_key)
    .where(
        _members.c.thread_id.in_(bindparam("threads", expanding=True)),
        _members.c.identity_key.in_(bindparam("people", expanding=True)),
        _members.c.removed_at.is_(None),
    )
)
_latest_ids = (
    select(func.max(_mail.c.id))
    .where(
        _mail.c.thread_id.in_(bindparam("threads", expanding=True)),
        _mail.c.recipient.in_(bindparam("people", expanding=True)),
    )
    .group_by(_mail.c.thread_id, _mail.c.recipient)
)
_LATEST_MESSAGES = select(
    _mail.c.thread_id, _mail.c.recipient, _mail.c.message_id, _mail.c.reference_ids
).where(_mail.c.id.in_(_latest_ids.scalar_subquery()))
_INSERT_MAIL = insert(_mail)


def message_id(envelope_hash: bytes, recipient: bytes, domain: str) -> str:
    """The same envelope to the same member always has the same Message-ID (so a retry is
    recognisably the same message); different members' ids do not reveal they match."""
    digest = hashlib.sha256(MESSAGE_ID_DOMAIN + envelope_hash + recipient).hexdigest()[:40]
    return f"<{digest}@{domain}>"


@dataclass(frozen=True, slots=True)
class Claimed:
    """A row leased for sending, with what the message is built from."""

    id: int
    address: str
    message_id: str
    in_reply_to: str | None
    references: tuple[str, ...]
    created_ms: int
    attempts: int
    envelope_body: bytes | None
    """None if the envelope was deleted meanwhile (retention): nothing left to send."""
    devices: tuple[bytes, ...] = ()
    """The recipient's current device keys: the mail is sealed to them."""


class Outbox:
    """Rows of ``mail_outbox`` for one relay: queueing, claiming and settling them."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession], domain: str) -> None:
        self.sessions = sessions
        self.domain = domain
        self._emails: OrderedDict[tuple[bytes, int], str | None] = OrderedDict()

    # --- inside the envelope's round -------------------------------------------------------

    async def queue_round(self, session: AsyncSession, items: list[RoundItem]) -> None:
        """Queue the round's envelopes for every recipient member with an address, except
        each envelope's sender: two queries and one insert per round, whatever its size."""
        work: list[tuple[bytes, bytes, int, list[bytes]]] = []
        for item in items:
            row = item.row
            if isinstance(row, EnvelopeRow):
                context, digest = row.envelope.context, row.digest
            else:
                context = Envelope.from_bytes(item.logged).context
                digest = hashlib.sha256(item.logged).digest()
            wanted = context.recipient_identities - {context.sender}
            if wanted:
                work.append((context.thread, digest, item.received_ms, sorted(wanted)))
        if not work:
            return
        threads = sorted({thread for thread, _, _, _ in work})
        people = sorted({key for _, _, _, keys in work for key in keys})
        addresses: dict[tuple[bytes, bytes], str] = {}
        result = await session.execute(_CURRENT_RECIPIENTS, {"threads": threads, "people": people})
        for thread, identity_key, history, record_count in result:
            address = self._email(identity_key, history, record_count)
            if address is not None:
                addresses[(thread, identity_key)] = address
        if not addresses:
            return
        # The latest message of each (thread, recipient): the next one replies to it.
        chains: dict[tuple[bytes, bytes], tuple[str, str | None]] = {
            (thread, recipient): (mid, refs)
            for thread, recipient, mid, refs in await session.execute(
                _LATEST_MESSAGES,
                {"threads": threads, "people": sorted({k for _, k in addresses})},
            )
        }
        rows: list[dict[str, object]] = []
        for thread, digest, created, keys in work:
            for identity_key in keys:
                address = addresses.get((thread, identity_key))
                if address is None:
                    continue
                previous = chains.get((thread, identity_key))
                references = None
                if previous is not None:
                    chain = [*(previous[1] or "").split(), previous[0]]
                    references = " ".join(chain[-MAX_REFERENCES:])
                mid = message_id(digest, identity_key, self.domain)
                rows.append(
                    {
                        "envelope_hash": digest,
                        "thread_id": thread,
                        "recipient": identity_key,
                        "address": address,
                        "message_id": mid,
                        "in_reply_to": None if previous is None else previous[0],
                        "reference_ids": references,
                        "created_ms": created,
                        "status": QUEUED,
                        "attempts": 0,
                        "next_attempt_ms": created,
                    }
                )
                chains[(thread, identity_key)] = (mid, references)
        if rows:
            await session.execute(_INSERT_MAIL, rows)

    def _email(self, identity_key: bytes, history: bytes, record_count: int) -> str | None:
        # Decoding a history verifies every signature in it; do that once per version.
        key = (identity_key, record_count)
        if key in self._emails:
            self._emails.move_to_end(key)
            return self._emails[key]
        email = decode_history(history).email
        self._emails[key] = email
        while len(self._emails) > _EMAIL_CACHE:
            self._emails.popitem(last=False)
        return email

    # --- the worker's side -----------------------------------------------------------------

    async def claim_due(self, now_ms: int, lease_ms: int, limit: int) -> list[Claimed]:
        """Lease up to ``limit`` rows whose next attempt is due and that nobody holds."""
        free = or_(OutgoingMail.lease_until_ms.is_(None), OutgoingMail.lease_until_ms < now_ms)
        due = and_(OutgoingMail.status == QUEUED, OutgoingMail.next_attempt_ms <= now_ms, free)
        claimed: list[Claimed] = []
        async with self.sessions() as session, session.begin():
            candidates = (
                (
                    await session.execute(
                        select(OutgoingMail).where(due).order_by(OutgoingMail.id).limit(limit)
                    )
                )
                .scalars()
                .all()
            )
            for row in candidates:
                taken = await session.execute(
                    update(OutgoingMail)
                    .where(OutgoingMail.id == row.id, due)
                    .values(lease_until_ms=now_ms + lease_ms)
                )
                if taken.rowcount != 1:  # type: ignore[attr-defined]
                    continue  # another process leased it between our select and update
                body = (
                    await session.execute(
                        select(StoredEnvelope.body).where(StoredEnvelope.hash == row.envelope_hash)
                    )
                ).scalar()
                devices = (
                    await session.execute(
                        select(Identity.devices).where(Identity.identity_key == row.recipient)
                    )
                ).scalar()
                claimed.append(
                    Claimed(
                        row.id,
                        row.address,
                        row.message_id,
                        row.in_reply_to,
                        tuple((row.reference_ids or "").split()),
                        row.created_ms,
                        row.attempts,
                        body,
                        tuple(sorted(split_devices(devices or b""))),
                    )
                )
        return claimed

    async def mark_sent(self, row_id: int, now_ms: int) -> None:
        await self._settle(row_id, status=SENT, finished_ms=now_ms, last_error=None)

    async def mark_failed(self, row_id: int, now_ms: int, error: str) -> None:
        await self._settle(row_id, status=FAILED, finished_ms=now_ms, last_error=error)

    async def retry_later(self, row_id: int, next_attempt_ms: int, error: str) -> None:
        await self._settle(row_id, next_attempt_ms=next_attempt_ms, last_error=error)

    async def _settle(self, row_id: int, **values: object) -> None:
        async with self.sessions() as session, session.begin():
            await session.execute(
                update(OutgoingMail)
                .where(OutgoingMail.id == row_id)
                .values(attempts=OutgoingMail.attempts + 1, lease_until_ms=None, **values)
            )

    async def next_due_ms(self) -> int | None:
        async with self.sessions() as session:
            return (
                await session.execute(
                    select(func.min(OutgoingMail.next_attempt_ms)).where(
                        OutgoingMail.status == QUEUED
                    )
                )
            ).scalar()


@dataclass(frozen=True, slots=True)
class OutboxEntry:
    """One row as the operator sees it: never an envelope or a message, only their ids."""

    id: int
    status: str
    address: str
    message_id: str
    envelope_hash: str
    attempts: int
    created_ms: int
    next_attempt_ms: int
    finished_ms: int | None
    last_error: str | None


async def list_outbox(
    sessions: async_sessionmaker[AsyncSession], statuses: Sequence[str] = (QUEUED, FAILED)
) -> tuple[list[OutboxEntry], dict[str, int]]:
    """Rows with the given statuses, oldest first, and the count of rows in every status."""
    async with sessions() as session:
        rows = (
            (
                await session.execute(
                    select(OutgoingMail)
                    .where(OutgoingMail.status.in_(list(statuses)))
                    .order_by(OutgoingMail.id)
                )
            )
            .scalars()
            .all()
        )
        counts = dict(
            (
                await session.execute(
                    select(OutgoingMail.status, func.count()).group_by(OutgoingMail.status)
                )
            ).all()
        )
    entries = [
        OutboxEntry(
            r.id,
            r.status,
            r.address,
            r.message_id,
            r.envelope_hash.hex(),
            r.attempts,
            r.created_ms,
            r.next_attempt_ms,
            r.finished_ms,
            r.last_error,
        )
        for r in rows
    ]
    return entries, {s: int(counts.get(s, 0)) for s in (QUEUED, SENT, FAILED)}
