"""``closedset scene new|invite|join|brief|requests``: the IC creates a scene and invites
performers, performers join and check who invited them, the IC sends the brief."""

from __future__ import annotations

import argparse
import re
from typing import Any

from client.cli._scene import brief_of, ic_only, in_scene, run_async, scene_arg, scene_of
from client.cli.context import Context
from client.cli.registry import Command, add_command
from client.errors import UsageError
from client.negotiate import (
    Draft,
    SceneSession,
    create_invite,
    create_scene,
    draft_of,
    join_scene,
    relay_client,
    save_draft,
)
from client.negotiation.brief import Request, SceneRequests
from client.scenes import SceneBook
from client.timefmt import parse_duration, parse_time, show_time
from client.views.people import Names, find_participant
from keys.identity import safety_number
from keys.invite import Invite

DAY = 86400
DEFAULT_VALID_AFTER_CALL = 30 * DAY


def scene_new(ctx: Context, args: argparse.Namespace) -> int:
    call = parse_time(args.call_time, "call time")
    valid_from = parse_time(args.valid_from) if args.valid_from else min(ctx.now(), call)
    valid_until = (
        parse_time(args.valid_until) if args.valid_until else call + DEFAULT_VALID_AFTER_CALL
    )
    if not valid_from <= call <= valid_until:
        raise UsageError("The call time must fall between --valid-from and --valid-until.")
    draft = Draft(
        args.title, args.scene, args.pages, call, valid_from, valid_until, args.description or "",
        union_agreement=not args.no_union_agreement,
    )  # fmt: skip
    alias = args.alias or "scene-" + (re.sub(r"[^a-z0-9]+", "-", args.scene.lower()).strip("-"))
    profile = ctx.unlocked_profile()
    book = SceneBook(ctx.home)
    alias = alias if args.alias else book.unique_alias(alias)

    async def go() -> Any:
        async with relay_client(profile, args.relay, ctx.clock) as relay:
            return await create_scene(profile, relay, book, alias, draft)

    scene = run_async(go(), args.relay)
    data = {"alias": scene.alias, "thread": scene.thread, "relay": scene.relay} | draft.__dict__
    ctx.emit(
        data,
        f"Created scene {args.scene} {args.title!r} (pages {args.pages}) as {scene.alias}.\n"
        f"Call time {show_time(call)}; consent valid {show_time(valid_from)} to "
        f"{show_time(valid_until)}.\n"
        f"Next: invite each performer with `closedset scene invite {scene.alias} --for NAME`.",
    )
    return 0


def scene_invite(ctx: Context, args: argparse.Namespace) -> int:
    profile, scene = scene_of(ctx, args.scene)
    if scene.role != "ic":
        raise UsageError(f"Only the IC invites to {scene.alias}; you are a performer in it.")
    ttl = parse_duration(args.ttl)

    async def go() -> Invite:
        async with relay_client(profile, scene.relay, ctx.clock) as relay:
            return await create_invite(profile, relay, scene, ttl=ttl, now=ctx.now())

    invite = run_async(go(), scene.relay)
    code = invite.encode()
    who = args.for_ or "the performer"
    ctx.emit(
        {"code": code, "for": args.for_, "expires_at": invite.expires_at, "scene": scene.alias},
        f"Invite code for {who} (works once, until {show_time(invite.expires_at)}):\n\n"
        f"{code}\n\n"
        f"Hand it to {who} yourself: in person, or over a messenger you already use with them.\n"
        "Whoever holds the code can join in their place, so never post it anywhere public.\n"
        f"They run `closedset scene join CODE`; then you send the brief with "
        f"`closedset scene brief {scene.alias}`.",
    )
    return 0


def scene_join(ctx: Context, args: argparse.Namespace) -> int:
    invite = Invite.decode(args.code)
    profile = ctx.unlocked_profile()
    book = SceneBook(ctx.home)

    async def go() -> Any:
        async with relay_client(profile, invite.relay, ctx.clock) as relay:
            return await join_scene(profile, relay, book, invite, args.alias)

    scene, inviter = run_async(go(), invite.relay)
    number = safety_number(profile.identity_key, inviter.identity_key)
    ctx.emit(
        {
            "alias": scene.alias,
            "relay": scene.relay,
            "thread": scene.thread,
            "inviter": {
                "name": inviter.name,
                "role": inviter.role,
                "fingerprint": inviter.fingerprint.grouped(),
            },
            "inviter_checked": True,
            "safety_number": number,
        },
        f"Joined as {scene.alias}. Invited by {inviter.name} (IC), fingerprint "
        f"{inviter.fingerprint}.\n"
        "Checked: the relay's logged identity of the inviter matches the fingerprint inside the "
        "invite code.\n"
        f"Safety number with {inviter.name}: {number}\n"
        f"Read it to each other in person or on a call, then run "
        f"`closedset contacts verify {inviter.fingerprint.compact} --yes`.",
    )
    return 0


