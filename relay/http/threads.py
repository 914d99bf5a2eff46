"""``/v1/threads``: create (the creator is the IC), list, describe, invite (naming the role it
admits), join, grant co-coordination (the creator's signed grant), remove a member. All signed."""

from __future__ import annotations

import json
from typing import Any

from aiohttp import web

from keys.encoding import b64u_encode
from relay.http.auth import caller
from relay.http.common import (
    b64u_field,
    backend,
    fingerprint_param,
    fingerprint_text,
    int_field,
    json_object,
    now,
    receipt_json,
    thread_param,
)
from relay.service import threads
from relay.service.threads import GrantInfo, MemberInfo, ThreadSummary

_CREATE = frozenset({"thread"})
_INVITE = frozenset({"invite_id", "expires_at", "role"})
_JOIN = frozenset({"invite_id", "proof"})


def _b64(value: bytes | None) -> str | None:
    return None if value is None else b64u_encode(value)


def _member_json(member: MemberInfo) -> dict[str, Any]:
    return {
        "identity": b64u_encode(member.identity_key),
        "fingerprint": fingerprint_text(member.fingerprint),
        "role": member.role,
        "devices": [b64u_encode(d) for d in member.devices],
        "joined_at": member.joined_at,
        "removed_at": member.removed_at,
        "invite_id": _b64(member.invite_id),
        "join_proof": _b64(member.join_proof),
        "creator": member.creator,
    }


def _grant_json(grant: GrantInfo) -> dict[str, Any]:
    return {
        "grantee": b64u_encode(grant.grantee),
        "granter": b64u_encode(grant.granter),
        "grant": json.loads(grant.statement),
        "index": grant.log_index,
        "granted_at": grant.granted_at,
    }


def _summary_json(summary: ThreadSummary) -> dict[str, Any]:
    return {
        "thread": b64u_encode(summary.thread_id),
        "created_at": summary.created_at,
        "envelope_count": summary.envelope_count,
        "removed": summary.removed,
    }


async def post_thread(request: web.Request) -> web.Response:
    body = await json_object(request, _CREATE)
    thread_id = b64u_field(body["thread"], "thread id", 16)
    await threads.create_thread(backend(request), caller(request), thread_id, now(request))
    return web.json_response({"thread": b64u_encode(thread_id)}, status=201)


async def get_threads(request: web.Request) -> web.Response:
    summaries = await threads.list_threads(backend(request), caller(request))
    return web.json_response({"threads": [_summary_json(s) for s in summaries]})


async def get_thread(request: web.Request) -> web.Response:
    info = await threads.describe(backend(request), caller(request), thread_param(request))
    return web.json_response(
        {
            "thread": b64u_encode(info.thread_id),
            "creator": b64u_encode(info.creator),
            "created_at": info.created_at,
            "envelope_count": info.envelope_count,
            "members": [_member_json(m) for m in info.members],
            "heads": [h.hex() for h in info.heads],
            "coordinators": [
                b64u_encode(m.identity_key)
                for m in info.members
                if m.role == "ic" and m.removed_at is None
            ],
            "grants": [_grant_json(g) for g in info.grants],
        }
    )


async def post_invite(request: web.Request) -> web.Response:
    thread_id = thread_param(request)
    body = await json_object(request, _INVITE)
    invite_id = b64u_field(body["invite_id"], "invite id", 32)
    expires_at = int_field(body["expires_at"], "expiry time")
    role = body["role"]
    await threads.create_invite(
        backend(request), caller(request), thread_id, invite_id, expires_at, now(request), role
    )
    return web.json_response(
        {"invite_id": b64u_encode(invite_id), "expires_at": expires_at, "role": role}, status=201
    )


async def post_join(request: web.Request) -> web.Response:
    thread_id = thread_param(request)
    body = await json_object(request, _JOIN)
    invite_id = b64u_field(body["invite_id"], "invite id", 32)
    proof = b64u_field(body["proof"], "join proof", 32)
    await threads.join(backend(request), caller(request), thread_id, invite_id, proof, now(request))
    return web.json_response({"thread": b64u_encode(thread_id)}, status=201)


async def post_grant(request: web.Request) -> web.Response:
    thread_id = thread_param(request)
    granted, receipt = await threads.grant(
        backend(request), caller(request), thread_id, await request.read(), now(request)
    )
    return web.json_response(
        {"grantee": b64u_encode(granted.grantee), **receipt_json(receipt)}, status=201
    )


async def delete_member(request: web.Request) -> web.Response:
    thread_id = thread_param(request)
    await threads.remove_member(
        backend(request), caller(request), thread_id, fingerprint_param(request), now(request)
    )
    return web.Response(status=204)


def add_routes(app: web.Application) -> None:
    app.router.add_post("/v1/threads", post_thread)
    app.router.add_get("/v1/threads", get_threads)
    app.router.add_get("/v1/threads/{thread}", get_thread)
    app.router.add_post("/v1/threads/{thread}/invites", post_invite)
    app.router.add_post("/v1/threads/{thread}/join", post_join)
    app.router.add_post("/v1/threads/{thread}/grants", post_grant)
    app.router.add_delete("/v1/threads/{thread}/members/{fingerprint}", delete_member)
