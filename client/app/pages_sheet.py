"""The boundary sheet as a web form, drawn from the vocabulary's data.

The page never re-implements a rule: the answers are written into the very TOML template
`closedset sheet template` prints (``sheet_template``), then read by the very parser
`closedset sheet submit` uses (``parse_sheet``). Each problem it reports names a line of that
text; the line names the field, so the error is shown next to the field it is about.
Drafts are kept inside the encrypted keystore, never as a plaintext file.
"""

from __future__ import annotations

import json
import tomllib
from collections.abc import Mapping
from typing import Any

from aiohttp import web

from client.app.bodymap import VIEWS, zone_shapes
from client.app.common import page, redirect
from client.app.pages_scene import scene_context, sending, synced
from client.negotiate import SceneSession
from client.negotiation import vocabulary as vocab
from client.negotiation._form import quote
from client.negotiation.errors import FormError
from client.negotiation.forms import parse_sheet, sheet_template
from client.negotiation.sheet import CHECK_IN_PREFERENCES, BoundarySheet
from client.views import papers
from keys.encoding import canonical_json

DRAFT_PREFIX = "sheet-draft:"
# The sheet's parts, each its own page (one thing per page); "all" shows every part at once.
PARTS = (
    ("you", "You and your signals", ("you.", "signals.")),
    ("acts", "Acts", ("acts.",)),
    ("body", "Body map", ("zones.", "zone_notes.")),
    ("nudity", "Nudity and garments", ("nudity.", "modesty.")),
    ("set", "Closed set and footage", ("closed_set.", "footage.", "doubles.")),
    ("care", "Health and aftercare", ("care.", "unanswered")),
)


def part_of(path: str) -> str:
    return next((key for key, _, prefixes in PARTS if path.startswith(prefixes)), "")


def _part(value: object) -> str:
    return (
        value if isinstance(value, str) and value in {k for k, _, _ in PARTS} | {"all"} else "you"
    )


FLAGS = ("nudity", "footage", "doubles")
LISTS = {"modesty.garments", "closed_set.present", "closed_set.monitors"}
DOUBLES = {
    "body_double": "A body double may perform the parts the rider allows",
    "digital_double": "A digital double may be used within what the rider allows",
    "digital_replica": "A digital replica of you may be made (separate, explicit consent)",
}
CHECK_IN_WORDS = {
    "message": "a message",
    "call": "a phone call",
    "in-person": "in person",
    "none": "no check-in, thank you",
}


def routes(app: web.Application) -> None:
    app.router.add_get("/scene/{alias}/sheet", sheet)
    app.router.add_post("/scene/{alias}/sheet", sheet_post)
    app.router.add_get("/scene/{alias}/sheet/check", check)
    app.router.add_post("/scene/{alias}/sheet/send", send)


def field_id(path: str) -> str:
    return "f-" + path.replace(".", "--")


# --- the template as values, and values back into the template ----------------------------------