def scene_brief(ctx: Context, args: argparse.Namespace) -> int:
    changes: dict[str, Any] = {
        k: parse_time(getattr(args, k), k.replace("_", " "))
        for k in ("call_time", "valid_from", "valid_until")
        if getattr(args, k)
    }
    if args.description is not None:
        changes["description"] = args.description
    if args.minor:
        changes["minors"] = tuple(args.minor)
    if args.guardian:
        pairs = [g.partition("=") for g in args.guardian]
        if any(not g or not m for g, _, m in pairs):
            raise UsageError("--guardian takes GUARDIAN=MINOR, the two names as they joined.")
        changes["guardians"] = tuple((g, m) for g, _, m in pairs)
    if args.union_rep is not None:
        changes["union_rep"] = args.union_rep

    async def work(session: SceneSession) -> Any:
        ic_only(session, "send the brief")
        draft = draft_of(session.profile, session.scene)
        brief = await session.send_brief(draft, **changes)
        _, problems = await session.admitted_performers()
        save_draft(session.profile, session.scene, Draft(**(draft.__dict__ | changes)))
        return brief, problems

    brief, problems = in_scene(ctx, args.scene, work)
    names = Names(brief)
    performers = [names(p) for p in brief.performers]
    lines = [
        f"Sent the brief for scene {brief.scene} {brief.title!r} to {', '.join(performers)}.",
        "Each was admitted because their join proof checks against an invite you made.",
        f"Call time {show_time(brief.call_time)}.",
    ]
    lines += [f"NOT admitted: {p}" for p in problems]
    ctx.emit(
        {"performers": performers, "not_admitted": problems, "call_time": brief.call_time},
        "\n".join(lines),
    )
    return 0


def scene_grant(ctx: Context, args: argparse.Namespace) -> int:
    async def work(session: SceneSession) -> Any:
        ic_only(session, "make a member co-coordinator")
        member = find_participant(brief_of(session), args.to, None)
        index = await session.grant_coordinator(member.identity)
        return member, index

    member, index = in_scene(ctx, args.scene, work)
    ctx.emit(
        {"co_coordinator": member.name, "log_index": index},
        f"{member.name} is now co-coordinator, granted by you (log index {index}); every "
        "member sees it in `closedset scene status`. Only you, the scene's creator, can grant.",
    )
    return 0


def _request(spec: str, brief: Any) -> Request:
    act, _, rest = spec.partition(":")
    giver, _, receiver = rest.partition(":")
    if not (act and giver and receiver):
        raise UsageError(f"{spec!r}: write a requested act as ACT:GIVER:RECEIVER.")
    return Request(
        act,
        find_participant(brief, giver, "performer").identity,
        find_participant(brief, receiver, "performer").identity,
    )


def scene_requests(ctx: Context, args: argparse.Namespace) -> int:
    async def work(session: SceneSession) -> Any:
        ic_only(session, "record the director's requests")
        brief = brief_of(session)
        nudity = []
        for spec in args.nudity:
            name, _, part = spec.rpartition(":")
            nudity.append((find_participant(brief, name, "performer").identity, part))
        requests = SceneRequests(
            tuple(_request(s, brief) for s in args.act), tuple(nudity), args.note or ""
        )
        posted = await session.send(requests)
        return requests, posted

    requests, posted = in_scene(ctx, args.scene, work)
    ctx.emit(
        {
            "acts": len(requests.acts),
            "nudity": len(requests.nudity),
            "log_index": posted.receipt.index,
        },
        f"Recorded {len(requests.acts)} requested acts and {len(requests.nudity)} nudity "
        "requests, encrypted to your own devices only: no performer ever sees them.",
    )
    return 0


