"""A performer's scene: joining, the scene page with its history and live updates, the rider
(accept or counter), withdraw, check-in and report. The same library calls as the CLI's
``scene join``, ``scene status``, ``thread``, ``rider``, ``withdraw``, ``checkin``, ``report``."""

from __future__ import annotations

import asyncio
import contextlib
import re
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
from aiohttp import web

from client.app.common import form_text, page, profile_of, redirect, state_of
from client.app.security import HEADERS
from client.app.state import writing
from client.errors import ClientError, UsageError
from client.negotiate import SceneSession, join_scene, relay_client
from client.negotiation import consent
from client.negotiation import vocabulary as vocab
from client.negotiation.rider import Rider, RiderAct
from client.negotiation.scene_state import Phase, SceneState
from client.negotiation.statements import (
    CHECK_IN_STATUSES,
    WITHDRAWAL_FLAGS,
    Acceptance,
    CheckIn,
    Counter,
    TransgressionReport,
    Withdrawal,
)
from client.profile import Profile
from client.relay_client import RelayUnreachableError
from client.scenes import SceneBook, SceneRef
from client.timefmt import parse_time, show_time
from client.views import papers, thread
from client.views.diff import diff
from client.views.people import Names
from client.views.status import visible_flags
from client.views.thread import item_name
from keys.identity import Fingerprint, safety_number
from keys.invite import Invite

UNREACHABLE = (RelayUnreachableError, TimeoutError, aiohttp.ClientError, OSError)
CHECK_IN_WORDS = {
    "ok": "I am OK",
    "need-support": "I would like support",
    "prefer-not-to-say": "I prefer not to say",
}


def routes(app: web.Application) -> None:
    app.router.add_get("/join", join)
    app.router.add_post("/join", join_post)
    app.router.add_get("/scene/{alias}", scene)
    app.router.add_get("/scene/{alias}/joined", joined)
    app.router.add_get("/scene/{alias}/history", history_fragment)
    app.router.add_get("/scene/{alias}/live", live_fragment)
    app.router.add_get("/scene/{alias}/events", events)
    app.router.add_get("/scene/{alias}/rider", rider)
    app.router.add_post("/scene/{alias}/rider/accept", rider_accept)
    app.router.add_post("/scene/{alias}/rider/counter", rider_counter)
    app.router.add_get("/scene/{alias}/withdraw", withdraw)
    app.router.add_post("/scene/{alias}/withdraw", withdraw_post)
    app.router.add_get("/scene/{alias}/checkin", checkin)
    app.router.add_post("/scene/{alias}/checkin", checkin_post)
    app.router.add_get("/scene/{alias}/report", report)
    app.router.add_post("/scene/{alias}/report", report_post)
    app.router.add_get("/scene/{alias}/done", done)


# --- sessions ----------------------------------------------------------------------------------


def find_scene(request: web.Request) -> tuple[Profile, SceneRef]:
    profile = profile_of(request)
    return profile, SceneBook(profile.home).find(request.match_info["alias"])


@contextlib.asynccontextmanager
async def synced(request: web.Request) -> AsyncIterator[tuple[SceneSession, str | None]]:
    """A session on the scene, synced from the relay if it answers; else the local copy and
    one sentence for the banner."""
    profile, scene = find_scene(request)
    state = state_of(request)
    async with writing(profile.home):
        relay = relay_client(profile, scene.relay, state.clock)
        problem = None
        try:
            await relay.__aenter__()
        except UNREACHABLE as exc:
            problem = (
                f"The relay at {scene.relay} cannot be reached ({exc}); showing what this "
                "computer already has. Nothing is waiting to be sent."
            )
        try:
            session = SceneSession(profile, scene, relay, state.clock)
            if problem is None:
                try:
                    await session.sync()
                except UNREACHABLE as exc:
                    problem = (
                        f"The relay at {scene.relay} cannot be reached right now; showing what "
                        "this computer already has. Nothing is waiting to be sent."
                    )
                    _ = exc
            state.relay_problems[scene.alias] = problem or ""
            yield session, problem
        finally:
            with contextlib.suppress(Exception):
                await relay.close()


async def sending(request: web.Request, work: Any) -> Any:
    """Run ``work(session)`` on a freshly synced session; the relay must answer."""
    async with synced(request) as (session, problem):
        if problem:
            raise ClientError(
                problem.replace("showing what this computer already has", "nothing was sent")
            )
        return await work(session)


