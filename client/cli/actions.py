"""``closedset withdraw|filmed|checkin|report``: consent taken back (always allowed, the IC is
told at once), the IC's filmed mark, the aftercare check-in and a transgression report."""

from __future__ import annotations

import argparse
from typing import Any

from client.cli._scene import brief_of, current_version, ic_only, in_scene, scene_arg
from client.cli.context import Context
from client.cli.registry import Command, add_command
from client.errors import UsageError
from client.negotiate import SceneSession
from client.negotiation.statements import (
    CHECK_IN_STATUSES,
    CheckIn,
    FilmedMark,
    ReGrant,
    RepairPlan,
    ReplicaConsent,
    TransgressionReport,
    Withdrawal,
)
from client.negotiation.timing import notice_findings
from client.timefmt import parse_time, show_time
from client.views.people import find_participant
from client.views.thread import item_name


def withdraw(ctx: Context, args: argparse.Namespace) -> int:
    async def work(session: SceneSession) -> Any:
        brief_of(session)
        current = session.state().current
        statement = Withdrawal(
            whole=not args.item,
            items=tuple(args.item),
            version=None if current is None else current.rider.version,
            reason=args.reason,
        )
        return statement, await session.send(statement)

    statement, posted = in_scene(ctx, args.scene, work)
    what = "the whole rider" if statement.whole else ", ".join(map(item_name, statement.items))
    ctx.emit(
        {
            "withdrawn": list(statement.items) or "whole",
            "log_index": posted.receipt.index,
            "told_ic": True,
        },
        f"Withdrawn: {what}.\nThe IC was told: your withdrawal is in the log at index "
        f"{posted.receipt.index} (receipt verified), encrypted to the IC only; your scene "
        "partners do not see it. Nobody needs to approve it.",
    )
    return 0


def filmed(ctx: Context, args: argparse.Namespace) -> int:
    async def work(session: SceneSession) -> Any:
        ic_only(session, "mark a scene filmed")
        current = current_version(session)
        state = session.state()
        # Without a union agreement, late filming is recorded on the mark itself.
        late = () if brief_of(session).union_agreement else notice_findings(state)
        mark = FilmedMark(
            current.rider.version, current.hash, tuple(args.acts), args.shots or "", late
        )
        return mark, await session.send(mark)

    mark, posted = in_scene(ctx, args.scene, work)
    what = ", ".join(mark.acts) or "the whole scene"
    if mark.notice:
        what += "; recorded on the mark, and shown to every performer: " + " ".join(mark.notice)
    ctx.emit(
        {
            "version": mark.version,
            "acts": list(mark.acts),
            "notice": list(mark.notice),
            "log_index": posted.receipt.index,
        },
        f"Marked rider version {mark.version} filmed ({what}); log index "
        f"{posted.receipt.index}. A later withdrawal is still recorded, marked after filming.\n"
        "The aftercare check-in falls 24-48 hours from now.",
    )
    return 0


def checkin(ctx: Context, args: argparse.Namespace) -> int:
    async def work(session: SceneSession) -> Any:
        brief_of(session)
        return await session.send(CheckIn(args.status, args.note or "", args.wants_contact))

    posted = in_scene(ctx, args.scene, work)
    ctx.emit(
        {"status": args.status, "log_index": posted.receipt.index},
        f"Sent your check-in ({args.status}) to the IC only (log index {posted.receipt.index}).",
    )
    return 0


def report(ctx: Context, args: argparse.Namespace) -> int:
    when = parse_time(args.when, "time of the incident") if args.when else ctx.now()

    async def work(session: SceneSession) -> Any:
        brief = brief_of(session)
        involved = tuple(find_participant(brief, n).identity for n in args.involved)
        statement = TransgressionReport(
            kind=args.kind,
            what=args.what,
            when=when,
            involved=involved,
            others=args.others or "",
            anonymous_to_production=args.anonymous,
            send_to_production=args.to_production,
            send_to_union_rep=args.to_union_rep,
        )
        return await session.send(statement)

    posted = in_scene(ctx, args.scene, work)
    extra = [
        who
        for who, chosen in (
            ("the production contact", args.to_production),
            ("the union representative", args.to_union_rep),
        )
        if chosen
    ]
    to = " and ".join(["the IC", *extra]) if extra else "the IC only"
    ctx.emit(
        {
            "log_index": posted.receipt.index,
            "to_production": args.to_production,
            "anonymous_to_production": args.anonymous,
        },
        f"Sent your {args.kind} report about {show_time(when)} to {to} (log index "
        f"{posted.receipt.index})."
        + (" The IC passes it on without your name." if args.anonymous else ""),
    )
    return 0


def repair(ctx: Context, args: argparse.Namespace) -> int:
    async def work(session: SceneSession) -> Any:
        brief = brief_of(session)
        state = session.state()
        report = next((r for r in state.reports if r.index == args.report), None)
        if report is None:
            raise UsageError(
                f"There is no report at log index {args.report} that you can read; "
                "see `closedset thread`."
            )
        to = tuple(find_participant(brief, n).identity for n in args.to) or (report.sender,)
        return await session.send(RepairPlan(report.statement.hash, args.plan, to))

    posted = in_scene(ctx, args.scene, work)
    ctx.emit(
        {"report": args.report, "log_index": posted.receipt.index},
        f"Sent the repair plan for the report at index {args.report} (log index "
        f"{posted.receipt.index}).",
    )
    return 0


def _repair_args(p: argparse.ArgumentParser) -> None:
    scene_arg(p)
    p.add_argument("--report", type=int, required=True, help="the report's log index")
    p.add_argument("--plan", required=True, help="what will change, and who checks it")
    p.add_argument(
        "--to", action="append", default=[], metavar="NAME", help="default: the reporter"
    )