def _new_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--relay", required=True, help="the relay's URL, e.g. https://relay.example")
    p.add_argument("--title", required=True, help="the production's title")
    p.add_argument("--scene", required=True, help="the scene number in the script, e.g. 12")
    p.add_argument("--pages", required=True, help="script pages, e.g. 31-33")
    p.add_argument(
        "--call-time", required=True, help="ISO 8601; local time unless it ends in Z or an offset"
    )
    p.add_argument("--valid-from", help="start of the consent date range (default: now)")
    p.add_argument(
        "--valid-until", help="end of the consent date range (default: 30 days after call time)"
    )
    p.add_argument("--description", help="what the scene shows, for the brief")
    p.add_argument("--alias", help="your local name for the scene (default: scene-NUMBER)")
    p.add_argument(
        "--no-union-agreement",
        action="store_true",
        help="the production is not under a union agreement: the 48-hour floor cannot be "
        "waived, and late filming is flagged to everyone and recorded on the filmed mark",
    )


def _brief_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("scene", help="the scene's alias")
    p.add_argument("--call-time", help="a new call time (ISO 8601)")
    p.add_argument("--valid-from", help="a new start of the consent date range")
    p.add_argument("--valid-until", help="a new end of the consent date range")
    p.add_argument("--description", help="a new description of the scene")
    p.add_argument(
        "--minor",
        action="append",
        default=[],
        metavar="NAME",
        help="a performer under 18 (no nudity or simulated sex; a guardian must accept too)",
    )
    p.add_argument(
        "--guardian",
        action="append",
        default=[],
        metavar="GUARDIAN=MINOR",
        help="a joiner who is a parent or guardian of a minor performer of the scene",
    )
    p.add_argument(
        "--union-rep",
        metavar="NAME",
        help="a joiner who is the scene's union representative: they receive the brief and "
        "only what is addressed to them (a report sent to them); '' names none",
    )


def _requests_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("scene", help="the scene's alias")
    p.add_argument(
        "--act",
        action="append",
        default=[],
        metavar="ACT:GIVER:RECEIVER",
        help="an act the director asks for; repeat",
    )
    p.add_argument(
        "--nudity",
        action="append",
        default=[],
        metavar="PERFORMER:PART",
        help="nudity the director asks for; repeat",
    )
    p.add_argument("--note", help="the director's note, for you")


def _invite_args(p: argparse.ArgumentParser) -> None:
    scene_arg(p)
    p.add_argument("--ttl", default="3d", help="how long it works (3d)")
    p.add_argument("--for", dest="for_", metavar="NAME", help="who it is for, to remind you")


def _grant_args(p: argparse.ArgumentParser) -> None:
    scene_arg(p)
    p.add_argument("--to", required=True, metavar="NAME", help="the member, by name")


for _command in [
    Command(
        ("scene", "new"),
        scene_new,
        "IC: create a scene on a relay; the consent date range defaults to now until 30 "
        "days after call time.",
        "closedset scene new --relay http://127.0.0.1:8440 --title 'The Lighthouse' "
        "--scene 12 --pages 31-33 --call-time 2027-01-15T09:00",
        _new_args,
    ),
    Command(
        ("scene", "invite"),
        scene_invite,
        "IC: make a single-use invite code for one performer.",
        "closedset scene invite scene-12 --for Ana --ttl 3d",
        _invite_args,
    ),
    Command(
        ("scene", "join"),
        scene_join,
        "Performer: join a scene with the IC's invite code; checks who invited you.",
        "closedset scene join closedset-invite:v1:eyJl... --alias lighthouse",
        lambda p: (
            p.add_argument("code", help="the invite code, as given"),
            p.add_argument("--alias", default="scene", help="your local name for the scene"),
        ),
    ),
    Command(
        ("scene", "brief"),
        scene_brief,
        "IC: send (or re-send) the brief to every performer whose join proof checks.",
        "closedset scene brief scene-12 --call-time 2027-01-16T10:00",
        _brief_args,
    ),
    Command(
        ("scene", "requests"),
        scene_requests,
        "IC: record the director's requests, for your eyes only (review shows them).",
        "closedset scene requests scene-12 --act open-mouth-kissing:Ana:Ben --nudity Ana:bare-back",
        _requests_args,
    ),
    Command(
        ("scene", "grant"),
        scene_grant,
        "IC (the scene's creator): make a member co-coordinator, by a signed, logged grant.",
        "closedset scene grant scene-12 --to 'Dana Reyes'",
        _grant_args,
    ),
]:
    add_command(_command)