def scene_context(session: SceneSession, problem: str | None) -> dict[str, Any]:
    """What every scene page shows: the brief, who is in it, the banner, the withdraw control."""
    state = session.state()
    me = session.me
    names = Names(state.brief, me)
    brief = state.brief
    partners = []
    ic = None
    if brief is not None:
        for p in brief.participants:
            if p.role == "ic":
                ic = p.name
            elif p.identity != me:
                partners.append(p.name)
    return {
        "alias": session.scene.alias,
        "brief": brief,
        "show_time": show_time,
        "partners": partners,
        "ic": ic or "the IC",
        "problem": problem,
        "phase": state.phase.value,
        "names": names,
        "state": state,
        "role": session.scene.role,
    }


def next_step(state: SceneState, me: bytes, alias: str) -> tuple[str, str | None, str | None]:
    """What this performer can do next, in words, with a link and its label."""
    if state.brief is None:
        return "Waiting for the IC to send the scene brief. Nothing to do yet.", None, None
    p = state.phase
    if state.sheet(me) is None and p in (Phase.DRAFT, Phase.SHEETS_IN):
        return (
            "Fill in your boundary sheet. Only the IC reads it.",
            f"/scene/{alias}/sheet",
            "Fill in your boundary sheet",
        )
    if state.current is None:
        return (
            "Your sheet is with the IC. They write the rider (the agreed terms) next.",
            f"/scene/{alias}/sheet",
            "See or change your sheet",
        )
    if p in (Phase.PROPOSED, Phase.AMENDED) and me in state.waiting_for:
        v = state.current.rider.version
        return (
            f"Read rider version {v}, then accept it or ask for changes.",
            f"/scene/{alias}/rider",
            f"Read rider version {v}",
        )
    if p == Phase.FILMED:
        return (
            "The scene was filmed. Tell the IC how you are.",
            f"/scene/{alias}/checkin",
            "Check in with the IC",
        )
    if p == Phase.AGREED:
        return (
            "Agreed. You may still withdraw anything, at any time.",
            f"/scene/{alias}/rider",
            "Read the rider",
        )
    if p == Phase.WITHDRAWN:
        return "Your withdrawal is with the IC; they answer with a new version.", None, None
    return "Waiting for the other performers and the IC.", f"/scene/{alias}/rider", "Read the rider"


def history_rows(session: SceneSession) -> list[dict[str, Any]]:
    state = session.state()
    return thread.rows(session.events(), state, Names(state.brief, session.me))


# --- joining -----------------------------------------------------------------------------------


async def join(request: web.Request) -> web.StreamResponse:
    profile_of(request)
    return page(request, "join.html", {"values": {}})


async def join_post(request: web.Request) -> web.StreamResponse:
    profile = profile_of(request)
    state = state_of(request)
    form = await request.post()
    raw = form_text(form, "code", 4000)
    alias = form_text(form, "alias", 40).strip().lower() or "scene"
    code = "".join(raw.split())
    # A link or a message that carries the code: the code starts with its prefix and ends at
    # a space; a code a mail program wrapped over lines is read with the spaces taken out.
    found = re.search(r"closedset-invite:[^\s\"'<>&?#]+", raw)
    candidates = [found.group(0)] if found else []
    candidates.append(code)
    errors = []
    invite = None
    problem: Exception | None = None
    for candidate in candidates:
        try:
            invite = Invite.decode(candidate)
            code = candidate
            break
        except Exception as exc:  # any decoding failure is the person's code
            problem = exc
    if invite is None:
        errors.append({"field": "code", "text": f"That is not a complete invite code: {problem}"})
    if errors or invite is None:
        return page(
            request,
            "join.html",
            {"values": {"code": code, "alias": alias}, "errors": errors},
            status=400,
        )
    async with writing(profile.home):
        book = SceneBook(profile.home)
        try:
            async with relay_client(profile, invite.relay, state.clock) as relay:
                scene, inviter = await join_scene(profile, relay, book, invite, alias)
        except UsageError as exc:
            errors = [{"field": "alias", "text": str(exc)}]
            return page(
                request,
                "join.html",
                {"values": {"code": code, "alias": alias}, "errors": errors},
                status=400,
            )
    return redirect(f"/scene/{scene.alias}/joined?inviter={inviter.fingerprint.compact}")


async def joined(request: web.Request) -> web.StreamResponse:
    """The moment of verification: the inviter's fingerprint and safety number, with QR codes."""
    from client.contacts import Contacts
    from client.profile import CONTACTS_FILE

    profile, scene = find_scene(request)
    inviter = Contacts.load(profile.home / CONTACTS_FILE).find(request.query.get("inviter", ""))
    return page(
        request,
        "joined.html",
        {
            "alias": scene.alias,
            "inviter": inviter,
            "fingerprint": inviter.fingerprint.grouped(),
            "compact": inviter.fingerprint.compact,
            "safety_number": safety_number(profile.identity_key, inviter.history.identity_key),
        },
    )