def regrant(ctx: Context, args: argparse.Namespace) -> int:
    async def work(session: SceneSession) -> Any:
        brief_of(session)
        return await session.send(ReGrant(tuple(args.item), args.note or ""))

    posted = in_scene(ctx, args.scene, work)
    ctx.emit(
        {"regranted": list(args.item), "log_index": posted.receipt.index},
        f"Sent your re-grant of {', '.join(args.item)} to the IC only (log index "
        f"{posted.receipt.index}); the IC may now include it again in a new version.",
    )
    return 0


def _regrant_args(p: argparse.ArgumentParser) -> None:
    scene_arg(p)
    p.add_argument("--item", action="append", required=True, help="an item you withdrew; repeat")
    p.add_argument("--note", help="anything to add for the IC")


def replica(ctx: Context, args: argparse.Namespace) -> int:
    async def work(session: SceneSession) -> Any:
        brief_of(session)
        return await session.send(ReplicaConsent(args.use))

    posted = in_scene(ctx, args.scene, work)
    ctx.emit(
        {"replica_consent": args.use, "log_index": posted.receipt.index},
        f"Sent your digital replica consent, for this use only, to the IC (log index "
        f"{posted.receipt.index}). Withdraw it on its own with `closedset withdraw "
        f"{args.scene} --item digital-replica`.",
    )
    return 0


def _replica_args(p: argparse.ArgumentParser) -> None:
    scene_arg(p)
    p.add_argument(
        "--use",
        required=True,
        help="the intended use, specifically: which scenes and shots, for how long",
    )


def _withdraw_args(p: argparse.ArgumentParser) -> None:
    scene_arg(p)
    p.add_argument(
        "--item",
        action="append",
        default=[],
        help="act:ACT[:giving|:receiving], zone:ZONE, nudity:PART, use:USE, stills, "
        "body-double, digital-double or digital-replica; repeat. None: the whole rider.",
    )
    p.add_argument("--reason", help="why, if you want to say (optional)")


def _filmed_args(p: argparse.ArgumentParser) -> None:
    scene_arg(p)
    p.add_argument(
        "--acts",
        nargs="+",
        default=[],
        metavar="ACT",
        help="only these acts (default: the whole scene)",
    )
    p.add_argument("--shots", help="which shots or takes")


def _checkin_args(p: argparse.ArgumentParser) -> None:
    scene_arg(p)
    p.add_argument("--status", required=True, choices=CHECK_IN_STATUSES, help="how you are")
    p.add_argument("--note", help="anything to add")
    p.add_argument(
        "--wants-contact", action="store_true", help="you would like the IC to contact you"
    )


def _report_args(p: argparse.ArgumentParser) -> None:
    scene_arg(p)
    p.add_argument(
        "--kind",
        required=True,
        choices=("crossing", "violation"),
        help="crossing: a boundary approached or misunderstood; violation: crossed",
    )
    p.add_argument("--what", required=True, help="what happened")
    p.add_argument("--when", help="when, ISO 8601 (default: now)")
    p.add_argument(
        "--involved",
        action="append",
        default=[],
        metavar="NAME",
        help="a scene participant involved; repeat",
    )
    p.add_argument("--others", help="anyone else involved, in words (crew, visitors)")
    group = p.add_mutually_exclusive_group()
    group.add_argument(
        "--anonymous",
        dest="anonymous",
        action="store_true",
        default=True,
        help="stay anonymous to the production (the default)",
    )
    group.add_argument(
        "--named", dest="anonymous", action="store_false", help="the production may know it was you"
    )
    p.add_argument(
        "--to-production",
        action="store_true",
        help="also send it to the production contact (needs --named)",
    )
    p.add_argument(
        "--to-union-rep",
        action="store_true",
        help="also send it to the scene's union representative (anonymous or named); a report "
        "involving the IC must go to them or the production contact too",
    )


for _command in [
    Command(
        ("withdraw",),
        withdraw,
        "Withdraw consent to items or to the whole rider; always allowed, the IC is told.",
        "closedset withdraw lighthouse --item act:kissing-neck:receiving --reason 'not today'",
        _withdraw_args,
    ),
    Command(
        ("filmed",),
        filmed,
        "IC: mark the current, agreed rider version filmed (listed acts, or the whole scene).",
        "closedset filmed scene-12 --shots 'takes 1-4, wide and close'",
        _filmed_args,
    ),
    Command(
        ("repair",),
        repair,
        "IC or union representative: follow a transgression report with a repair plan.",
        "closedset repair scene-12 --report 17 --plan 'Two takes at most, check-in after each'",
        _repair_args,
    ),
    Command(
        ("regrant",),
        regrant,
        "Say yes again to items you withdrew (a withdrawal sticks until you do, or re-send "
        "your sheet).",
        "closedset regrant lighthouse --item act:kissing-neck:receiving",
        _regrant_args,
    ),
    Command(
        ("replica",),
        replica,
        "Consent to a digital replica of you for one described use; its own statement.",
        "closedset replica lighthouse --use 'Face scan for the storm shots, this film only'",
        _replica_args,
    ),
    Command(
        ("checkin",),
        checkin,
        "The aftercare check-in after the shoot, to the IC only.",
        "closedset checkin lighthouse --status ok --note 'All good, thank you.'",
        _checkin_args,
    ),
    Command(
        ("report",),
        report,
        "Report a crossing or a violation to the IC (and, if you choose, the production).",
        "closedset report lighthouse --kind crossing --what 'Hand moved to my thigh in take 3' "
        "--involved Ben",
        _report_args,
    ),
]:
    add_command(_command)
