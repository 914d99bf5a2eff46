"""``closedset sheet template|submit|show`` (a performer's private boundary sheet, encrypted
to the IC only) and ``closedset review`` (the IC's overlap of every sheet)."""

from __future__ import annotations

import argparse
from typing import Any

from client.cli._scene import brief_of, ic_only, in_scene, scene_arg, template_args, write_or_print
from client.cli.context import Context, table
from client.cli.registry import Command, add_command
from client.errors import ClientError, UsageError
from client.negotiate import SceneSession
from client.negotiation import vocabulary as vocab
from client.negotiation.forms import parse_sheet, sheet_template
from client.negotiation.overlap import review_scene
from client.views import papers
from client.views.people import Names, find_participant


def template(ctx: Context, args: argparse.Namespace) -> int:
    async def work(session: SceneSession) -> str:
        if session.scene.role == "ic":
            raise UsageError("Boundary sheets are filled in by performers; you are the IC.")
        brief = brief_of(session)
        mine = session.state().sheet(session.me)
        return sheet_template(vocab.load(), brief, session.me, previous=mine)

    write_or_print(ctx, in_scene(ctx, args.scene, work), args.out, "your boundary sheet")
    if args.out:
        ctx.note(f"Fill it in, then send it with `closedset sheet submit {args.scene} {args.out}`.")
    return 0


def submit(ctx: Context, args: argparse.Namespace) -> int:
    # Parsed before anything is fetched or sent: a mistake names its line and nothing leaves.
    sheet = parse_sheet(ctx.read_text(args.file), filename=args.file)

    async def work(session: SceneSession) -> Any:
        brief_of(session)
        return await session.send(sheet)

    posted = in_scene(ctx, args.scene, work)
    ctx.emit(
        {"sent": True, "log_index": posted.receipt.index, "hash": posted.hash.hex()},
        f"Sent your boundary sheet, encrypted to the IC only (log index {posted.receipt.index}).\n"
        "No scene partner can open it. To change it, edit the file and submit it again.",
    )
    return 0


def show(ctx: Context, args: argparse.Namespace) -> int:
    async def work(session: SceneSession) -> tuple[str, Any]:
        state = session.state()
        brief = brief_of(session)
        whose = session.me
        if args.performer:
            if session.scene.role != "ic":
                raise UsageError("Only the IC reads other performers' sheets; yours is your own.")
            whose = find_participant(brief, args.performer, "performer").identity
        elif session.scene.role == "ic":
            raise UsageError("You are the IC: name the sheet to show with --performer NAME.")
        sheet = state.sheet(whose)
        if sheet is None:
            raise ClientError(f"No sheet from {Names(brief, session.me)(whose)} yet.")
        return Names(brief, session.me)(whose), sheet

    name, sheet = in_scene(ctx, args.scene, work)
    rows = papers.sheet_rows(sheet)
    ctx.emit(
        sheet.to_json(),
        lambda: "\n\n".join(
            [
                f"Boundary sheet of {name} (encrypted to the IC only)",
                table(["act", "giving", "receiving"], rows["acts"]),
                table(["zone", "answer", "note"], rows["zones"]),
                table(["item", "answer"], rows["other"]),
            ]
        ),
    )
    return 0


def review(ctx: Context, args: argparse.Namespace) -> int:
    async def work(session: SceneSession) -> tuple[Any, Names]:
        ic_only(session, "review the sheets")
        brief_of(session)
        state = session.state()
        return review_scene(state, session.now()), Names(state.brief, session.me)

    result, names = in_scene(ctx, args.scene, work)
    ctx.emit(papers.review_json(result, names), lambda: render_review(result, names, args.all))
    return 0


def render_review(result: Any, names: Names, everything: bool) -> str:
    rows = papers.review_rows(result, names, everything=everything)
    shown = [r[0] for r in rows]
    counts = {o: shown.count(o) for o in ("agreed", "ask-first", "discuss", "conflict")}
    missing = [names(p) for p in result.missing_sheets]
    out = [
        f"Overlap for scene {result.brief.scene} {result.brief.title!r} (you alone see this)",
        ", ".join(f"{n} {o}" for o, n in counts.items())
        + (f"; waiting for sheets from {', '.join(missing)}" if missing else ""),
        "",
        table(
            ["outcome", "act", "who", "giver said", "receiver said", "zones", "max", "asked"],
            rows,
        ),
    ]
    if not everything:
        out.append("(acts every performer refused and nobody asked for are hidden; --all)")
    nudity = papers.nudity_rows(result, names)
    if nudity:
        out += ["", table(["performer", "nudity", "may show", "asked", "outcome"], nudity)]
    unmet = result.unmet_requests
    if unmet:
        out += ["", f"Unmet requests: {len(unmet)} (never shown to the performers)."]
    out += [
        "",
        table(
            ["performer", "stop/slow", "garments", "health", "notes"],
            papers.performer_rows(result, names),
        ),
    ]
    out += [f"Note: {n}" for n in result.notes]
    out += [f"[{f.severity}] {f.message}" for f in result.flags]
    return "\n".join(out)


def _submit_args(p: argparse.ArgumentParser) -> None:
    scene_arg(p)
    p.add_argument("file", help="the filled-in sheet, or -")


def _show_args(p: argparse.ArgumentParser) -> None:
    scene_arg(p)
    p.add_argument("--performer", help="IC: whose sheet")


def _review_args(p: argparse.ArgumentParser) -> None:
    scene_arg(p)
    p.add_argument("--all", action="store_true", help="also acts everyone refused")


for _command in [
    Command(
        ("sheet", "template"),
        template,
        "Write your boundary sheet for a scene as TOML to fill in (your last one, if sent).",
        "closedset sheet template lighthouse --out sheet.toml",
        template_args,
    ),
    Command(
        ("sheet", "submit"),
        submit,
        "Check your filled-in sheet and send it, encrypted to the IC only.",
        "closedset sheet submit lighthouse sheet.toml",
        _submit_args,
    ),
    Command(
        ("sheet", "show"),
        show,
        "Show your sheet as you sent it; the IC names a performer's with --performer.",
        "closedset sheet show scene-12 --performer Ana",
        _show_args,
    ),
    Command(
        ("review",),
        review,
        "IC: the overlap of every sheet per act and direction, conflicts, requests, flags.",
        "closedset review scene-12",
        _review_args,
    ),
]:
    add_command(_command)
