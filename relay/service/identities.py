"""Register, extend and look up identities; every newly accepted record is logged.

Each new record is its own log entry. Its ``extra`` advances the identity's stored history by
exactly one record with a compare-and-set on ``record_count``, so records land in order and
two racing extensions of one identity cannot both win (the loser gets a 409). A change drops
the identity's threads from this process's admission cache (its device keys may have changed).
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any

from sqlalchemy import and_, exists, insert, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from keys.identity import KeyHistory, encode_history
from relay.db.api_models import DeviceKey, Identity, IdentityRecord, Invite, Member
from relay.directory import (
    certified_device,
    check_devices,
    check_extension,
    device_blob,
    new_devices,
    parse_bundle,
)
from relay.errors import ConflictError, NotFoundError
from relay.log.entry import RecordType
from relay.log.sequencer import ExtraRows, LogPosition, Receipt
from relay.service.backend import Backend
from relay.service.receipts import receipts_at_latest


@dataclass(frozen=True, slots=True)
class Registered:
    receipts: list[Receipt]
    """One per newly accepted record, in history order (empty: nothing was new)."""
    created: bool


@dataclass(frozen=True, slots=True)
class Listing:
    bundle: bytes
    receipts: list[Receipt]
    """One per record of the bundle, against the latest checkpoint."""


async def stored_records(session: AsyncSession, identity_key: bytes) -> list[bytes]:
    rows = await session.execute(
        select(IdentityRecord.record)
        .where(IdentityRecord.identity_key == identity_key)
        .order_by(IdentityRecord.position)
    )
    return list(rows.scalars())


async def register(backend: Backend, bundle: bytes, caller: bytes, now: int) -> Registered:
    """Accept ``bundle`` from ``caller`` at Unix time ``now`` and log its new records."""
    history = parse_bundle(bundle)
    async with backend.sessions() as session:
        stored = await stored_records(session, history.identity_key)
        extension = check_extension(history, caller, stored)
        wanted = new_devices(extension)
        owners = (
            dict(
                (
                    await session.execute(
                        select(DeviceKey.device, DeviceKey.identity_key).where(
                            DeviceKey.device.in_(wanted)
                        )
                    )
                ).all()
            )
            if wanted
            else {}
        )
    check_devices(extension, owners)
    if not extension.new_records:
        return Registered([], False)
    received_ms = now * 1000
    submissions = [
        backend.sequencer.submit(
            RecordType.IDENTITY_RECORD,
            record.to_bytes(),
            received_ms=received_ms,
            extra=_advance(history, extension.first_new + offset, now),
        )
        for offset, record in enumerate(extension.new_records)
    ]
    try:
        results = await asyncio.gather(*submissions, return_exceptions=True)
    finally:
        backend.admission.invalidate_identity(history.identity_key)
    for result in results:
        if isinstance(result, IntegrityError | _RaceError):
            raise ConflictError(
                "This identity was changed by another request at the same time; "
                "fetch it and send your extension again."
            ) from result
        if isinstance(result, BaseException):
            raise result
    receipts = [r for r in results if isinstance(r, Receipt)]
    return Registered(receipts, extension.first_new == 0)


class _RaceError(Exception):
    pass


def _advance(history: KeyHistory, position: int, now: int) -> ExtraRows:
    prefix = KeyHistory.from_records(history.records[: position + 1])
    record = history.records[position]

    async def extra(session: AsyncSession, where: LogPosition) -> None:
        values = {
            "history": encode_history(prefix.records),
            "record_count": position + 1,
            "devices": device_blob(prefix),
            "revoked": prefix.revoked_at is not None,
            "updated_at": now,
        }
        if position == 0:
            await session.execute(
                insert(Identity).values(
                    identity_key=prefix.identity_key,
                    fingerprint=prefix.fingerprint.digest,
                    role=prefix.role,
                    registered_at=now,
                    **values,
                )
            )
        else:
            result = await session.execute(
                update(Identity)
                .where(
                    Identity.identity_key == prefix.identity_key,
                    Identity.record_count == position,
                )
                .values(**values)
            )
            if result.rowcount != 1:  # type: ignore[attr-defined]
                raise _RaceError("the stored history moved")
        await session.execute(
            insert(IdentityRecord).values(
                identity_key=prefix.identity_key,
                position=position,
                record=record.to_bytes(),
                log_index=where.index,
            )
        )
        device = certified_device(record)
        if device is not None:
            # The primary key settles a race between two identities certifying one device.
            await session.execute(
                insert(DeviceKey).values(device=device, identity_key=prefix.identity_key)
            )

    return extra


async def is_revoked(backend: Backend, identity_key: bytes) -> bool:
    """Whether the identity's history ends in its revocation (False if not registered)."""
    async with backend.sessions() as session:
        found = await session.execute(
            select(Identity.revoked).where(Identity.identity_key == identity_key)
        )
        return bool(found.scalar())


_NOT_VISIBLE = (
    "No identity with this fingerprint is registered here that you can look up: you may look "
    "up yourself, members of threads you are in, and with an invite the members of its thread."
)


def may_look_up(caller: bytes, target: Any, invite_id: bytes | None, now: int) -> Any:
    """Who may see an identity (docs/api.md, "Identities"): the caller themselves; anyone who
    shares a thread with it (removed members included: they negotiated with it, but not with
    whoever joined after their removal); and whoever
    presents the id of an unexpired invite, not used by someone else, of a thread it is in.

    The relay cannot check a join proof (only the inviter holds the invite secret), but the
    invite id is ``SHA-256(tag || secret)``: only the invite's holders can present it.
    """
    mine, theirs = aliased(Member), aliased(Member)
    shared = exists(
        select(mine.thread_id)
        .join(theirs, theirs.thread_id == mine.thread_id)
        .where(
            mine.identity_key == caller,
            theirs.identity_key == target,
            # A removed member sees no one who joined after their removal.
            or_(mine.removed_roster.is_(None), theirs.joined_roster < mine.removed_roster),
        )
    )
    rules = [target == caller, shared]
    if invite_id is not None:
        rules.append(
            exists(
                select(Invite.invite_id)
                .join(Member, Member.thread_id == Invite.thread_id)
                .where(
                    Invite.invite_id == invite_id,
                    Invite.expires_at > now,
                    or_(Invite.used_by.is_(None), Invite.used_by == caller),
                    Member.identity_key == target,
                )
            )
        )
    return or_(*rules)


async def lookup(
    backend: Backend, fingerprint: bytes, caller: bytes, invite_id: bytes | None, now: int
) -> Listing:
    """An identity's bundle and a receipt for each of its records, for those who may see it
    (:func:`may_look_up`); to anyone else it is as if it were not registered."""
    async with backend.sessions() as session:
        row = (
            await session.execute(
                select(Identity.identity_key, Identity.history, Identity.record_count).where(
                    and_(
                        Identity.fingerprint == fingerprint,
                        may_look_up(caller, Identity.identity_key, invite_id, now),
                    )
                )
            )
        ).first()
        if row is None:
            raise NotFoundError(_NOT_VISIBLE)
        indices = list(
            (
                await session.execute(
                    select(IdentityRecord.log_index)
                    .where(
                        IdentityRecord.identity_key == row.identity_key,
                        # Records only grow; keep exactly those of the history read above.
                        IdentityRecord.position < row.record_count,
                    )
                    .order_by(IdentityRecord.position)
                )
            ).scalars()
        )
    return Listing(row.history, await receipts_at_latest(backend.store, indices))
