"""``closedset id new-device`` and ``closedset id revoke``: what a performer does after a
stolen laptop (docs/api.md, "A revoked identity (a stolen laptop)").

``new-device`` certifies a fresh device key in this profile and revokes every other current
one (the stolen laptop's), then publishes the history to every relay of the profile's scenes:
the identity, its memberships and the right to withdraw stay. ``revoke`` retires the identity
itself; run ``withdraw`` first for every scene you mean to leave, because afterwards the relays
accept nothing the identity signs.
"""

from __future__ import annotations

import argparse
from typing import Any

import nacl.public

from client.cli._scene import run_async
from client.cli.context import Context
from client.cli.registry import Command, add_command
from client.errors import UsageError
from client.negotiate import ensure_registered, relay_client
from client.profile import Profile, device_secret_name
from client.scenes import SceneBook
from keys.encoding import b64u_encode
from keys.identity import KeyHistory, certify_device, revoke_device, revoke_identity


def _publish(ctx: Context, profile: Profile, extra: str | None) -> list[str]:
    relays = sorted({s.relay for s in SceneBook(ctx.home)} | ({extra} if extra else set()))

    async def go() -> None:
        for url in relays:
            async with relay_client(profile, url, ctx.clock) as relay:
                await ensure_registered(profile, relay)

    run_async(go())
    return relays


def id_new_device(ctx: Context, args: argparse.Namespace) -> int:
    profile = ctx.unlocked_profile()
    assert profile.keystore is not None
    history = profile.history
    if history.revoked_at is not None:
        raise UsageError("This identity is revoked; create a new one with `closedset id new`.")
    now = max(ctx.now(), int(history.records[-1].body["issued_at"]))
    device = nacl.public.PrivateKey.generate()
    public = bytes(device.public_key)
    key = profile.signing_key()
    old = history.current_devices()
    records = [
        *history.records,
        certify_device(key, public, issued_at=now),
        *(revoke_device(key, d, issued_at=now, reason=args.reason) for d in old),
    ]
    # The new private key first: a crash after this leaves a spare key, never a lost one.
    profile.keystore.put(device_secret_name(public), bytes(device))
    profile.keystore.save()
    profile.save_history(KeyHistory.from_records(records))
    relays = _publish(ctx, profile, args.relay)
    data: dict[str, Any] = {
        "device": b64u_encode(public),
        "revoked_devices": [b64u_encode(d) for d in old],
        "relays": relays,
    }
    ctx.emit(
        data,
        f"Certified a new device key and revoked {len(old)} other(s); published to "
        f"{', '.join(relays) or 'no relay yet'}. Nothing is encrypted to the old device again; "
        "your scenes and your right to withdraw are unchanged.",
    )
    return 0


def id_revoke(ctx: Context, args: argparse.Namespace) -> int:
    if not args.yes:
        raise UsageError(
            "Revoking your identity is final: the relays then accept nothing it signs, so "
            "withdraw first where you mean to (`closedset withdraw SCENE`), then run this "
            "again with --yes."
        )
    profile = ctx.unlocked_profile()
    history = profile.history
    if history.revoked_at is not None:
        raise UsageError("This identity is already revoked.")
    now = max(ctx.now(), int(history.records[-1].body["issued_at"]))
    revocation = revoke_identity(profile.signing_key(), issued_at=now, reason=args.reason)
    profile.save_history(KeyHistory.from_records([*history.records, revocation]))
    relays = _publish(ctx, profile, args.relay)
    ctx.emit(
        {"revoked": True, "relays": relays},
        f"Revoked this identity on {', '.join(relays) or 'no relay yet'}. To take part again, "
        "create a new identity and ask each scene's IC for an invite.",
    )
    return 0


def _args(p: argparse.ArgumentParser, what: str) -> None:
    p.add_argument("--reason", default=what, help=f"why (default: {what})")
    p.add_argument("--relay", help="a relay to publish to besides those of your scenes")


def _revoke_args(p: argparse.ArgumentParser) -> None:
    _args(p, "identity key lost")
    p.add_argument("--yes", action="store_true", help="yes, revoke it for good")


for _command in [
    Command(
        ("id", "new-device"),
        id_new_device,
        "After a lost or stolen device: certify a new device key here and revoke the others.",
        "closedset id new-device --reason 'laptop stolen'",
        lambda p: _args(p, "device lost"),
    ),
    Command(
        ("id", "revoke"),
        id_revoke,
        "Revoke your identity for good (withdraw first: afterwards nothing it signs counts).",
        "closedset id revoke --reason 'key stolen' --yes",
        _revoke_args,
    ),
]:
    add_command(_command)
