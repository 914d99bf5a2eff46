"""``closedset rider template|propose|show|diff|accept|counter``: the IC drafts the terms inside
the overlap as numbered versions; each performer accepts the exact version (a signature over
its hash) or counters. Any change is a new version and needs every acceptance again."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from client.cli._scene import (
    brief_of,
    current_version,
    ic_only,
    in_scene,
    scene_arg,
    template_args,
    write_or_print,
)
from client.cli.context import Context, table
from client.cli.registry import Command, add_command
from client.errors import ClientError, UsageError
from client.negotiate import SceneSession
from client.negotiation import consent
from client.negotiation._strict import b64
from client.negotiation.forms import next_rider_template
from client.negotiation.rider import Rider, RiderAct
from client.negotiation.rider_form import parse_rider_with_annexes
from client.negotiation.scene import Event, step
from client.negotiation.statements import Acceptance, Counter, Statement
from client.views import papers
from client.views.diff import diff
from client.views.people import Names
from client.views.status import visible_flags


def _to_confirm(session: SceneSession, rider: Rider) -> list[tuple[RiderAct, str]]:
    """The acts of ``rider`` this person answered "maybe": confirmed one by one on accepting."""
    mine = session.state().consents().get(session.me)
    return [] if mine is None else consent.to_confirm(rider, mine)


def _rider(session: SceneSession, version: int | None) -> tuple[Rider, Names, list[str]]:
    """Rider ``version`` (default: the current one), names, and who accepted it."""
    state = session.state()
    current = current_version(session)
    # The viewer's own private annex (and, for the IC, every annex) read into the terms.
    known = papers.versions_of(state)
    wanted = current.rider.version if version is None else version
    if wanted not in known:
        raise ClientError(
            f"Rider version {wanted} does not exist; the current one is {current.rider.version}."
        )
    names = Names(state.brief, session.me)
    return known[wanted], names, names.many(sorted(state.accepted(wanted)))


def render_rider(
    rider: Rider, names: Names, accepted: list[str], confirm: list[RiderAct] | None = None
) -> str:
    rows = papers.rider_rows(rider, names, confirm or ())
    return "\n\n".join(
        [
            table(["act", "who", "zones", "max", "marks and notes"], rows["acts"])
            if rows["acts"]
            else "No acts.",
            table(
                ["performer", "nudity shown", "garments", "footage uses", "doubles"], rows["terms"]
            ),
            table(["term", "value"], rows["other"]),
            f"Accepted by: {', '.join(accepted) or 'nobody yet'}.",
        ]
    )


def template(ctx: Context, args: argparse.Namespace) -> int:
    async def work(session: SceneSession) -> str:
        ic_only(session, "draft the rider")
        brief_of(session)
        return next_rider_template(session.state(), session.now())

    write_or_print(ctx, in_scene(ctx, args.scene, work), args.out, "the rider draft")
    return 0


def propose(ctx: Context, args: argparse.Namespace) -> int:
    text = ctx.read_text(args.file)

    async def work(session: SceneSession) -> dict[str, Any]:
        ic_only(session, "propose a rider")
        brief = brief_of(session)
        rider, annexes = parse_rider_with_annexes(text, brief, filename=args.file)
        before = session.state().current
        # The annexes go first; check the rider with them before anything is sent, so a
        # refused rider sends nothing at all.
        await session.sync()
        state = session.state()
        at, index = session.now(), session.cache_size()
        outgoing: list[Statement] = [*annexes, rider]
        for n, statement in enumerate(outgoing):
            event = Event(session.me, "ic", statement, bytes([n]) * 32, at, index + n)
            state = step(state, event)
        for annex in annexes:
            await session.send(annex)
        posted = await session.send(rider)
        names = Names(brief, session.me)
        state = session.state()
        gone = {p: state.withdrawn(p) for p in state.performers}
        changes = [] if before is None else diff(before.rider, rider, names, gone)
        return {
            "version": rider.version,
            "hash": b64(rider.hash),
            "log_index": posted.receipt.index,
            "changes": [c.to_json() for c in changes],
            "flags": visible_flags(state, session.me, "ic", session.now()),
        }

    data = in_scene(ctx, args.scene, work)
    lines = [
        f"Sent rider version {data['version']} to every participant "
        f"(log index {data['log_index']}). Each performer must accept this exact version.",
    ]
    lines += [f"  {c['effect']}: {c['text']}" for c in data["changes"]]
    lines += [f"[{f['severity']}] {f['message']}" for f in data["flags"]]
    ctx.emit(data, "\n".join(lines))
    return 0


def show(ctx: Context, args: argparse.Namespace) -> int:
    async def work(session: SceneSession) -> tuple[Rider, Rider, Names, list[str], list[Any]]:
        rider, names, accepted = _rider(session, args.version)
        # The viewer's own private annex (the IC: every annex) read into the terms shown.
        whole = session.state().whole(rider)
        return rider, whole, names, accepted, _to_confirm(session, whole)

    rider, whole, names, accepted, confirm = in_scene(ctx, args.scene, work)
    private = {
        b64(t.identity): t.to_json()
        for t, signed in zip(whole.performers, rider.performers, strict=True)
        if signed.annex is not None and t.annex is None
    }
    ctx.emit(
        rider.to_json()
        | {
            "hash": b64(rider.hash),
            "accepted_by": accepted,
            "to_confirm": [{"item": item, "discussed": a.discussed} for a, item in confirm],
            "private_terms": private,
        },
        lambda: (
            f"Rider version {rider.version}\n\n"
            + render_rider(whole, names, accepted, [a for a, _ in confirm])
        ),
    )
    return 0


def diff_command(ctx: Context, args: argparse.Namespace) -> int:
    async def work(session: SceneSession) -> tuple[int, int, list[Any]]:
        new, names, _ = _rider(session, args.to)
        start = args.from_ if args.from_ is not None else new.version - 1
        if start < 1:
            raise UsageError("There is only version 1; nothing to compare it with.")
        old, _, _ = _rider(session, start)
        state = session.state()
        gone = {p: state.withdrawn(p) for p in state.performers}
        return old.version, new.version, diff(old, new, names, gone)

    old, new, changes = in_scene(ctx, args.scene, work)
    ctx.emit(
        {"from": old, "to": new, "changes": [c.to_json() for c in changes]},
        lambda: (
            f"From version {old} to {new}:\n"
            + (
                table(["effect", "what", "change"], [[c.effect, c.what, c.text] for c in changes])
                if changes
                else "no differences."
            )
        ),
    )
    return 0


def accept(ctx: Context, args: argparse.Namespace) -> int:
    async def work(session: SceneSession) -> tuple[Rider, Any]:
        state = session.state()
        current = current_version(session)
        wanted = args.version or current.rider.version
        rider = papers.versions_of(state).get(wanted, current.rider)
        confirm = _to_confirm(session, rider) if wanted == current.rider.version else []
        if wanted == current.rider.version and not args.yes:
            shown = render_rider(rider, *_rider(session, wanted)[1:], [a for a, _ in confirm])
            _confirm(ctx, shown, wanted)
        _confirm_maybes(ctx, confirm, set(args.confirm), wanted, interactive=not args.yes)
        # A superseded or unknown version is refused by the scene's rules, before sending.
        return rider, await session.send(Acceptance(wanted, rider.hash))

    rider, posted = in_scene(ctx, args.scene, work)
    ctx.emit(
        {"accepted": rider.version, "hash": b64(rider.hash), "log_index": posted.receipt.index},
        f"You accepted rider version {rider.version} (log index {posted.receipt.index}); "
        "everyone in the scene sees your signature. You may still withdraw at any time.",
    )
    return 0


def _confirm(ctx: Context, shown: str, version: int) -> None:
    if not (ctx.stdin.isatty() and sys.stdin.isatty()):
        raise UsageError(
            f"Read version {version} with `closedset rider show`, then accept it with --yes."
        )
    ctx.stderr.write(shown + f"\n\nAccept rider version {version} as shown? [y/N] ")
    ctx.stderr.flush()
    if ctx.stdin.readline().strip().lower() not in {"y", "yes"}:
        raise UsageError("Not accepted; nothing was sent.")


def _confirm_maybes(
    ctx: Context,
    confirm: list[tuple[RiderAct, str]],
    given: set[str],
    version: int,
    *,
    interactive: bool,
) -> None:
    """Each act this performer answered "maybe" is confirmed explicitly, with the IC's note."""
    for act, item in confirm:
        if item in given:
            continue
        what = f"{consent.describe(item)} (the IC's note: {act.discussed!r})"
        if not interactive or not (ctx.stdin.isatty() and sys.stdin.isatty()):
            raise UsageError(
                f'Version {version} holds {what}, which you answered "maybe"; confirm it '
                f"with --confirm {item}, or send `closedset rider counter`. Nothing was sent."
            )
        ctx.stderr.write(f"You answered maybe to {what}. Do you agree to it now? [y/N] ")
        ctx.stderr.flush()
        if ctx.stdin.readline().strip().lower() not in {"y", "yes"}:
            raise UsageError("Not accepted; nothing was sent.")