def _flatten(data: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in data.items():
        path = f"{prefix}{key}"
        if isinstance(value, dict):
            out |= _flatten(value, path + ".")
        else:
            out[path] = value
    return out


def _template(session: SceneSession) -> str:
    from client.cli._scene import brief_of

    brief = brief_of(session)
    mine = session.state().sheet(session.me)
    return sheet_template(vocab.load(), brief, session.me, previous=mine)


def fill(text: str, values: dict[str, Any]) -> tuple[str, dict[int, str]]:
    """Set ``section.key`` lines of the template; returns the text and line -> path."""
    wanted = dict(values)
    section, out, where = "", list[str](), dict[int, str]()
    headers: dict[str, int] = {}
    for line in text.splitlines():
        stripped = line.strip()
        if stripped.startswith("[") and not stripped.startswith("[["):
            section = stripped.strip("[]")
            headers[section] = len(out)
        elif "=" in stripped and not stripped.startswith("#"):
            key = stripped.split("=", 1)[0].strip()
            path = f"{section}.{key}" if section else key
            if path in wanted:
                line = f"{key} = {quote(wanted.pop(path))}"
            where[len(out)] = path
        out.append(line)
    inserted: list[tuple[int, str, str]] = []
    for path, value in wanted.items():
        sect, _, key = path.rpartition(".")
        if sect in headers:
            inserted.append((headers[sect], f"{key} = {quote(value)}", path))
    for at, line, path in sorted(inserted, key=lambda i: -i[0]):
        out.insert(at + 1, line)
        where = {(n + 1 if n > at else n): p for n, p in where.items()}
        where[at + 1] = path
    return "\n".join(out) + "\n", {n + 1: p for n, p in where.items()}


def values_from_form(form: Any, template_values: dict[str, Any]) -> dict[str, Any]:
    """The form's answers as template values (strings, booleans, numbers, lists)."""
    values: dict[str, Any] = {}
    for path in template_values:
        if path == "vocabulary":
            continue
        if path in LISTS:
            if path == "modesty.garments":
                values[path] = [g for g in form.getall(path, []) if isinstance(g, str)]
            else:
                raw = form.get(path, "")
                values[path] = [x.strip() for x in str(raw).splitlines() if x.strip()]
            continue
        raw = form.get(path)
        raw = raw if isinstance(raw, str) else ""
        if path.split(".")[0] in FLAGS or path == "closed_set.stills":
            values[path] = {"true": True, "false": False}.get(raw, "")
        else:
            values[path] = raw
    for act in vocab.load().acts.values():
        for direction in act.directions:
            key = "intensity" if direction == "mutual" else f"{direction}_intensity"
            raw = form.get(f"acts.{act.id}.{key}", "")
            if isinstance(raw, str) and raw.isdigit():
                values[f"acts.{act.id}.{key}"] = int(raw)
    for zone in vocab.load().zones:
        raw = form.get(f"zone_notes.{zone}", "")
        if isinstance(raw, str) and raw.strip():
            values[f"zone_notes.{zone}"] = raw.strip()
    values["unanswered"] = "no" if form.get("unanswered") == "no" else ""
    return values


def check_values(
    template: str, values: dict[str, Any]
) -> tuple[BoundarySheet | None, list[dict[str, str]]]:
    """The CLI's own parser on the filled-in template: the sheet, or each problem by field."""
    text, lines = fill(template, values)
    try:
        return parse_sheet(text, filename="your sheet"), []
    except FormError as exc:
        errors = []
        for problem in exc.problems:
            path = lines.get(problem.line)
            text = _words(problem.message)
            if path and text.startswith(path):
                text = label_of(path) + text[len(path) :]
            errors.append({"field": field_id(path) if path else "", "text": text})
        return None, errors


def label_of(path: str) -> str:
    """What the page calls the field at ``path`` (the parser names its TOML path)."""
    v = vocab.load()
    kind, _, rest = path.partition(".")
    name, _, key = rest.partition(".")
    if kind == "acts" and name in v.acts:
        return v.acts[name].name + ("" if key in ("answer", "intensity") else f", {key}")
    tables: dict[str, Mapping[str, vocab.Term]] = {
        "zones": v.zones, "zone_notes": v.zones, "nudity": v.nudity, "footage": v.uses,
    }  # fmt: skip
    if kind in tables and name in tables[kind]:
        return tables[kind][name].name
    return (name or kind).replace("_", " ").capitalize()


def _words(message: str) -> str:
    # The parser speaks of the TOML file; on the page the same sentence names no file syntax.
    for file_words, page_words in (
        (' (nothing is assumed, or set unanswered = "no" at the top to answer every empty item'
         " no)", ' (nothing is assumed; or tick "answer everything I leave empty with no")'),
        (" in quotes,", ","),
        ("use true or false (without quotes)", "choose yes or no"),
        ("must be true or false (without quotes)", "needs yes or no"),
    ):  # fmt: skip
        message = message.replace(file_words, page_words)
    return message


# --- drafts, encrypted in the keystore --------------------------------------------------------


def _draft_name(session: SceneSession) -> str:
    return DRAFT_PREFIX + session.scene.thread


def load_draft(session: SceneSession) -> dict[str, Any] | None:
    keystore = session.profile.keystore
    data = keystore.secrets.get(_draft_name(session)) if keystore else None
    return json.loads(data) if data else None


def save_draft(session: SceneSession, values: dict[str, Any]) -> None:
    keystore = session.profile.keystore
    assert keystore is not None
    keystore.put(_draft_name(session), canonical_json(values))
    keystore.save()


def drop_draft(session: SceneSession) -> None:
    keystore = session.profile.keystore
    if keystore is not None and _draft_name(session) in keystore.secrets:
        keystore.remove(_draft_name(session))
        keystore.save()


# --- pages -------------------------------------------------------------------------------------


def form_context(session: SceneSession, values: dict[str, Any], part: str) -> dict[str, Any]:
    v = vocab.load()
    keys = [k for k, _, _ in PARTS]
    following = keys[keys.index(part) + 1] if part in keys[:-1] else None
    labels = {k: label for k, label, _ in PARTS}
    return {
        "part": part,
        "part_label": labels.get(part, ""),
        "parts": [(k, label) for k, label, _ in PARTS],
        "next_part": following,
        "next_label": labels.get(following or "", ""),
        "v": v,
        "act_groups": v.act_groups(),
        "values": values,
        "fid": field_id,
        "answers": [(a, v.answers[a]) for a in vocab.ANSWERS],
        "zone_answers": [(a, v.zone_answers[a]) for a in vocab.ZONE_ANSWERS],
        "views": VIEWS,
        "shapes": zone_shapes(v),
        "doubles": DOUBLES,
        "check_ins": [(c, CHECK_IN_WORDS.get(c, c)) for c in CHECK_IN_PREFERENCES],
        "intensities": range(1, 11),
    }


async def sheet(request: web.Request) -> web.StreamResponse:
    async with synced(request) as (session, problem):
        template = _template(session)
        values = _flatten(tomllib.loads(template))
        draft = load_draft(session)
        ctx = scene_context(session, problem)
        ctx |= form_context(session, values | (draft or {}), _part(request.query.get("part")))
        ctx["draft"] = draft is not None
        ctx["saved"] = request.query.get("saved") == "1"
    return page(request, "sheet.html", ctx)


async def sheet_post(request: web.Request) -> web.StreamResponse:
    form = await request.post()
    part = _part(form.get("part"))
    async with synced(request) as (session, problem):
        template = _template(session)
        template_values = _flatten(tomllib.loads(template))
        posted = values_from_form(form, template_values)
        # A part's page carries only its own fields: the other parts keep what was saved.
        values = template_values | (load_draft(session) or {})
        values = {k: v for k, v in values.items() if part == "all" or part_of(k) != part}
        values |= {k: v for k, v in posted.items() if part == "all" or part_of(k) == part}
        save_draft(session, values)  # kept, encrypted, whatever happens next
        alias = session.scene.alias
        action = form.get("action")
        goto = form.get("goto")
        if isinstance(goto, str) and goto:
            return redirect(f"/scene/{alias}/sheet?part={_part(goto)}")
        if action == "save":
            return redirect(f"/scene/{alias}/sheet?part={part}&saved=1")
        if action == "next":
            keys = [k for k, _, _ in PARTS]
            following = keys[keys.index(part) + 1] if part in keys[:-1] else part
            return redirect(f"/scene/{alias}/sheet?part={following}")
        _, errors = check_values(template, values)
        if errors:
            # Every part on one page, so each error in the summary links to its field.
            ctx = scene_context(session, problem) | form_context(session, values, "all")
            ctx |= {"errors": errors, "draft": True, "saved": False}
            return page(request, "sheet.html", ctx, status=400)
    return redirect(f"/scene/{alias}/sheet/check")


async def check(request: web.Request) -> web.StreamResponse:
    async with synced(request) as (session, problem):
        draft = load_draft(session)
        if draft is None:
            return redirect(f"/scene/{session.scene.alias}/sheet")
        parsed, _ = check_values(_template(session), draft)
        if parsed is None:
            return redirect(f"/scene/{session.scene.alias}/sheet")
        ctx = scene_context(session, problem) | {
            "rows": papers.sheet_rows(parsed),
            "sheet": parsed,
            "fid": field_id,
            "v": vocab.load(),
        }
    return page(request, "check.html", ctx)


async def send(request: web.Request) -> web.StreamResponse:
    from client.app.pages_scene import _done

    async def work(session: SceneSession) -> Any:
        draft = load_draft(session)
        parsed, _ = check_values(_template(session), draft or {})
        if parsed is None:
            from client.errors import ClientError

            raise ClientError("Your sheet has unanswered items; nothing was sent.")
        posted = await session.send(parsed)
        drop_draft(session)
        return posted

    posted = await sending(request, work)
    return _done(
        request,
        "Your boundary sheet is with the IC.",
        f"Encrypted to the IC only; no scene partner can open it. In the log at entry "
        f"{posted.receipt.index} (receipt checked). You can change it and send it again.",
    )
