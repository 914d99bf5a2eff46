"""What every use case works with: sessions, the log store and sequencer, limits, the hub,
and the admission cache."""

from __future__ import annotations

from dataclasses import dataclass

import nacl.public
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from relay.config import Limits
from relay.log.sequencer import Sequencer
from relay.log.store import LogStore
from relay.pubsub import Hub
from relay.service.admission import AdmissionCache


@dataclass(frozen=True, slots=True)
class Backend:
    sessions: async_sessionmaker[AsyncSession]
    store: LogStore
    sequencer: Sequencer
    limits: Limits
    hub: Hub
    admission: AdmissionCache
    mail_ingress_key: nacl.public.PrivateKey | None = None
    """Opens mail sealed to the relay (``keys.mailseal``); derived from the log key."""