# --- the scene page ----------------------------------------------------------------------------


def live_context(session: SceneSession, problem: str | None) -> dict[str, Any]:
    """The scene page's parts that change as statements arrive: next step, deadlines, history."""
    ctx = scene_context(session, problem)
    state = session.state()
    if session.scene.role == "ic":
        # The coordinator's own pages are a later step; until then the CLI's next step.
        from client.views.status import next_step as cli_next

        names = Names(state.brief, session.me)
        text = cli_next(state, session.me, "ic", session.scene.alias, names)
        link = label = None
    else:
        text, link, label = next_step(state, session.me, session.scene.alias)
    return ctx | {
        "next_text": text,
        "next_link": link,
        "next_label": label,
        "flags": visible_flags(state, session.me, session.scene.role, session.now()),
        "history": history_rows(session),
    }


async def scene(request: web.Request) -> web.StreamResponse:
    async with synced(request) as (session, problem):
        ctx = live_context(session, problem)
    return page(request, "scene.html", ctx)


async def live_fragment(request: web.Request) -> web.StreamResponse:
    async with synced(request) as (session, problem):
        ctx = live_context(session, problem)
    return page(request, "live.html", ctx)


async def history_fragment(request: web.Request) -> web.StreamResponse:
    async with synced(request) as (session, problem):
        ctx = scene_context(session, problem) | {"history": history_rows(session)}
    return page(request, "history.html", ctx)


async def events(request: web.Request) -> web.StreamResponse:
    """Server-sent events: "update" whenever the relay's push stream names this scene."""
    profile, scene = find_scene(request)
    state = state_of(request)
    response = web.StreamResponse(headers=HEADERS | {"Content-Type": "text/event-stream"})
    await response.prepare(request)
    try:
        async with (
            relay_client(profile, scene.relay, state.clock) as relay,
            relay.stream() as stream,
        ):
            await response.write(b"event: ready\ndata: ok\n\n")
            async for event in stream:
                if event.get("thread") in (None, scene.thread):
                    await response.write(b"event: update\ndata: new\n\n")
    except (*UNREACHABLE, ClientError):
        with contextlib.suppress(ConnectionResetError, RuntimeError):
            await response.write(b"event: unreachable\ndata: relay\n\n")
    except (asyncio.CancelledError, ConnectionResetError):
        pass
    return response


# --- the rider ---------------------------------------------------------------------------------


def _my_items(state: SceneState, me: bytes) -> list[tuple[str, str]]:
    """The withdrawable items of the current rider that are about this performer."""
    current = state.current
    if current is None:
        return []
    v = vocab.load(current.rider.vocabulary)
    items: dict[str, str] = {}
    for a in current.rider.acts:
        act = v.acts.get(a.act)
        if act is None or me not in (a.giver, a.receiver):
            continue
        if act.directional:
            direction = "giving" if a.giver == me else "receiving"
            items[f"act:{a.act}:{direction}"] = item_name(f"act:{a.act}:{direction}")
        else:
            items[f"act:{a.act}"] = item_name(f"act:{a.act}")
    for terms in current.rider.performers:
        if terms.identity != me:
            continue
        for part in terms.nudity:
            items[f"nudity:{part}"] = "nudity: " + item_name(f"nudity:{part}")
        for use in terms.footage:
            items[f"use:{use}"] = "footage: " + item_name(f"use:{use}")
        for flag in WITHDRAWAL_FLAGS[1:]:
            if getattr(terms.doubles, flag.replace("-", "_"), False):
                items[flag] = flag.replace("-", " ")
    if current.rider.closed_set.stills:
        items["stills"] = "stills on set"
    return list(items.items())


def _to_confirm(session: SceneSession, rider: Rider) -> list[tuple[RiderAct, str]]:
    """The acts of ``rider`` this performer answered "maybe", confirmed one by one on
    accepting: the library's rule, as ``closedset rider accept`` applies it."""
    mine = session.state().consents().get(session.me)
    return [] if mine is None else consent.to_confirm(rider, mine)


