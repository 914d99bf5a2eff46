"""Test-side helpers for the relay API: people with keys, a signing caller, a running relay.

A deliberately small stand-in for the real client (``client/relay_client.py``): the tests
must be able to send what a client never would (unsigned, replayed, forged requests).
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import aiohttp
import nacl.signing
from aiohttp.test_utils import TestServer
from sqlalchemy import func, select

from keys.checkpoint import open_checkpoint
from keys.encoding import b64u_decode, b64u_encode
from keys.envelope import Envelope, Recipient, seal
from keys.httpsig import authority_of, sign_request
from keys.identity import (
    DeviceKeyPair,
    Fingerprint,
    certify_device,
    encode_history,
    make_identity_record,
)
from keys.invite import invite_id, join_proof
from keys.logentry import decode_entry
from keys.merkle import hash_leaf, verify_inclusion
from keys.note import NoteVerifier
from keys.statement import Statement
from relay.app import create_app
from relay.config import Limits, RateLimit, load_config
from relay.db.base import Base
from relay.http.server import RelayRunner
from tests.relay.conftest import DbTarget

START = 1_800_000_000
ROOMY = RateLimit(10_000.0, 10_000)
PURPOSE = "closedset/test/note/v1"


class FakeClock:
    """The relay's clock in tests: time moves only when a test moves it."""

    def __init__(self, now: float = START) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@dataclass
class Person:
    name: str
    role: str
    key: nacl.signing.SigningKey
    device: DeviceKeyPair
    records: list[Statement]

    @classmethod
    def new(cls, name: str, role: str, now: int = START - 60) -> Person:
        key = nacl.signing.SigningKey.generate()
        device = DeviceKeyPair.generate()
        records = [
            make_identity_record(key, name=name, role=role, issued_at=now),  # type: ignore[arg-type]
            certify_device(key, device.public, issued_at=now),
        ]
        return cls(name, role, key, device, records)

    @property
    def identity(self) -> bytes:
        return bytes(self.key.verify_key)

    @property
    def fingerprint(self) -> str:
        return Fingerprint.of(self.identity).compact

    def bundle(self) -> bytes:
        return encode_history(self.records)

    def recipients(self) -> list[Recipient]:
        return [Recipient(self.identity, self.device.public)]


def seal_to(
    sender: Person, thread: bytes, others: list[Person], prev: bytes | None, text: bytes = b"hi"
) -> Envelope:
    recipients = [r for p in [sender, *others] for r in p.recipients()]
    return seal(
        text, sender=sender.key, recipients=recipients, thread=thread, prev=prev, purpose=PURPOSE
    ).envelope


@dataclass
class Reply:
    status: int
    body: Any
    headers: dict[str, str]
    content_type: str


@dataclass
class Api:
    """Signs and sends requests the way a client does, and lets a test bend every part."""

    http: aiohttp.ClientSession
    base: str
    clock: FakeClock
    sent: list[tuple[str, str, bytes, dict[str, str]]] = field(default_factory=list)
    signed_for: str = ""
    """The relay's public URL requests are signed for; by default the address connected to."""
    app: Any = None
    """The relay's aiohttp application (its routes), when the test started it."""

    def sign(self, who: Person, method: str, target: str, body: bytes) -> dict[str, str]:
        return sign_request(
            who.key,
            method,
            target,
            body,
            authority=authority_of(self.signed_for or self.base),
            created=int(self.clock()),
            nonce=os.urandom(16),
        )

    def stream(self, who: Person) -> Any:
        """Open ``who``'s signed push stream (``async with`` it, or await it and close it)."""
        headers = self.sign(who, "GET", "/v1/stream", b"")
        return self.http.ws_connect(self.base + "/v1/stream", headers=headers)

    async def call(
        self,
        who: Person | None,
        method: str,
        target: str,
        body: bytes | dict[str, Any] | None = None,
        *,
        headers: dict[str, str] | None = None,
    ) -> Reply:
        data = json.dumps(body).encode() if isinstance(body, dict) else (body or b"")
        signed = {} if who is None else self.sign(who, method, target, data)
        all_headers = {"Content-Type": "application/json", **signed, **(headers or {})}
        self.sent.append((method, target, data, all_headers))
        return await self.send(method, target, data, all_headers)

    async def send(self, method: str, target: str, data: bytes, headers: dict[str, str]) -> Reply:
        async with self.http.request(
            method, self.base + target, data=data, headers=headers
        ) as response:
            raw = await response.read()
            kind = response.content_type
            parsed: Any = json.loads(raw) if kind.endswith("json") and raw else raw
            return Reply(response.status, parsed, dict(response.headers), kind)

    async def register(self, *people: Person) -> None:
        for person in people:
            reply = await self.call(person, "POST", "/v1/identities", person.bundle())
            assert reply.status == 201, reply.body


