"""The async client of the relay's web API, used by the CLI and the demo.

Every request is signed with the person's identity key (RFC 9421, :mod:`keys.httpsig`).
The relay's log key is pinned on first contact (trust on first use, kept in the profile by
the caller) and every receipt the relay returns is verified against it before it is
believed: a relay that answers with a proof that does not verify is an error, not a warning.
Routes and statuses: docs/api.md.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import aiohttp
import nacl.signing
from yarl import URL

from client.errors import ClientError
from client.receipts import VerifiedReceipt, verify_receipt
from keys.encoding import b64u_decode, b64u_encode, canonical_json, json_int, parse_json
from keys.envelope import Envelope
from keys.errors import KeysError
from keys.httpsig import NONCE_SIZE, authority_of, sign_request
from keys.identity import Fingerprint, KeyHistory, decode_history, encode_history
from keys.logentry import RecordType, decode_entry
from keys.mailseal import verify_ingress_key
from keys.note import NoteVerifier
from keys.randomness import random_bytes


class RelayError(ClientError):
    """The relay refused a request; ``str()`` is the relay's own one-sentence reason."""

    def __init__(self, status: int, detail: str, problem: dict[str, Any] | None = None) -> None:
        super().__init__(detail)
        self.status = status
        self.problem = problem or {}


class RelayUnreachableError(ClientError):
    """The relay could not be reached at all."""


class LogKeyMismatchError(ClientError):
    """The relay now presents a different log key than the one pinned on first contact."""


@dataclass(frozen=True)
class PostedEnvelope:
    hash: bytes
    sequence: int | None
    """None when we were removed from the thread (the relay does not tell us its count)."""
    receipt: VerifiedReceipt
    reader_sequence: int | None = None
    """The sender's own per-reader number for it (docs/api.md, "Readers")."""


@dataclass(frozen=True)
class ThreadEnvelope:
    envelope: Envelope
    sequence: int
    index: int
    received_at: Any
    reader_sequence: int | None = None
    """This reader's number for it: 1, 2, 3, ... over the envelopes addressed to them."""


