"""The OpenAPI 3.1 document the relay serves at ``/openapi.json``, written by hand as data.

Kept next to the handlers it describes; docs/api.md says the same in prose. A test checks
that every route the app registers appears here and nothing else does.
"""

from __future__ import annotations

from typing import Any

PROBLEM = {"$ref": "#/components/responses/Problem"}
B64U = {"type": "string", "pattern": "^[A-Za-z0-9_-]*$", "description": "unpadded base64url"}
HEX32 = {"type": "string", "pattern": "^[0-9a-f]{64}$"}
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
    if signed:
        operation["security"] = SIGNED
        errors = (401, 429, *errors)
    else:
        operation["security"] = []
        errors = (429, *errors)
    for status in sorted(set(errors)):
        operation["responses"][str(status)] = PROBLEM
    if body is not None:
        operation["requestBody"] = {"required": True, **_json(body)}
    if parameters:
        operation["parameters"] = parameters
    return operation


def _path(name: str, description: str) -> dict[str, Any]:
    return {
        "name": name,
        "in": "path",
        "required": True,
        "description": description,
        "schema": {"type": "string"},
    }


def _query(name: str, description: str) -> dict[str, Any]:
    return {
        "name": name,
        "in": "query",
        "required": False,
        "description": description,
        "schema": {"type": "string", "pattern": "^(0|[1-9][0-9]*)$"},
    }


THREAD = _path("thread", "thread id, 16 bytes in unpadded base64url")
FINGERPRINT = _path("fingerprint", "fingerprint, 32 base32 characters in any grouping")
RECEIPT = {"$ref": "#/components/schemas/Receipt"}
ENVELOPE = {"type": "object", "description": "an envelope, canonical JSON (docs/protocol.md)"}
BUNDLE = {"type": "object", "description": "an identity bundle, canonical JSON {records: [...]}"}
TEXT = {"content": {"text/plain": {"schema": {"type": "string"}}}}
OCTETS = {
    "content": {"application/octet-stream": {"schema": {"type": "string", "format": "binary"}}}
}


def _paths() -> dict[str, Any]:
    receipts = {"type": "object", "properties": {"receipts": {"type": "array", "items": RECEIPT}}}
    member = {
        "type": "object",
        "properties": {
            "identity": B64U,
            "fingerprint": {"type": "string"},
            "role": {"type": "string"},
            "devices": {"type": "array", "items": B64U},
            "joined_at": {"type": "integer"},
            "removed_at": {"type": ["integer", "null"]},
            "invite_id": {"type": ["string", "null"]},
            "join_proof": {"type": ["string", "null"]},
        },
    }
    envelope_receipt = {
        "allOf": [
            RECEIPT,
            {"type": "object", "properties": {"hash": HEX32, "sequence": {"type": "integer"}}},
        ]
    }
    return {
        "/healthz": {
            "get": _op("Liveness and the log's size", {"200": _ok("alive")}, signed=False)
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
                "Look up an identity: its bundle and a receipt per record",
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
                signed=False,
                errors=(400, 404),
                parameters=[FINGERPRINT],
            )
        },
        "/v1/threads": {
            "post": _op(
                "Create a thread (intimacy coordinators only)",
                {"201": _ok("created", {"type": "object"})},
                body={"type": "object", "required": ["thread"], "properties": {"thread": B64U}},
                errors=(400, 403, 409),
            ),
            "get": _op("The caller's threads", {"200": _ok("threads", {"type": "object"})}),
        },
        "/v1/threads/{thread}": {
            "get": _op(
                "A thread's members and heads (members only)",
                {
                    "200": _ok(
                        "the thread",
                        {
                            "type": "object",
                            "properties": {
                                "members": {"type": "array", "items": member},
                                "heads": {"type": "array", "items": HEX32},
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
                "Register an invite by the hash of its secret (IC members only)",
                {"201": _ok("registered", {"type": "object"})},
                body={
                    "type": "object",
                    "required": ["invite_id", "expires_at"],
                    "properties": {"invite_id": B64U, "expires_at": {"type": "integer"}},
                },
                errors=(400, 403, 404, 409),
                parameters=[THREAD],
            )
        },
        "/v1/threads/{thread}/join": {
            "post": _op(
                "Join with a single-use invite and a join proof",
                {"201": _ok("joined", {"type": "object"})},
                body={
                    "type": "object",
                    "required": ["invite_id", "proof"],
                    "properties": {"invite_id": B64U, "proof": B64U},
                },
                errors=(400, 403, 404, 409, 410),
                parameters=[THREAD],
            )
        },
        "/v1/threads/{thread}/members/{fingerprint}": {
            "delete": _op(
                "Remove a member (an IC removes others; anyone may leave)",
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
                            "properties": {
                                "envelopes": {"type": "array"},
                                "next": {"type": ["string", "null"]},
                            },
                        },
                    )
                },
                errors=(400, 403, 404),
                parameters=[
                    THREAD,
                    _query("after", "cursor from a previous page"),
                    _query("limit", "page size, 1 to 500 (default 100)"),
                ],
            ),
        },
        "/v1/receipts/{hash}": {
            "get": _op(
                "An envelope's receipt against the latest checkpoint",
                {"200": _ok("the receipt", envelope_receipt)},
                errors=(400, 404),
                parameters=[_path("hash", "envelope hash, 64 hex digits")],
            )
        },
        "/v1/stream": {
            "get": _op(
                "WebSocket of new envelopes in the caller's threads (signed upgrade)",
                {"101": {"description": "switching to WebSocket; see docs/api.md"}},
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
                parameters=[_path("level", "tile level"), _path("path", "tile index path")],
            )
        },
        "/log/tile/entries/{path}": {
            "get": _op(
                "C2SP tlog-tiles entry bundle",
                {"200": {"description": "bundle", **OCTETS}},
                signed=False,
                errors=(400, 404),
                parameters=[_path("path", "tile index path")],
            )
        },
        "/log/proof/inclusion": {
            "get": _op(
                "Inclusion proof of an index in a tree size",
                {"200": _ok("proof")},
                signed=False,
                errors=(400,),
                parameters=[_query("index", "leaf index"), _query("size", "tree size")],
            )
        },
        "/log/proof/consistency": {
            "get": _op(
                "Consistency proof between two tree sizes",
                {"200": _ok("proof")},
                signed=False,
                errors=(400,),
                parameters=[_query("from", "older size"), _query("to", "newer size")],
            )
        },
        "/log/proof/tlog/{index}": {
            "get": _op(
                "C2SP tlog-proof of an index against the latest checkpoint",
                {"200": {"description": "tlog-proof", **TEXT}},
                signed=False,
                errors=(400, 404),
                parameters=[_path("index", "leaf index")],
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
                        "index": {"type": "integer"},
                        "entry": B64U,
                        "leaf_hash": B64U,
                        "tree_size": {"type": "integer"},
                        "checkpoint": {"type": "string", "description": "signed note"},
                        "inclusion": {"type": "array", "items": B64U},
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