class RelayTestServer(TestServer):
    """aiohttp's TestServer on port 0, with the relay's own runner (relay.http.server)."""

    def __init__(self, app: Any, limits: Limits) -> None:
        super().__init__(app, port=0)
        self.limits = limits

    async def _make_runner(self, **kwargs: Any) -> Any:
        return RelayRunner(self.app, limits=self.limits, **kwargs)


def small_config(tmp_path: Path, config: dict[str, Any] | None = None, **limits: Any) -> Any:
    # Port 0: the relay takes the port it is given, and requests are signed for that address.
    config = load_config(
        None,
        {},
        {"data_dir": str(tmp_path / "relay-data"), "http": "127.0.0.1:0", **(config or {})},
    )
    base = Limits(
        per_identity=ROOMY,
        per_address=ROOMY,
        registrations_per_address=ROOMY,
        registrations_per_identity=ROOMY,
        identities_per_address_hour=10_000,
    )
    return replace(config, limits=replace(base, **limits))


@asynccontextmanager
async def running_relay(
    target: DbTarget,
    tmp_path: Path,
    clock: FakeClock,
    config: dict[str, Any] | None = None,
    **limits: Any,
) -> AsyncIterator[Api]:
    """A relay on a real socket (port 0) over ``target``, and an Api pointed at it.

    ``config`` sets top-level keys (``public_url``), ``limits`` the ``[limits]`` ones."""
    settings = config
    config = small_config(tmp_path, settings, **limits)
    app = create_app(config, clock=clock, engine=target.make_engine())
    server = RelayTestServer(app, config.limits)
    await server.start_server()
    try:
        async with aiohttp.ClientSession() as http:
            yield Api(
                http,
                str(server.make_url("")).rstrip("/"),
                clock,
                signed_for=(settings or {}).get("public_url", ""),
                app=app,
            )
    finally:
        await server.close()


async def snapshot(target: DbTarget) -> dict[str, int]:
    """Row counts of every relay table (the log's included): what "nothing stored" compares."""
    engine = target.make_engine()
    try:
        async with engine.connect() as conn:
            return {
                table.name: int(
                    (await conn.execute(select(func.count()).select_from(table))).scalar_one()
                )
                for table in Base.metadata.sorted_tables
                # The replay cache keeps every verified signature, refused request or not (so
                # it cannot be sent again); it stores no part of what the request asked for.
                if table.name != "request_nonces"
            }
    finally:
        await engine.dispose()


# --- steps of the story, shared by the API tests -------------------------------------------


async def log_verifier(api: Api) -> NoteVerifier:
    reply = await api.call(None, "GET", "/log/key")
    assert reply.status == 200
    return NoteVerifier.from_key_string(reply.body.decode().strip())


def check_receipt(receipt: dict[str, Any], verifier: NoteVerifier, logged: bytes) -> None:
    """What a client does with every receipt: entry names the bytes, proof reaches the root."""
    entry = b64u_decode(receipt["entry"])
    assert decode_entry(entry).digest == hashlib.sha256(logged).digest()
    assert b64u_decode(receipt["leaf_hash"]) == hash_leaf(entry)
    checkpoint = open_checkpoint(receipt["checkpoint"], verifier).checkpoint
    assert checkpoint.size == receipt["tree_size"]
    proof = [b64u_decode(h) for h in receipt["inclusion"]]
    verify_inclusion(
        hash_leaf(entry), receipt["index"], checkpoint.size, proof, checkpoint.root_hash
    )


async def open_thread(api: Api, ic: Person, *joiners: Person) -> bytes:
    """The IC creates a thread and each joiner joins with their own invite."""
    thread = os.urandom(16)
    reply = await api.call(ic, "POST", "/v1/threads", {"thread": b64u_encode(thread)})
    assert reply.status == 201, reply.body
    for joiner in joiners:
        secret = os.urandom(32)
        await invite(api, ic, thread, secret)
        reply = await api.call(
            joiner,
            "POST",
            f"/v1/threads/{b64u_encode(thread)}/join",
            {
                "invite_id": b64u_encode(invite_id(secret)),
                "proof": b64u_encode(join_proof(secret, thread, joiner.identity)),
            },
        )
        assert reply.status == 201, reply.body
    return thread


async def invite(
    api: Api, ic: Person, thread: bytes, secret: bytes, ttl: int = 3600, role: str = "performer"
) -> None:
    reply = await api.call(
        ic,
        "POST",
        f"/v1/threads/{b64u_encode(thread)}/invites",
        {
            "invite_id": b64u_encode(invite_id(secret)),
            "expires_at": int(api.clock()) + ttl,
            "role": role,
        },
    )
    assert reply.status == 201, reply.body


async def post(api: Api, sender: Person, envelope: Envelope) -> dict[str, Any]:
    thread = b64u_encode(envelope.context.thread)
    reply = await api.call(sender, "POST", f"/v1/threads/{thread}/envelopes", envelope.to_bytes())
    assert reply.status == 201, reply.body
    return dict(reply.body)