def counter(ctx: Context, args: argparse.Namespace) -> int:
    async def work(session: SceneSession) -> tuple[int, Any]:
        state = session.state()
        current = current_version(session)
        wanted = args.version or current.rider.version
        rider = papers.versions_of(state).get(wanted, current.rider)
        return wanted, await session.send(Counter(wanted, rider.hash, args.comment))

    version, posted = in_scene(ctx, args.scene, work)
    ctx.emit(
        {"version": version, "log_index": posted.receipt.index},
        f"Sent your comments on version {version} to the IC only "
        f"(log index {posted.receipt.index}); your scene partners do not see them.",
    )
    return 0


def _version_arg(p: argparse.ArgumentParser) -> None:
    scene_arg(p)
    p.add_argument("--version", type=int, help="a rider version (default: the current one)")


def _propose_args(p: argparse.ArgumentParser) -> None:
    scene_arg(p)
    p.add_argument("file", help="the rider file, or -")


def _diff_args(p: argparse.ArgumentParser) -> None:
    scene_arg(p)
    p.add_argument("--from", dest="from_", type=int, help="default: to - 1")
    p.add_argument("--to", type=int, help="default: the current version")


def _accept_args(p: argparse.ArgumentParser) -> None:
    _version_arg(p)
    p.add_argument("--yes", action="store_true", help="you have read this version; do not ask")
    p.add_argument(
        "--confirm",
        action="append",
        default=[],
        metavar="ITEM",
        help='an act you answered "maybe" and now agree to, as `rider show` names it; repeat',
    )