class RelayClient:
    """One person's connection to one relay."""

    def __init__(
        self,
        base_url: str,
        signing_key: nacl.signing.SigningKey,
        *,
        pinned_log_key: str | None = None,
        on_pin: Callable[[str], None] | None = None,
        clock: Callable[[], float] = time.time,
        session: aiohttp.ClientSession | None = None,
    ) -> None:
        self.base_url = URL(base_url.rstrip("/"))
        self.signing_key = signing_key
        self.pinned_log_key = pinned_log_key
        self._on_pin = on_pin
        self._clock = clock
        self._session = session
        self._owns_session = session is None
        self._verifier: NoteVerifier | None = None

    async def __aenter__(self) -> RelayClient:
        if self._session is None:
            self._session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=60))
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def close(self) -> None:
        if self._owns_session and self._session is not None:
            await self._session.close()
            self._session = None

    @property
    def identity_key(self) -> bytes:
        return bytes(self.signing_key.verify_key)

    # --- plumbing ----------------------------------------------------------------------------

    def _url(self, path: str) -> URL:
        return URL(str(self.base_url) + path, encoded=True)

    def _headers(self, method: str, url: URL, body: bytes) -> dict[str, str]:
        headers = sign_request(
            self.signing_key,
            method,
            url.raw_path_qs,
            body,
            authority=authority_of(str(self.base_url)),
            created=int(self._clock()),
            nonce=random_bytes(NONCE_SIZE),
        )
        if body:
            headers["Content-Type"] = "application/json"
        return headers

    async def _request(
        self, method: str, path: str, body: bytes = b"", *, signed: bool = True
    ) -> Any:
        assert self._session is not None, "use `async with RelayClient(...)`"
        url = self._url(path)
        headers = self._headers(method, url, body) if signed else {}
        try:
            async with self._session.request(method, url, data=body or None, headers=headers) as r:
                payload = await r.read()
                content_type = r.content_type
                status = r.status
        except aiohttp.ClientError as exc:
            raise RelayUnreachableError(
                f"Cannot reach the relay at {self.base_url}: {exc}; check the address."
            ) from exc
        if status >= 400:
            problem: dict[str, Any] = {}
            if content_type in ("application/problem+json", "application/json"):
                try:
                    problem = parse_json(payload, what="problem")
                except KeysError:
                    problem = {}
                if not isinstance(problem, dict):
                    problem = {}
            detail = str(problem.get("detail") or f"The relay answered HTTP {status}.")
            raise RelayError(status, detail, problem)
        if content_type == "application/json":
            try:
                return parse_json(payload, what="relay's answer")
            except KeysError as exc:
                raise RelayError(502, f"The relay's answer is not usable JSON: {exc}") from exc
        return payload.decode("utf-8")

    @staticmethod
    def _json(value: Any) -> bytes:
        return canonical_json(value)

    # --- the log key: pinned on first contact ------------------------------------------------

    async def log_verifier(self) -> NoteVerifier:
        if self._verifier is not None:
            return self._verifier
        key = str(await self._request("GET", "/log/key", signed=False)).strip()
        if self.pinned_log_key is None:
            self.pinned_log_key = key
            if self._on_pin is not None:
                self._on_pin(key)
        elif key != self.pinned_log_key:
            raise LogKeyMismatchError(
                f"The relay at {self.base_url} presents log key {key}, not {self.pinned_log_key} "
                "pinned on first contact; do not trust it until its operator explains."
            )
        self._verifier = NoteVerifier.from_key_string(self.pinned_log_key)
        return self._verifier

    async def verify(
        self, receipt: dict[str, Any], logged: bytes, record_type: RecordType
    ) -> VerifiedReceipt:
        return verify_receipt(receipt, logged, record_type, await self.log_verifier())

    # --- the log's public reads (docs/log.md); callers verify what they get -----------------

    async def checkpoint_note(self) -> str:
        """The latest signed checkpoint, with any witness cosignatures the relay holds."""
        return str(await self._request("GET", "/log/checkpoint", signed=False))

    async def inclusion_proof(self, index: int, size: int) -> list[bytes]:
        answer = await self._request(
            "GET", f"/log/proof/inclusion?index={index}&size={size}", signed=False
        )
        return [b64u_decode(h, length=32, what="proof hash") for h in answer["hashes"]]

    async def consistency_proof(self, first: int, second: int) -> list[bytes]:
        answer = await self._request(
            "GET", f"/log/proof/consistency?from={first}&to={second}", signed=False
        )
        return [b64u_decode(h, length=32, what="proof hash") for h in answer["hashes"]]

    async def mail_ingress_key(self) -> bytes:
        """The X25519 key mail to this relay's thread addresses is sealed to, checked against
        the pinned log key (docs/email.md, "Sealed for the pipe")."""
        verifier = await self.log_verifier()
        answer = await self._request("GET", "/v1/mail/ingress-key", signed=False)
        try:
            key = b64u_decode(answer["key"], length=32, what="ingress key")
            signature = b64u_decode(answer["signature"], length=64, what="signature")
            return verify_ingress_key(verifier.public_key, key, signature)
        except (KeyError, TypeError, KeysError) as exc:
            raise RelayError(
                502, f"The relay's mail ingress key is not signed by its log key: {exc}"
            ) from exc

    # --- identities --------------------------------------------------------------------------

    async def register(self, history: KeyHistory) -> list[VerifiedReceipt]:
        """Publish (or extend) our identity history; every record's receipt is verified."""
        answer = await self._request("POST", "/v1/identities", encode_history(history.records))
        return await self._verify_record_receipts(answer.get("receipts", []), history)

    async def _verify_record_receipts(
        self, receipts: list[dict[str, Any]], history: KeyHistory
    ) -> list[VerifiedReceipt]:
        """Match each receipt to the record whose hash its entry carries, then verify it."""
        by_digest = {hashlib.sha256(r.to_bytes()).digest(): r.to_bytes() for r in history.records}
        verified = []
        for receipt in receipts:
            try:
                digest = decode_entry(b64u_decode(receipt["entry"], what="log entry")).digest
            except (KeyError, TypeError, KeysError) as exc:
                raise RelayError(502, f"The relay's receipt is malformed: {exc}") from exc
            record = by_digest.get(digest)
            if record is None:
                raise RelayError(502, "The relay returned a receipt for a record we did not send.")
            verified.append(await self.verify(receipt, record, RecordType.IDENTITY_RECORD))
        return verified

    async def lookup(
        self, fingerprint: Fingerprint, *, invite_id: bytes | None = None
    ) -> tuple[KeyHistory, list[VerifiedReceipt]]:
        """Fetch someone's identity history and verify it and the log receipts of its records.

        The relay answers only for ourselves, people we share a thread with, and (with
        ``invite_id``) the members of the thread an invite we hold is for. Signed: the relay
        then limits it per identity, not per address (a cast on one Wi-Fi shares an address),
        so nobody else's traffic stops a withdrawal.
        """
        query = "" if invite_id is None else f"?invite={b64u_encode(invite_id)}"
        answer = await self._request("GET", f"/v1/identities/{fingerprint.compact}{query}")
        history = decode_history(canonical_json(answer["bundle"]))
        if history.fingerprint != fingerprint:
            raise RelayError(502, "The relay returned an identity with another fingerprint.")
        receipts = await self._verify_record_receipts(answer.get("receipts", []), history)
        if len({r.index for r in receipts}) != len(history.records):
            raise RelayError(502, "The relay did not prove that every identity record is logged.")
        return history, receipts

    # --- threads -----------------------------------------------------------------------------

    async def create_thread(self, thread: bytes) -> dict[str, Any]:
        body = self._json({"thread": b64u_encode(thread)})
        result: dict[str, Any] = await self._request("POST", "/v1/threads", body)
        return result

    async def threads(self) -> list[dict[str, Any]]:
        # Reads check the pinned log key too: a relay that changed its key is not believed.
        await self.log_verifier()
        answer = await self._request("GET", "/v1/threads")
        return list(answer["threads"])

    async def thread(self, thread: bytes) -> dict[str, Any]:
        await self.log_verifier()
        result: dict[str, Any] = await self._request("GET", f"/v1/threads/{b64u_encode(thread)}")
        return result

    async def create_invite(
        self, thread: bytes, invite_id: bytes, expires_at: int, role: str = "performer"
    ) -> None:
        body = self._json(
            {"invite_id": b64u_encode(invite_id), "expires_at": expires_at, "role": role}
        )
        await self._request("POST", f"/v1/threads/{b64u_encode(thread)}/invites", body)

    async def join(self, thread: bytes, invite_id: bytes, proof: bytes) -> dict[str, Any]:
        body = self._json({"invite_id": b64u_encode(invite_id), "proof": b64u_encode(proof)})
        result: dict[str, Any] = await self._request(
            "POST", f"/v1/threads/{b64u_encode(thread)}/join", body
        )
        return result

    async def grant(self, thread: bytes, grant: bytes) -> VerifiedReceipt:
        """Send the creator's signed grant (``keys.grant``); its receipt is verified."""
        answer = await self._request("POST", f"/v1/threads/{b64u_encode(thread)}/grants", grant)
        return await self.verify(answer, grant, RecordType.THREAD_GRANT)

    async def remove_member(self, thread: bytes, member: Fingerprint) -> None:
        await self._request("DELETE", f"/v1/threads/{b64u_encode(thread)}/members/{member.compact}")

    # --- envelopes ---------------------------------------------------------------------------

    async def post(self, envelope: Envelope) -> PostedEnvelope:
        data = envelope.to_bytes()
        thread = b64u_encode(envelope.context.thread)
        answer = await self._request("POST", f"/v1/threads/{thread}/envelopes", data)
        receipt = await self.verify(answer, data, RecordType.ENVELOPE)
        # None: we were removed from the thread (the relay tells us no number then), or we
        # are not among the envelope's recipients.
        sequence = answer.get("sequence")
        own = answer.get("reader_sequence")
        return PostedEnvelope(
            envelope.hash,
            None if sequence is None else int(sequence),
            receipt,
            None if own is None else int(own),
        )

    async def page(
        self, thread: bytes, after: str | None = None, limit: int = 100
    ) -> tuple[list[ThreadEnvelope], str | None]:
        await self.log_verifier()
        query = f"?limit={limit}" + (f"&after={after}" if after else "")
        answer = await self._request("GET", f"/v1/threads/{b64u_encode(thread)}/envelopes{query}")
        try:
            items = [
                ThreadEnvelope(
                    Envelope.from_bytes(canonical_json(item["envelope"])),
                    json_int(item["sequence"], "envelope's sequence"),
                    json_int(item["index"], "envelope's log index"),
                    item.get("received_at"),
                    None
                    if item.get("reader_sequence") is None
                    else json_int(item["reader_sequence"], "envelope's reader sequence"),
                )
                for item in answer["envelopes"]
            ]
        except (KeyError, TypeError, KeysError) as exc:
            raise RelayError(502, f"The relay's page of envelopes is malformed: {exc}") from exc
        return items, answer.get("next")

    async def all_envelopes(self, thread: bytes) -> list[ThreadEnvelope]:
        items: list[ThreadEnvelope] = []
        cursor: str | None = None
        while True:
            page, cursor = await self.page(thread, cursor, limit=500)
            items.extend(page)
            if not cursor or not page:
                return items

    async def receipt(self, envelope: Envelope) -> VerifiedReceipt:
        answer = await self._request("GET", f"/v1/receipts/{envelope.hash.hex()}")
        return await self.verify(answer, envelope.to_bytes(), RecordType.ENVELOPE)

    @asynccontextmanager
    async def stream(self) -> AsyncIterator[AsyncIterator[dict[str, Any]]]:
        """Open the push stream; the relay subscribes us before the handshake completes,
        so every envelope committed after entering the block is delivered.

        ``async with client.stream() as events: async for event in events: ...``
        """
        assert self._session is not None, "use `async with RelayClient(...)`"
        url = self._url("/v1/stream")
        try:
            ws = await self._session.ws_connect(url, headers=self._headers("GET", url, b""))
        except aiohttp.WSServerHandshakeError as exc:
            raise RelayError(exc.status, f"The relay refused the stream: {exc.message}.") from exc
        try:
            yield _events(ws)
        finally:
            await ws.close()


async def _events(ws: aiohttp.ClientWebSocketResponse) -> AsyncIterator[dict[str, Any]]:
    async for message in ws:
        if message.type == aiohttp.WSMsgType.TEXT:
            try:
                yield parse_json(message.data.encode("utf-8"), what="stream message")
            except KeysError:
                return
        elif message.type in (aiohttp.WSMsgType.CLOSED, aiohttp.WSMsgType.ERROR):
            return
