"""The OpenAPI 3.1 document the relay serves at ``/openapi.json``, written by hand as data.

Kept next to the handlers it describes; docs/api.md says the same in prose. A test checks
that every route the app registers appears here and nothing else does.
"""

from __future__ import annotations

from typing import Any

from keys.roles import INVITABLE_ROLES
from relay.http.common import FINGERPRINT_PATTERN

PROBLEM = {"$ref": "#/components/responses/Problem"}
B64U = {"type": "string", "pattern": "^[A-Za-z0-9_-]*$", "description": "unpadded base64url"}
# Canonical unpadded base64url of exactly 16 / 32 / 64 bytes: the last character's spare bits
# are zero (keys.encoding.b64u_decode refuses anything else).
B64U16 = {"type": "string", "pattern": "^[A-Za-z0-9_-]{21}[AQgw]$", "description": "16 bytes, b64u"}
B64U32 = {
    "type": "string",
    "pattern": "^[A-Za-z0-9_-]{42}[AEIMQUYcgkosw048]$",
    "description": "32 bytes, b64u",
}
HEX32 = {"type": "string", "pattern": "^[0-9a-f]{64}$"}
MAX_INT = 2**53 - 1
UNIX_TIME = {"type": "integer", "minimum": 0, "maximum": MAX_INT}
COUNT = {"type": "integer", "minimum": 0, "maximum": MAX_INT}
SIGNED: list[dict[str, list[str]]] = [{"httpSignature": []}]


def _json(schema: dict[str, Any]) -> dict[str, Any]:
    return {"content": {"application/json": {"schema": schema}}}


def _ok(description: str, schema: dict[str, Any] | None = None) -> dict[str, Any]:
    return {"description": description, **(_json(schema) if schema else {})}