def _counter_args(p: argparse.ArgumentParser) -> None:
    _version_arg(p)
    p.add_argument("--comment", required=True, help="what you want changed")


for _command in [
    Command(
        ("rider", "template"),
        template,
        "IC: write the next rider version to edit: v1 from the overlap, else the current one.",
        "closedset rider template scene-12 --out rider.toml",
        template_args,
    ),
    Command(
        ("rider", "propose"),
        propose,
        "IC: check a rider file and send it to every participant as the next version.",
        "closedset rider propose scene-12 rider.toml",
        _propose_args,
    ),
    Command(
        ("rider", "show"),
        show,
        "Show a rider version and who accepted it.",
        "closedset rider show lighthouse --version 2",
        _version_arg,
    ),
    Command(
        ("rider", "diff"),
        diff_command,
        "What changed between two rider versions; widening changes are marked.",
        "closedset rider diff lighthouse --from 1 --to 2",
        _diff_args,
    ),
    Command(
        ("rider", "accept"),
        accept,
        "Performer: accept the current rider version, after reading it (or --yes).",
        "closedset rider accept lighthouse --yes",
        _accept_args,
    ),
    Command(
        ("rider", "counter"),
        counter,
        "Performer: answer a rider version with comments instead of accepting (IC only).",
        "closedset rider counter lighthouse --comment 'Embrace at intensity 3 at most.'",
        _counter_args,
    ),
]:
    add_command(_command)