async def rider(request: web.Request) -> web.StreamResponse:
    async with synced(request) as (session, problem):
        ctx = scene_context(session, problem)
        state = session.state()
        current = state.current
        if current is None:
            return page(request, "norider.html", ctx)
        names = ctx["names"]
        mine = [
            v.rider.version for v in state.versions if session.me in state.accepted(v.rider.version)
        ]
        versions = papers.versions_of(state)
        last = max((v for v in mine if v != current.rider.version), default=None)
        changes = diff(versions[last], current.rider, names) if last in versions else []
        confirm = _to_confirm(session, current.rider)
        rows = papers.rider_rows(current.rider, names, [a for a, _ in confirm])
        ctx |= {
            "rider": current.rider,
            "rows": rows,
            # Each act's row, with whether it is ask-first and one this performer confirms.
            "acts": list(zip(rows["acts"], current.rider.acts, strict=True)),
            "confirm_acts": [a for a, _ in confirm],
            "maybes": [
                {"item": item, "what": consent.describe(item), "discussed": a.discussed}
                for a, item in confirm
            ],
            "accepted": names.many(sorted(state.accepted(current.rider.version))),
            "i_accepted": session.me in state.accepted(current.rider.version),
            "last_accepted": last,
            "changes": changes,
            "waiting": session.me in state.waiting_for,
        }
    return page(request, "rider.html", ctx)


async def rider_accept(request: web.Request) -> web.StreamResponse:
    form = await request.post()
    wanted = form_text(form, "version", 10)
    if form_text(form, "confirm", 10) != wanted or not wanted.isdigit():
        async with synced(request) as (session, problem):
            ctx = scene_context(session, problem)
        ctx["heading"] = "Not accepted"
        ctx["message"] = "Tick the box that names the version you accept; nothing was sent."
        return page(request, "problem.html", ctx, status=400)
    version = int(wanted)
    given = {str(v) for v in form.getall("maybe", [])}

    async def work(session: SceneSession) -> Any:
        state = session.state()
        versions = papers.versions_of(state)
        if version not in versions:
            raise ClientError(f"Rider version {version} does not exist; nothing was sent.")
        current = state.current
        if current is not None and version == current.rider.version:
            for act, item in _to_confirm(session, versions[version]):
                if item not in given:
                    raise UsageError(
                        f'Version {version} holds {consent.describe(item)}, which you answered '
                        '"maybe": tick "I agree to it now" next to it, or ask for changes. '
                        "Nothing was sent."
                    )
        return await session.send(Acceptance(version, versions[version].hash))

    posted = await sending(request, work)
    return _done(
        request,
        f"You accepted rider version {version}.",
        f"It is in the log at entry {posted.receipt.index} (receipt checked). Everyone "
        "in the scene sees your signature. You may still withdraw at any time.",
    )


async def rider_counter(request: web.Request) -> web.StreamResponse:
    form = await request.post()
    comment = form_text(form, "comment").strip()
    version = int(form_text(form, "version", 10) or 0)
    if not comment:
        async with synced(request) as (session, problem):
            ctx = scene_context(session, problem)
        ctx |= {
            "heading": "Nothing to send",
            "message": "Write what you would like changed; nothing was sent.",
        }
        return page(request, "problem.html", ctx, status=400)

    async def work(session: SceneSession) -> Any:
        versions = papers.versions_of(session.state())
        if version not in versions:
            raise ClientError(f"Rider version {version} does not exist; nothing was sent.")
        return await session.send(Counter(version, versions[version].hash, comment))

    posted = await sending(request, work)
    return _done(
        request,
        f"Your comments on version {version} are with the IC.",
        f"Encrypted to the IC only; your scene partners do not see them. In the log at "
        f"entry {posted.receipt.index}.",
    )


# --- withdraw, check in, report ----------------------------------------------------------------


async def withdraw(request: web.Request) -> web.StreamResponse:
    async with synced(request) as (session, problem):
        ctx = scene_context(session, problem)
        ctx["items"] = _my_items(session.state(), session.me)
        current = session.state().current
        ctx["version"] = current.rider.version if current is not None else None
    return page(request, "withdraw.html", ctx)


async def withdraw_post(request: web.Request) -> web.StreamResponse:
    form = await request.post()
    items = tuple(str(i) for i in form.getall("item", []) if isinstance(i, str))
    whole = form_text(form, "whole", 5) == "yes" or not items
    reason = form_text(form, "reason").strip() or None

    async def work(session: SceneSession) -> Any:
        current = session.state().current
        statement = Withdrawal(
            whole=whole,
            items=() if whole else items,
            version=None if current is None else current.rider.version,
            reason=reason,
        )
        return statement, await session.send(statement)

    statement, posted = await sending(request, work)
    what = "the whole rider" if statement.whole else ", ".join(map(item_name, statement.items))
    return _done(
        request,
        f"Withdrawn: {what}.",
        f"The IC was told. Your withdrawal is in the log at entry {posted.receipt.index} "
        "(receipt checked), encrypted to the IC only; your scene partners do not see it. "
        "Nobody needs to approve it.",
    )