def _op(
    summary: str,
    responses: dict[str, Any],
    *,
    signed: bool = True,
    body: dict[str, Any] | None = None,
    errors: tuple[int, ...] = (),
    parameters: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    operation: dict[str, Any] = {"summary": summary, "responses": dict(responses)}
    # Every route may be refused for the caller's rate (429); every body may be too large (413)
    # or too slow (408); a signed route needs its signature (401, before anything else); any
    # may find the database unavailable just now (503 with Retry-After).
    if signed:
        operation["security"] = SIGNED
        # 403 also: a revoked identity, on every route.
        errors = (401, 403, 429, 503, *errors)
    else:
        operation["security"] = []
        errors = (429, 503, *errors)
    if body is not None:
        errors = (400, 408, 413, *errors)
    for status in sorted(set(errors)):
        operation["responses"].setdefault(str(status), PROBLEM)
    if body is not None:
        operation["requestBody"] = {"required": True, **_json(body)}
    if body is None and signed:
        # A signed route reads the (empty) body to check its digest: a body it did not expect
        # can still be too large.
        operation["responses"].setdefault("413", PROBLEM)
    if parameters:
        operation["parameters"] = parameters
    return operation


def _path(name: str, description: str, schema: dict[str, Any] | None = None) -> dict[str, Any]:
    return {
        "name": name,
        "in": "path",
        "required": True,
        "description": description,
        "schema": schema or {"type": "string"},
    }


DECIMAL = {"type": "string", "pattern": "^(0|[1-9][0-9]{0,15})$", "maxLength": 16}
"""A decimal without leading zeroes, at most 2^53 - 1 (a larger one is a 400)."""


def _query(name: str, description: str, *, required: bool = False) -> dict[str, Any]:
    return {
        "name": name,
        "in": "query",
        "required": required,
        "description": description,
        "schema": DECIMAL,
    }


THREAD = _path("thread", "thread id, 16 bytes in unpadded base64url", B64U16)
FINGERPRINT = _path(
    "fingerprint",
    "fingerprint, 32 base32 characters in any case, grouped by spaces, dashes or colons",
    {"type": "string", "pattern": FINGERPRINT_PATTERN},
)
RECEIPT = {"$ref": "#/components/schemas/Receipt"}
STATEMENT = {
    "type": "object",
    "description": "a signed statement (docs/protocol.md, Signatures and statements)",
}
ENVELOPE = {
    "type": "object",
    "description": "an envelope as its canonical JSON bytes (docs/protocol.md, Envelope)",
    "required": ["ciphertext", "context", "keys", "nonce", "signature"],
    "additionalProperties": False,
    "properties": {
        "ciphertext": B64U,
        "context": {
            "type": "object",
            "required": ["prev", "purpose", "recipients", "sender", "thread", "v"],
            "additionalProperties": False,
            "properties": {
                "prev": {"oneOf": [B64U32, {"type": "null"}]},
                "purpose": {"type": "string", "maxLength": 64},
                "recipients": {
                    "type": "array",
                    "minItems": 1,
                    "maxItems": 64,
                    "items": {
                        "type": "object",
                        "required": ["device", "identity"],
                        "additionalProperties": False,
                        "properties": {"device": B64U32, "identity": B64U32},
                    },
                },
                "sender": B64U32,
                "thread": B64U16,
                "v": {"const": 1},
            },
        },
        "keys": {"type": "array", "minItems": 1, "maxItems": 64, "items": B64U},
        "nonce": B64U,
        "signature": B64U,
    },
}
BUNDLE = {
    "type": "object",
    "description": "an identity bundle as its canonical JSON bytes (docs/protocol.md, Identities)",
    "required": ["records"],
    "additionalProperties": False,
    "properties": {
        "records": {"type": "array", "minItems": 1, "maxItems": 256, "items": STATEMENT}
    },
}
TEXT = {"content": {"text/plain": {"schema": {"type": "string"}}}}
OCTETS = {
    "content": {"application/octet-stream": {"schema": {"type": "string", "format": "binary"}}}
}


LEVEL = "^([0-9]|[1-5][0-9]|6[0-3])$"
TILE_PATH = {
    "type": "string",
    "pattern": "^(x[0-9]{3}/)*[0-9]{3}(\\.p/([1-9][0-9]?|1[0-9]{2}|2[0-4][0-9]|25[0-5]))?$",
    "maxLength": 64,
}


def _health(status: str, part: dict[str, Any]) -> dict[str, Any]:
    return {
        "type": "object",
        "required": ["status", "tree_size", "database", "sequencer"],
        "properties": {
            "status": {"const": status},
            "tree_size": COUNT,
            "database": part,
            "sequencer": part,
        },
    }


def _paths() -> dict[str, Any]:
    receipts = {"type": "object", "properties": {"receipts": {"type": "array", "items": RECEIPT}}}
    member = {
        "type": "object",
        "required": ["identity", "fingerprint", "role", "devices", "joined_at", "removed_at"],
        "properties": {
            "identity": B64U32,
            "fingerprint": {"type": "string"},
            "role": {"type": "string"},
            "devices": {"type": "array", "items": B64U32},
            "joined_at": UNIX_TIME,
            "removed_at": {"oneOf": [COUNT, {"type": "null"}]},
            "invite_id": {"oneOf": [B64U32, {"type": "null"}]},
            "join_proof": {"oneOf": [B64U32, {"type": "null"}]},
            "creator": {"type": "boolean"},
        },
    }
    grant = {
        "type": "object",
        "required": ["grantee", "granter", "grant", "index", "granted_at"],
        "properties": {
            "grantee": B64U32,
            "granter": B64U32,
            "grant": {"type": "object", "description": "the signed grant, canonical JSON"},
            "index": COUNT,
            "granted_at": UNIX_TIME,
        },
    }
    summary = {
        "type": "object",
        "required": ["thread", "created_at", "envelope_count", "removed"],
        "properties": {
            "thread": B64U16,
            "created_at": UNIX_TIME,
            "envelope_count": COUNT,
            "removed": {"type": "boolean"},
        },
    }
    thread_only = {
        "type": "object",
        "required": ["thread"],
        "additionalProperties": False,
        "properties": {"thread": B64U16},
    }
    invite = {
        "type": "object",
        "required": ["invite_id", "expires_at", "role"],
        "additionalProperties": False,
        "properties": {
            "invite_id": B64U32,
            "expires_at": UNIX_TIME,
            "role": {"type": "string", "enum": list(INVITABLE_ROLES)},
        },
    }
    page_item = {
        "type": "object",
        "required": ["envelope", "hash", "index", "sequence", "reader_sequence", "received_at"],
        "properties": {
            "envelope": ENVELOPE,
            "hash": HEX32,
            "index": COUNT,
            "sequence": COUNT,
            "reader_sequence": COUNT,
            "received_at": COUNT,
        },
    }

    def proof(first: str, second: str) -> dict[str, Any]:
        return {
            "type": "object",
            "required": [first, second, "hashes"],
            "properties": {
                first: COUNT,
                second: COUNT,
                "hashes": {"type": "array", "items": B64U32},
            },
        }

    envelope_receipt = {
        "allOf": [
            RECEIPT,
            {
                "type": "object",
                "required": ["hash", "sequence", "reader_sequence"],
                "properties": {
                    "hash": HEX32,
                    # The sender's own reader number; null if the sender is not among the
                    # recipients, and for a removed member's post (they read nothing past
                    # their removal).
                    "sequence": {"oneOf": [COUNT, {"type": "null"}]},
                    "reader_sequence": {"oneOf": [COUNT, {"type": "null"}]},
                },
            },
        ]
    }
    return {
        "/healthz": {
            "get": _op(
                "Health: the database answers and the sequencer writes checkpoints",
                {
                    "200": _ok("healthy", _health("ok", {"const": "ok"})),
                    "503": _ok(
                        "the database or the sequencer is failing (which: their members)",
                        _health("failing", {"type": "string"}),
                    ),
                },
                signed=False,
            )
        },
        "/openapi.json": {"get": _op("This document", {"200": _ok("OpenAPI 3.1")}, signed=False)},
        "/v1/identities": {
            "post": _op(
                "Register an identity or extend its history (signed by that identity)",
                {
                    "201": _ok("registered; one receipt per record", receipts),
                    "200": _ok("extended (receipts for the new records only)", receipts),
                },
                body=BUNDLE,
                errors=(400, 403, 409, 413, 422),
            )
        },
        "/v1/identities/{fingerprint}": {
            "get": _op(
                "Look up an identity: its bundle and a receipt per record (yourself, "
                "co-members, or members of an invite's thread)",
                {
                    "200": _ok(
                        "found",
                        {
                            "type": "object",
                            "properties": {
                                "bundle": BUNDLE,
                                "receipts": {"type": "array", "items": RECEIPT},
                            },
                        },
                    )
                },
                errors=(400, 404),
                parameters=[
                    FINGERPRINT,
                    {
                        "name": "invite",
                        "in": "query",
                        "required": False,
                        "description": "b64u invite id: look up a member of the invite's thread",
                        "schema": B64U32,
                    },
                ],
            )
        },
        "/v1/mail/ingress-key": {
            "get": _op(
                "The X25519 key mail to a thread is sealed to, signed by the log key",
                {
                    "200": _ok(
                        "the key",
                        {
                            "type": "object",
                            "required": ["key", "signature"],
                            "additionalProperties": False,
                            "properties": {"key": B64U32, "signature": B64U},
                        },
                    )
                },
                signed=False,
            )
        },
        "/v1/threads": {
            "post": _op(
                "Create a thread: any registered identity, which becomes its IC (a few a day)",
                {"201": _ok("created", thread_only)},
                body=thread_only,
                errors=(400, 403, 409),
            ),
            "get": _op(
                "The caller's threads",
                {
                    "200": _ok(
                        "threads",
                        {
                            "type": "object",
                            "required": ["threads"],
                            "properties": {"threads": {"type": "array", "items": summary}},
                        },
                    )
                },
            ),
        },
        "/v1/threads/{thread}": {
            "get": _op(
                "A thread's members, coordinators and heads (members; a removed member sees "
                "the thread as it stood at the removal)",
                {
                    "200": _ok(
                        "the thread",
                        {
                            "type": "object",
                            "required": ["thread", "creator", "members", "heads"],
                            "properties": {
                                "thread": B64U16,
                                "creator": B64U32,
                                "created_at": UNIX_TIME,
                                "envelope_count": COUNT,
                                "members": {"type": "array", "items": member},
                                "heads": {"type": "array", "items": HEX32},
                                "coordinators": {"type": "array", "items": B64U32},
                                "grants": {"type": "array", "items": grant},
                            },
                        },
                    )
                },
                errors=(400, 403, 404),
                parameters=[THREAD],
            )
        },
        "/v1/threads/{thread}/invites": {
            "post": _op(
                "Register an invite by the hash of its secret, naming the role it admits "
                "(coordinators only)",
                {"201": _ok("registered", invite)},
                body=invite,
                errors=(400, 403, 404, 409),
                parameters=[THREAD],
            )
        },
        "/v1/threads/{thread}/join": {
            "post": _op(
                "Join with a single-use invite and a join proof",
                {"201": _ok("joined", thread_only)},
                body={
                    "type": "object",
                    "required": ["invite_id", "proof"],
                    "additionalProperties": False,
                    "properties": {"invite_id": B64U32, "proof": B64U32},
                },
                errors=(400, 403, 404, 409, 410),
                parameters=[THREAD],
            )
        },
        "/v1/threads/{thread}/grants": {
            "post": _op(
                "Make a member co-coordinator by the creator's signed grant (logged)",
                {
                    "201": _ok(
                        "granted and logged",
                        {
                            "allOf": [
                                RECEIPT,
                                {
                                    "type": "object",
                                    "required": ["grantee"],
                                    "properties": {"grantee": B64U32},
                                },
                            ]
                        },
                    )
                },
                body={"type": "object", "description": "a thread grant, canonical JSON"},
                errors=(400, 403, 404, 409, 422),
                parameters=[THREAD],
            )
        },
        "/v1/threads/{thread}/members/{fingerprint}": {
            "delete": _op(
                "Remove a member (coordinators remove others, only the creator removes a "
                "co-coordinator, nobody the creator; anyone but the creator may leave)",
                {"204": {"description": "removed"}},
                errors=(400, 403, 404, 409),
                parameters=[THREAD, FINGERPRINT],
            )
        },
        "/v1/threads/{thread}/envelopes": {
            "post": _op(
                "Post an envelope; answered after it is stored and logged",
                {
                    "201": _ok("accepted", envelope_receipt),
                    "200": _ok("already stored (same bytes)", envelope_receipt),
                },
                body=ENVELOPE,
                errors=(400, 403, 404, 409, 413, 422),
                parameters=[THREAD],
            ),
            "get": _op(
                "Page through the envelopes the caller may read",
                {
                    "200": _ok(
                        "a page",
                        {
                            "type": "object",
                            "required": ["envelopes", "next"],
                            "properties": {
                                "envelopes": {"type": "array", "items": page_item},
                                "next": {"oneOf": [DECIMAL, {"type": "null"}]},
                            },
                        },
                    )
                },
                errors=(400, 403, 404),
                parameters=[
                    THREAD,
                    _query("after", "cursor from a previous page"),
                    _query("limit", "page size, 1 to page_max (500 by default; default 100)"),
                ],
            ),
        },
        "/v1/receipts/{hash}": {
            "get": _op(
                "An envelope's receipt against the latest checkpoint",
                {"200": _ok("the receipt", envelope_receipt)},
                errors=(400, 404),
                parameters=[_path("hash", "envelope hash, 64 lowercase hex digits", HEX32)],
            )
        },
        "/v1/stream": {
            "get": _op(
                "WebSocket of new envelopes in the caller's threads (signed upgrade)",
                {"101": {"description": "switching to WebSocket; see docs/api.md"}},
                # 400: not a WebSocket upgrade; 429: too many streams (address or identity).
                errors=(400,),
            )
        },
        "/log/key": {
            "get": _op(
                "The log's note verifier key", {"200": {"description": "key", **TEXT}}, signed=False
            )
        },
        "/log/checkpoint": {
            "get": _op(
                "The latest signed checkpoint (C2SP tlog-checkpoint)",
                {"200": {"description": "note", **TEXT}},
                signed=False,
                errors=(503,),
            )
        },
        "/log/tile/{level}/{path}": {
            "get": _op(
                "C2SP tlog-tiles hash tile",
                {"200": {"description": "tile", **OCTETS}},
                signed=False,
                errors=(400, 404),
                parameters=[
                    _path("level", "tile level, 0 to 63", {"type": "string", "pattern": LEVEL}),
                    _path("path", "tile index path", TILE_PATH),
                ],
            )
        },
        "/log/tile/entries/{path}": {
            "get": _op(
                "C2SP tlog-tiles entry bundle",
                {"200": {"description": "bundle", **OCTETS}},
                signed=False,
                errors=(400, 404),
                parameters=[_path("path", "tile index path", TILE_PATH)],
            )
        },
        "/log/proof/inclusion": {
            "get": _op(
                "Inclusion proof of an index in a tree size",
                {"200": _ok("proof", proof("index", "tree_size"))},
                signed=False,
                errors=(400,),
                parameters=[
                    _query("index", "leaf index", required=True),
                    _query("size", "tree size", required=True),
                ],
            )
        },
        "/log/proof/consistency": {
            "get": _op(
                "Consistency proof between two tree sizes",
                {"200": _ok("proof", proof("from", "to"))},
                signed=False,
                errors=(400,),
                parameters=[
                    _query("from", "older size", required=True),
                    _query("to", "newer size", required=True),
                ],
            )
        },
        "/log/proof/tlog/{index}": {
            "get": _op(
                "C2SP tlog-proof of an index against the latest checkpoint",
                {"200": {"description": "tlog-proof", **TEXT}},
                signed=False,
                errors=(400, 404),
                parameters=[_path("index", "leaf index", DECIMAL)],
            )
        },
    }


def openapi_document(public_url: str) -> dict[str, Any]:
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Closed Set relay",
            "version": "1",
            "description": "Routes, stores and logs ciphertext; never sees plaintext. "
            "Errors are RFC 9457 problem+json. Details: docs/api.md.",
        },
        "servers": [{"url": public_url}],
        "paths": _paths(),
        "components": {
            "securitySchemes": {
                "httpSignature": {
                    "type": "apiKey",
                    "in": "header",
                    "name": "Signature",
                    "description": "RFC 9421 Ed25519 signature over @method, @path, @query and "
                    "Content-Digest with created, nonce and keyid (the identity key); "
                    "also Signature-Input and Content-Digest headers.",
                }
            },
            "schemas": {
                "Problem": {
                    "type": "object",
                    "required": ["type", "title", "status", "detail"],
                    "properties": {
                        "type": {"type": "string"},
                        "title": {"type": "string"},
                        "status": {"type": "integer"},
                        "detail": {"type": "string"},
                    },
                },
                "Receipt": {
                    "type": "object",
                    "required": [
                        "index",
                        "entry",
                        "leaf_hash",
                        "tree_size",
                        "checkpoint",
                        "inclusion",
                    ],
                    "properties": {
                        "index": COUNT,
                        "entry": B64U,
                        "leaf_hash": B64U32,
                        "tree_size": COUNT,
                        "checkpoint": {"type": "string", "description": "signed note"},
                        "inclusion": {"type": "array", "items": B64U32},
                    },
                },
            },
            "responses": {
                "Problem": {
                    "description": "RFC 9457 problem details",
                    "content": {
                        "application/problem+json": {
                            "schema": {"$ref": "#/components/schemas/Problem"}
                        }
                    },
                }
            },
        },
    }
