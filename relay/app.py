"""The relay's aiohttp application, built by :func:`create_app` from a :class:`RelayConfig`.

Startup: engine, Alembic migrations, the start-up checks that keep the log from forking
(``relay.logstate``: key, database and signed-size record must belong together; a new log's key
is written only on a first start), sequencer. A failure at startup is a
:class:`relay.logstate.StartupError`: one sentence naming the database (without its password),
the key file or the migration. Cleanup: the sequencer finishes the round in flight, streams are
ended, the engine is disposed. Middlewares, outermost first: problem+json, database trouble
(503), body size and per-address rate (unsigned requests), signatures, per-identity rate (and
per-address for signatures that failed), revoked identities.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Callable
from urllib.parse import urlsplit

from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncEngine

from keys.httpsig import authority_of
from keys.mailseal import ingress_private_key
from keys.note import NoteSigner
from relay.config import RelayConfig
from relay.db.engine import create_engine, sequencer_engine, session_factory
from relay.http import envelopes, identities, mailkey, stream, threads
from relay.http.auth import REPLAY_GUARD, auth_middleware, public
from relay.http.common import BACKEND, CLOCK
from relay.http.errors import problem_middleware
from relay.http.limits import TokenBuckets, address_limit_middleware, identity_limit_middleware
from relay.http.openapi import openapi_document
from relay.http.replay import ReplayGuard
from relay.http.revoked import revocation_middleware
from relay.http.trouble import RETRY_AFTER_SECONDS, database_trouble_middleware
from relay.log.entry import RecordType
from relay.log.http import LOG_STORE, add_log_routes
from relay.log.sequencer import Sequencer
from relay.log.store import LogStore
from relay.logstate import KeyOnDisk, SignedSizeRecorder, load_key, open_database, record_path
from relay.mail.runtime import mail_context
from relay.migrations import migrate
from relay.pubsub import Hub
from relay.service import Backend
from relay.service import envelopes as envelope_service
from relay.service.admission import AdmissionCache
from relay.witnessing import add_witnessing

CONFIG = web.AppKey("closedset.config", RelayConfig)
LOG_SIGNER = web.AppKey("closedset.log_signer", NoteSigner)
LOG_KEY = web.AppKey("closedset.log_key", KeyOnDisk)


def create_app(
    config: RelayConfig,
    *,
    clock: Callable[[], float] = time.time,
    engine: AsyncEngine | None = None,
) -> web.Application:
    """The relay, ready for ``web.AppRunner``; the database is first used at startup.

    ``engine`` replaces the one made from ``config.database_url`` (tests pass one with a
    PostgreSQL schema); either way the application disposes of it at cleanup.
    """
    limits = config.limits
    addresses = TokenBuckets(limits.per_address)
    app = web.Application(
        client_max_size=limits.max_body_bytes,
        # aiohttp's own default keeps an idle connection for an hour (relay.http.server
        # bounds the rest: connections per address, the time a request's head may take).
        handler_args={"keepalive_timeout": limits.keepalive_timeout},
        middlewares=[
            problem_middleware,
            database_trouble_middleware,
            address_limit_middleware(addresses, limits.max_body_bytes, clock, limits.body_timeout),
            auth_middleware(
                max_skew=limits.clock_skew, clock=clock, authority=_authority(config.public_url)
            ),
            identity_limit_middleware(
                limits.per_identity, clock, limits.requests_per_identity, addresses
            ),
            revocation_middleware(),
        ],
    )
    app[CONFIG] = config
    app[CLOCK] = clock
    app[stream.STREAMS] = stream.OpenStreams(limits)
    # A missing key is only generated here: startup decides whether it may be written.
    key = load_key(config.log_key_path, config.log_origin)
    app[LOG_KEY] = key
    signer = key.signer
    app[LOG_SIGNER] = signer
    # The engine connects lazily: nothing touches the database before startup.
    app[LOG_STORE] = LogStore(
        engine or create_engine(config.database_url, timeout=config.database_timeout)
    )
    add_log_routes(app, app[LOG_STORE], signer.verifier().key_string())
    _mark_log_routes_public(app)
    app.cleanup_ctx.append(_storage)
    # After storage (it needs the backend) and so stopped before it: SMTP and egress.
    app.cleanup_ctx.append(mail_context)
    # Cosigned checkpoints on /log/checkpoint; with witnesses, a task started after storage.
    add_witnessing(app, config.witnesses)
    app.on_shutdown.append(_end_streams)

    app.router.add_get("/healthz", get_health)
    app.router.add_get("/openapi.json", get_openapi)
    identities.add_routes(app, limits)
    mailkey.add_routes(app, signer)
    threads.add_routes(app)
    envelopes.add_routes(app)
    app.router.add_get("/v1/stream", stream.get_stream)
    return app


def _authority(public_url: str) -> str | None:
    """The ``@authority`` requests must be signed for; None for "the port I was given" (:0)."""
    return None if urlsplit(public_url).port == 0 else authority_of(public_url)


async def _storage(app: web.Application) -> AsyncIterator[None]:
    config, signer, store = app[CONFIG], app[LOG_SIGNER], app[LOG_STORE]
    engine = store.engine
    # The sequencer's rounds get a connection of their own: they never wait behind requests.
    # (On SQLite the sequencer commits its rounds on a thread of its own: relay.log.sqlite_rounds.)
    rounds_engine = sequencer_engine(engine) if engine.dialect.name == "postgresql" else None
    recorder: SignedSizeRecorder | None = None
    try:
        if engine.dialect.name == "sqlite":
            # A first start: the directory that will hold the database (and the key).
            config.data_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        record = await open_database(
            engine, config.database_url, app[LOG_KEY], config.log_key_path, migrate=migrate
        )
        recorder = SignedSizeRecorder(
            record_path(config.log_key_path),
            signer.verifier().key_string(),
            None if record is None else record.size,
        )
        recorder.start()
        clock = app[CLOCK]
        sequencer = await Sequencer.start(
            store,
            signer,
            clock=lambda: int(clock() * 1000),
            sessions=None if rounds_engine is None else session_factory(rounds_engine),
            heartbeat=config.checkpoint_interval,
            on_commit=recorder.note,
        )
        recorder.note(sequencer.tree_size)
        # Envelope rows are checked and written once per round, inside its transaction.
        sequencer.add_round_writer(
            RecordType.ENVELOPE, envelope_service.round_writer(config.limits.removed_post_budget)
        )
        sessions = session_factory(engine)
        app[REPLAY_GUARD] = ReplayGuard(engine)
        app[BACKEND] = Backend(
            sessions,
            store,
            sequencer,
            config.limits,
            Hub(),
            AdmissionCache(sessions),
            ingress_private_key(signer),
        )
        try:
            yield
        finally:
            await sequencer.close()
    finally:
        if recorder is not None:
            await recorder.close()
        if rounds_engine is not None:
            await rounds_engine.dispose()
        await engine.dispose()


def _mark_log_routes_public(app: web.Application) -> None:
    # The log's handlers live in relay.log.http, which knows nothing about authentication;
    # everything under /log/ is public by design (anyone may audit the log).
    for route in app.router.routes():
        info = route.resource.get_info() if route.resource is not None else {}
        path = info.get("path") or info.get("formatter") or ""
        if path.startswith("/log/"):
            public(route.handler)


async def _end_streams(app: web.Application) -> None:
    if BACKEND in app:
        app[BACKEND].hub.close()


@public
async def get_health(request: web.Request) -> web.Response:
    """200 only while the database answers and the sequencer is writing checkpoints."""
    backend = request.app[BACKEND]
    database = await backend.store.database_trouble(request.app[CONFIG].database_timeout)
    sequencer = backend.sequencer.health()
    healthy = database is None and sequencer is None
    headers = {"Cache-Control": "no-store"}
    if not healthy:
        headers["Retry-After"] = str(RETRY_AFTER_SECONDS)
    return web.json_response(
        {
            "status": "ok" if healthy else "failing",
            "tree_size": backend.sequencer.tree_size,
            "database": database or "ok",
            "sequencer": sequencer or "ok",
        },
        status=200 if healthy else 503,
        headers=headers,
    )


@public
async def get_openapi(request: web.Request) -> web.Response:
    return web.json_response(openapi_document(request.app[CONFIG].public_url))