async def checkin(request: web.Request) -> web.StreamResponse:
    async with synced(request) as (session, problem):
        ctx = scene_context(session, problem) | {"statuses": CHECK_IN_WORDS}
    return page(request, "checkin.html", ctx)


async def checkin_post(request: web.Request) -> web.StreamResponse:
    form = await request.post()
    status = form_text(form, "status", 40)
    if status not in CHECK_IN_STATUSES:
        async with synced(request) as (session, problem):
            ctx = scene_context(session, problem) | {"statuses": CHECK_IN_WORDS}
        ctx["errors"] = [{"field": "status-ok", "text": "Choose how you are."}]
        return page(request, "checkin.html", ctx, status=400)
    note = form_text(form, "note")
    wants = form_text(form, "wants_contact", 5) == "yes"

    async def work(session: SceneSession) -> Any:
        return await session.send(CheckIn(status, note, wants))

    posted = await sending(request, work)
    return _done(
        request,
        "Your check-in is with the IC.",
        f"Encrypted to the IC only (log entry {posted.receipt.index})."
        + (" They will contact you." if wants else ""),
    )


async def report(request: web.Request) -> web.StreamResponse:
    async with synced(request) as (session, problem):
        ctx = scene_context(session, problem) | {"values": {}}
    return page(request, "report.html", ctx)


async def report_post(request: web.Request) -> web.StreamResponse:
    form = await request.post()
    values = {k: form_text(form, k) for k in ("kind", "what", "when", "others", "anonymity")}
    involved = [str(i) for i in form.getall("involved", []) if isinstance(i, str)]
    to_production = form_text(form, "to_production", 5) == "yes"
    errors = []
    if values["kind"] not in ("crossing", "violation"):
        errors.append({"field": "kind-crossing", "text": "Choose what happened."})
    if not values["what"].strip():
        errors.append({"field": "what", "text": "Say what happened, in your own words."})
    when = None
    if values["when"].strip():
        try:
            when = parse_time(values["when"].strip(), "time of the incident")
        except UsageError as exc:
            errors.append({"field": "when", "text": str(exc)})
    anonymous = values["anonymity"] != "named"
    if to_production and anonymous:
        errors.append(
            {
                "field": "to_production",
                "text": "To send it to the production yourself, choose that they may know it "
                "was you.",
            }
        )
    if errors:
        async with synced(request) as (session, problem):
            ctx = scene_context(session, problem)
        ctx |= {
            "values": values | {"involved": involved, "to_production": to_production},
            "errors": errors,
        }
        return page(request, "report.html", ctx, status=400)

    async def work(session: SceneSession) -> Any:
        brief = session.state().brief
        people = (
            {Fingerprint.of(p.identity).compact: p.identity for p in brief.participants}
            if brief
            else {}
        )
        statement = TransgressionReport(
            kind=values["kind"],  # type: ignore[arg-type]
            what=values["what"].strip(),
            when=when if when is not None else session.now(),
            involved=tuple(people[i] for i in involved if i in people),
            others=values["others"].strip(),
            anonymous_to_production=anonymous,
            send_to_production=to_production,
        )
        return await session.send(statement)

    posted = await sending(request, work)
    to = "the IC and the production contact" if to_production else "the IC only"
    return _done(
        request,
        f"Your report is with {to}.",
        f"In the log at entry {posted.receipt.index}."
        + (" The IC passes it on without your name." if anonymous else ""),
    )


# --- confirmation --------------------------------------------------------------------------------


def _done(request: web.Request, heading: str, detail: str) -> web.StreamResponse:
    """POST, redirect, GET: the confirmation page survives a reload without sending again.
    Its words stay in the app's memory (never in the URL, which the browser keeps on disk)."""
    import secrets

    token = secrets.token_urlsafe(12)
    confirmations = state_of(request).confirmations
    confirmations[token] = (heading, detail)
    while len(confirmations) > 50:
        confirmations.pop(next(iter(confirmations)))
    return redirect(f"/scene/{request.match_info['alias']}/done?c={token}")


async def done(request: web.Request) -> web.StreamResponse:
    heading, detail = state_of(request).confirmations.get(request.query.get("c", ""), ("Done", ""))
    async with synced(request) as (session, problem):
        ctx = scene_context(session, problem)
    ctx |= {"heading": heading, "detail": detail}
    return page(request, "done.html", ctx)
