"""``closedset scene list|status``, ``closedset inbox`` and ``closedset thread``: what has
happened in your scenes, as far as your own devices can read it."""

from __future__ import annotations

import argparse
from typing import Any

from client.cli._scene import in_scene, run_async, scene_arg
from client.cli.context import Context, table
from client.cli.registry import Command, add_command
from client.negotiate import SceneSession
from client.scene_inbox import check_inbox
from client.scenes import SceneBook
from client.timefmt import show_time
from client.views import thread
from client.views.people import Names
from client.views.status import status


def scene_list(ctx: Context, args: argparse.Namespace) -> int:
    book = list(SceneBook(ctx.home))
    rows = [{"alias": s.alias, "role": s.role, "relay": s.relay, "thread": s.thread} for s in book]
    ctx.emit(
        rows,
        lambda: (
            table(
                ["scene", "you are", "relay"], [[r["alias"], r["role"], r["relay"]] for r in rows]
            )
            if rows
            else "No scenes yet: an IC runs `scene new`, a performer `scene join`."
        ),
    )
    return 0


def scene_status(ctx: Context, args: argparse.Namespace) -> int:
    async def work(session: SceneSession) -> dict[str, Any]:
        data = status(
            session.state(), session.me, session.scene.role, session.scene.alias, session.now()
        )
        coordinators = [c.to_json() | {"said": str(c)} for c in await session.coordinators()]
        # Counted here, listed (once) under `unreadable` and on stderr by in_scene.
        return data | {
            "unreadable_count": len(session.unreadable),
            "coordinators": coordinators,
        }

    data = in_scene(ctx, args.scene, work)
    ctx.emit(data, lambda: render_status(data))
    return 0


def render_status(d: dict[str, Any]) -> str:
    you = "the IC" if d["you"] == "ic" else "a performer"
    if "title" not in d:
        return f"{d['scene']}: no brief yet (you are {you}).\nNext: {d['next']}"
    out = [
        f"Scene {d['number']} {d['title']!r}, pages {d['pages']} ({d['scene']}; you are {you})",
        f"Phase: {d['phase']}.  Call time: {show_time(d['call_time'])}.  Consent valid "
        f"{show_time(d['valid_from'])} to {show_time(d['valid_until'])}.",
        "",
        table(
            ["participant", "role", "sheet sent", "fingerprint"],
            [
                [
                    p["name"],
                    p["role"],
                    {True: "yes", False: "no", None: ""}[p["sheet"]],
                    p["fingerprint"],
                ]
                for p in d["participants"]
            ],
        ),
    ]
    if d["versions"]:
        rows = [
            [
                v["version"],
                ", ".join(v["accepted_by"]) or "-",
                show_time(v["proposed_at"]),
                show_time(v["agreed_at"]),
            ]
            for v in d["versions"]
        ]
        out += ["", table(["rider", "accepted by", "proposed", "agreed"], rows)]
        out.append(f"Waiting for: {', '.join(d['waiting_for']) or 'nobody'}.")
    for c in d["counters"]:
        out.append(f"Counter by {c['by']} on version {c['version']}: {c['comments']}")
    for w in d["withdrawals"]:
        late = " (after filming)" if w["after_filming"] else ""
        how = " by a narrower sheet" if w["by_sheet"] else ""
        held = "" if w["blocks"] else "; the rider did not hold it, so it blocks nothing"
        out.append(
            f"Withdrawal{how} by {w['by']}{late}: {', '.join(w['items'])} "
            f"(logged at index {w['log_index']}{held})."
        )
    for who, items in d["still_withdrawn"].items():
        out.append(f"Still withdrawn by {who} (never drafted again): {', '.join(items)}.")
    for f in d["filmed"]:
        out.append(f"Filmed: version {f['version']}, {', '.join(f['acts']) or 'whole scene'}.")
    for c in d["check_ins"]:
        contact = " Would like to be contacted." if c["wants_contact"] else ""
        note = f" {c['note']}" if c["note"] else ""
        out.append(f"Check-in by {c['by']}: {c['status']}.{note}{contact}")
    for r in d["reports"]:
        out.append(f"Transgression report by {r['by']}: " + "; ".join(r["content"]))
    for flag in d["flags"]:
        out.append(f"[{flag['severity']}] {flag['message']}")
    for r in d["refused"]:
        out.append(f"Refused statement at index {r['index']} from {r['by']}: {r['reason']}")
    out += [f"{c['said']}." for c in d.get("coordinators", []) if c["granted_by"]]
    if d.get("unreadable_count"):
        out.append(f"Envelopes you cannot read (skipped): {d['unreadable_count']}.")
    out += ["", f"Next: {d['next']}"]
    return "\n".join(out)


def inbox(ctx: Context, args: argparse.Namespace) -> int:
    profile = ctx.unlocked_profile()
    found = run_async(check_inbox(profile, ctx.clock))
    ctx.skipped(found.unreadable)
    data = found.to_json()

    def human() -> str:
        lines = []
        if found.items:
            rows = [
                [i["scene"], *r]
                for i, r in zip(found.items, thread.table_rows(found.items), strict=True)
            ]
            lines.append(table(["scene", "index", "time", "from", "kind", "what"], rows))
        else:
            lines.append("Nothing new in your scenes.")
        lines += [f"Could not check {p}" for p in found.problems]
        return "\n".join(lines)

    ctx.emit(data, human)
    return 0


def thread_command(ctx: Context, args: argparse.Namespace) -> int:
    withheld: list[int] = []

    async def work(session: SceneSession) -> list[dict[str, Any]]:
        state = session.state()
        withheld.extend(session.withheld())
        return thread.rows(session.events(), state, Names(state.brief, session.me))

    rows = in_scene(ctx, args.scene, work)
    if withheld:
        # Said, never raised: a relay that withholds must not also stop a withdrawal.
        ctx.stderr.write(
            f"Warning: the relay has not served {len(withheld)} envelope(s) addressed to you "
            f"(your numbers {', '.join(map(str, withheld))} are missing); it is faulty or "
            "withholding them: tell your IC and keep your evidence.\n"
        )
    ctx.emit(
        rows,
        lambda: (
            table(["index", "time", "from", "kind", "what"], thread.table_rows(rows))
            if rows
            else "Nothing in this scene that you can read yet."
        ),
    )
    return 0


for _command in [
    Command(("scene", "list"), scene_list, "List your scenes.", "closedset scene list"),
    Command(
        ("scene", "status"),
        scene_status,
        "Where a scene stands: phase, rider versions, who accepted, who is awaited, flags.",
        "closedset scene status scene-12",
        scene_arg,
    ),
    Command(
        ("inbox",),
        inbox,
        "Fetch every scene and list the statements that arrived since you last looked.",
        "closedset inbox",
    ),
    Command(
        ("thread",),
        thread_command,
        "Every statement of a scene you can read, in log order, one line each.",
        "closedset thread scene-12",
        scene_arg,
    ),
]:
    add_command(_command)
