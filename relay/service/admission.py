"""The in-process admission cache: what ``post`` checks an envelope against before the round.

Per thread: its members (current and removed, with thread role, revocation, posts after
removal and current device keys) and its
envelope count, loaded lazily in one joined query; plus one bounded LRU of recent envelope
hashes (with their thread) for the previous-hash and duplicate checks. Membership and identity
changes made by this process invalidate what they touch.

The cache is never the final authority. Everything a race could change (membership, device
keys, the count, duplicates, the previous hash) is decided again by the envelope round writer
inside the sequencer's round transaction (``relay.service.envelopes.write_round``), and a
refusal based on cached state is only given after the thread was reloaded from the database
(so another relay process's join is seen). Staleness can cost a reload, never a wrong answer.
"""

from __future__ import annotations

import asyncio
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import cast

from sqlalchemy import Table, bindparam, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from keys.envelope import Envelope
from relay.db.api_models import Identity, Member, StoredEnvelope, Thread
from relay.directory import split_devices
from relay.errors import NotFoundError
from relay.threads import MemberState

DEFAULT_MAX_THREADS = 1024
DEFAULT_MAX_HASHES = 65_536
"""About 10 MB of hashes at most; a miss costs one indexed query."""

_threads = cast(Table, Thread.__table__)
_members = cast(Table, Member.__table__)
_identities = cast(Table, Identity.__table__)
_envelopes = cast(Table, StoredEnvelope.__table__)

_THREAD_VIEW = (
    select(
        _threads.c.envelope_count,
        _members.c.identity_key,
        _members.c.removed_after,
        _members.c.role,
        _identities.c.devices,
        _threads.c.creator,
        _identities.c.revoked,
        _members.c.posts_after_removal,
    )
    .select_from(
        _threads.outerjoin(_members, _members.c.thread_id == _threads.c.thread_id).outerjoin(
            _identities, _identities.c.identity_key == _members.c.identity_key
        )
    )
    .where(_threads.c.thread_id == bindparam("thread"))
)
_ENVELOPE_THREAD = select(_envelopes.c.thread_id).where(_envelopes.c.hash == bindparam("hash"))


@dataclass(slots=True)
class EnvelopeRow:
    """What ``post`` hands the sequencer with an envelope (``submit(row=...)``), and what the
    round writer fills in for it before the round commits."""

    envelope: Envelope
    digest: bytes
    caller: bytes
    thread_id: bytes
    body: bytes
    received_ms: int
    sequence: int = 0
    readers: frozenset[bytes] = field(default_factory=frozenset)
    """The recipients that were current members when it committed: whom to push it to."""
    reader_sequences: dict[bytes, int] = field(default_factory=dict)
    """Each recipient identity's per-reader sequence number for this envelope."""
    by_removed: bool = False
    """Sent by a removed member (to the coordinators): its sequence is not told to them."""


@dataclass(frozen=True, slots=True)
class ThreadView:
    """A thread as last loaded (or updated) by this process."""

    thread_id: bytes
    count: int
    """The envelope count as last seen; the real one is never smaller."""
    members: dict[bytes, MemberState]


class AdmissionCache:
    """Threads and recent envelope hashes, bounded, for admission checks without a query."""

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        *,
        max_threads: int = DEFAULT_MAX_THREADS,
        max_hashes: int = DEFAULT_MAX_HASHES,
    ) -> None:
        self._sessions = sessions
        self._max_threads = max_threads
        self._max_hashes = max_hashes
        self._threads: OrderedDict[bytes, ThreadView] = OrderedDict()
        self._hashes: OrderedDict[bytes, bytes] = OrderedDict()
        self._loading: dict[bytes, asyncio.Future[ThreadView]] = {}
        self._epoch = 0
        """Bumped by every invalidation: a load that started before one is not kept."""

    # --- threads -----------------------------------------------------------------------------

    async def thread(self, thread_id: bytes) -> tuple[ThreadView, bool]:
        """The thread's view and whether it was just loaded (404 if there is no thread)."""
        view = self._threads.get(thread_id)
        if view is not None:
            self._threads.move_to_end(thread_id)
            return view, False
        return await self.reload(thread_id), True

    async def reload(self, thread_id: bytes) -> ThreadView:
        """Load the thread from the database (one query; concurrent callers share it)."""
        loading = self._loading.get(thread_id)
        if loading is not None:
            return await asyncio.shield(loading)
        future: asyncio.Future[ThreadView] = asyncio.get_running_loop().create_future()
        self._loading[thread_id] = future
        epoch = self._epoch
        try:
            view = await self._load(thread_id)
        except BaseException as exc:
            future.set_exception(exc)
            future.exception()  # retrieved: a lone loader's failure is not "never retrieved"
            raise
        finally:
            del self._loading[thread_id]
        future.set_result(view)
        if epoch == self._epoch:
            self._keep(view)
        return view

    async def _load(self, thread_id: bytes) -> ThreadView:
        async with self._sessions() as session:
            rows = (await session.execute(_THREAD_VIEW, {"thread": thread_id})).all()
        if not rows:
            raise NotFoundError("There is no such thread on this relay.")
        members = {
            key: MemberState(
                key,
                role,
                split_devices(devices),
                removed_after,
                creator=creator == key,
                revoked=bool(revoked),
                posts_after_removal=int(posts),
            )
            for _, key, removed_after, role, devices, creator, revoked, posts in rows
            if key is not None
        }
        return ThreadView(thread_id, int(rows[0][0]), members)

    def _keep(self, view: ThreadView) -> None:
        self._threads[view.thread_id] = view
        self._threads.move_to_end(view.thread_id)
        while len(self._threads) > self._max_threads:
            self._threads.popitem(last=False)

    def invalidate_thread(self, thread_id: bytes) -> None:
        """Forget the thread (its membership changed)."""
        self._epoch += 1
        self._threads.pop(thread_id, None)

    def invalidate_identity(self, identity_key: bytes) -> None:
        """Forget every thread the identity is a member of (its devices changed)."""
        self._epoch += 1
        for thread_id in [t for t, v in self._threads.items() if identity_key in v.members]:
            del self._threads[thread_id]

    # --- envelopes -----------------------------------------------------------------------------

    def posted(self, thread_id: bytes, digest: bytes, sequence: int) -> None:
        """An envelope of the thread committed with ``sequence``."""
        view = self._threads.get(thread_id)
        if view is not None and view.count < sequence:
            self._threads[thread_id] = ThreadView(thread_id, sequence, view.members)
        self._remember(digest, thread_id)

    def thread_of(self, digest: bytes) -> bytes | None:
        """The thread of a stored envelope, if this process saw it recently."""
        thread_id = self._hashes.get(digest)
        if thread_id is not None:
            self._hashes.move_to_end(digest)
        return thread_id

    async def in_thread(self, digest: bytes, thread_id: bytes) -> bool:
        """Whether ``digest`` is a stored envelope of the thread (the LRU, else one query)."""
        known = self.thread_of(digest)
        if known is None:
            async with self._sessions() as session:
                known = (await session.execute(_ENVELOPE_THREAD, {"hash": digest})).scalar()
            if known is None:
                return False
            self._remember(digest, known)
        return known == thread_id

    def _remember(self, digest: bytes, thread_id: bytes) -> None:
        self._hashes[digest] = thread_id
        self._hashes.move_to_end(digest)
        while len(self._hashes) > self._max_hashes:
            self._hashes.popitem(last=False)
