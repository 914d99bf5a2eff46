"""Onboarding (identity, passphrase strength, backup), unlock and lock, the home page,
contacts and settings. The same library calls as `closedset id ...` and `contacts ...`."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import segno
import zxcvbn
from aiohttp import web

from client.app.common import form_text, page, profile_of, redirect, state_of
from client.app.state import writing
from client.contacts import Contacts
from client.errors import ClientError
from client.profile import CONTACTS_FILE, Profile
from client.scenes import RelayPins, SceneBook
from keys.errors import KeysError, WrongPassphraseError
from keys.identity import Fingerprint, safety_number

MIN_SCORE = 3  # zxcvbn: 3 = "safely unguessable: moderate protection from offline attacks"
SELF_ROLES = {
    "performer": "a performer",
    "ic": "an intimacy coordinator",
    "counsel": "counsel (a lawyer or union representative)",
}


def routes(app: web.Application) -> None:
    app.router.add_get("/", home)
    app.router.add_get("/welcome", welcome)
    app.router.add_post("/welcome", welcome_post)
    app.router.add_get("/backup", backup)
    app.router.add_post("/backup", backup_post)
    app.router.add_get("/unlock", unlock)
    app.router.add_post("/unlock", unlock_post)
    app.router.add_post("/lock", lock)
    app.router.add_get("/contacts", contacts)
    app.router.add_post("/contacts/verify", contacts_verify)
    app.router.add_get("/settings", settings)
    app.router.add_post("/settings", settings_post)
    app.router.add_get("/qr/{kind}/{fingerprint}.svg", qr)


def _safe_next(value: str) -> str:
    return value if value.startswith("/") and not value.startswith("//") else "/"


async def home(request: web.Request) -> web.StreamResponse:
    state = state_of(request)
    if not state.has_identity():
        return redirect("/welcome")
    profile_of(request)
    scenes = list(SceneBook(state.home))
    return page(request, "home.html", {"scenes": scenes})


# --- onboarding ------------------------------------------------------------------------------


def strength(passphrase: str, *hints: str) -> tuple[int, list[str]]:
    """zxcvbn's score (0-4) and its advice, with the person's own name and email as hints."""
    result = zxcvbn.zxcvbn(passphrase[:200], user_inputs=[h for h in hints if h])
    feedback = result.get("feedback") or {}
    advice = [feedback.get("warning") or "", *feedback.get("suggestions", [])]
    return int(result["score"]), [a for a in advice if a]


async def welcome(request: web.Request) -> web.StreamResponse:
    if state_of(request).has_identity():
        return redirect("/")
    return page(request, "welcome.html", {"values": {}, "roles": SELF_ROLES})


async def welcome_post(request: web.Request) -> web.StreamResponse:
    state = state_of(request)
    if state.has_identity():
        return redirect("/")
    form = await request.post()
    values = {k: form_text(form, k, 400) for k in ("name", "email", "role")}
    first, second = form_text(form, "passphrase", 1000), form_text(form, "repeat", 1000)
    errors: list[dict[str, str]] = []
    if not values["name"].strip():
        errors.append({"field": "name", "text": "Enter your name as others will see it."})
    if values["role"] not in SELF_ROLES:
        errors.append({"field": "role-performer", "text": "Choose how you describe yourself."})
    score, advice = strength(first, values["name"], values["email"])
    if len(first) < 8:
        errors.append(
            {"field": "passphrase", "text": "Enter a passphrase of 8 characters or more."}
        )
    elif score < MIN_SCORE:
        errors.append(
            {
                "field": "passphrase",
                "text": "That passphrase is too easy to guess. "
                + (" ".join(advice) or "Add another word or two: uncommon words are better."),
            }
        )
    elif first != second:
        errors.append({"field": "repeat", "text": "The two passphrases differ; type it again."})
    if errors:
        return page(
            request,
            "welcome.html",
            {"values": values, "roles": SELF_ROLES, "errors": errors},
            status=400,
        )
    async with writing(state.home):
        profile = Profile.create(
            state.home,
            first.encode(),
            name=values["name"].strip(),
            role=values["role"],  # type: ignore[arg-type]
            email=values["email"].strip() or None,
            now=int(state.clock()),
        )
    state.profile = profile
    state.last_active = state.clock()
    return redirect("/backup")


async def backup(request: web.Request) -> web.StreamResponse:
    profile_of(request)
    return page(request, "backup.html", {})


async def backup_post(request: web.Request) -> web.StreamResponse:
    profile = profile_of(request)
    form = await request.post()
    passphrase = form_text(form, "passphrase", 1000).encode()
    try:
        Profile.load(profile.home).unlock(passphrase).keystore.close()  # type: ignore[union-attr]
    except (KeysError, ClientError):
        errors = [{"field": "passphrase", "text": "That is not your passphrase; try again."}]
        return page(request, "backup.html", {"errors": errors}, status=400)
    assert profile.keystore is not None
    text = profile.keystore.export_backup(passphrase)
    return web.Response(
        body=text.encode("ascii"),
        content_type="application/octet-stream",
        headers={"Content-Disposition": 'attachment; filename="closedset-keys-backup.asc"'},
    )


# --- unlock and lock ---------------------------------------------------------------------------


async def unlock(request: web.Request) -> web.StreamResponse:
    state = state_of(request)
    if not state.has_identity():
        return redirect("/welcome")
    if state.unlocked() is not None:
        return redirect(_safe_next(request.query.get("next", "/")))
    name = Profile.load(state.home).history.name
    return page(request, "unlock.html", {"name": name, "next": request.query.get("next", "/")})


async def unlock_post(request: web.Request) -> web.StreamResponse:
    state = state_of(request)
    form = await request.post()
    target = _safe_next(form_text(form, "next", 400))
    try:
        state.unlock(form_text(form, "passphrase", 1000).encode())
    except (WrongPassphraseError, KeysError, ClientError):
        name = Profile.load(state.home).history.name
        errors = [{"field": "passphrase", "text": "That passphrase does not open your keys."}]
        return page(
            request, "unlock.html", {"name": name, "next": target, "errors": errors}, status=400
        )
    return redirect(target)


async def lock(request: web.Request) -> web.StreamResponse:
    state_of(request).lock()
    return redirect("/unlock")


# --- contacts and settings ---------------------------------------------------------------------


def contact_rows(profile: Profile) -> list[dict[str, Any]]:
    book = Contacts.load(profile.home / CONTACTS_FILE)
    return [
        {
            "name": c.name,
            "role": c.history.role,
            "fingerprint": c.fingerprint.grouped(),
            "compact": c.fingerprint.compact,
            "verified": c.verified,
            "safety_number": safety_number(profile.identity_key, c.history.identity_key),
        }
        for c in book
    ]


async def contacts(request: web.Request) -> web.StreamResponse:
    profile = profile_of(request)
    return page(request, "contacts.html", {"contacts": contact_rows(profile)})


async def contacts_verify(request: web.Request) -> web.StreamResponse:
    profile = profile_of(request)
    form = await request.post()
    async with writing(profile.home):
        book = Contacts.load(profile.home / CONTACTS_FILE)
        contact = book.find(form_text(form, "contact", 200))
        book.mark_verified(contact.history.identity_key)
        book.save()
    return redirect(_safe_next(form_text(form, "back", 400)) or "/contacts")


def mail_accounts(home: Path) -> list[tuple[str, str]]:
    """The mail account `closedset send` and `mail sync` use, as they read it (read-only)."""
    from client.mail.settings import imap_settings, smtp_settings

    rows: list[tuple[str, str]] = []
    try:
        smtp = smtp_settings(home)
        if smtp is not None:
            rows.append(("Sending (SMTP)", f"{smtp.user or '-'} at {smtp.host}:{smtp.port}"))
        imap = imap_settings(home)
        rows.append(("Reading (IMAP)", f"{imap.user} at {imap.host}:{imap.port}, {imap.folder}"))
    except ClientError as exc:
        if not rows:
            return []
        rows.append(("Reading (IMAP)", str(exc)))
    return rows


async def settings(request: web.Request) -> web.StreamResponse:
    profile = profile_of(request)
    state = state_of(request)
    pins = RelayPins(profile.home)
    return page(
        request,
        "settings.html",
        {
            "idle_minutes": int(state.idle_seconds // 60),
            "pins": sorted(pins._pins.items()),
            "home": str(profile.home),
            "fingerprint": profile.history.fingerprint.grouped(),
            "mail": mail_accounts(profile.home),
        },
    )


async def settings_post(request: web.Request) -> web.StreamResponse:
    profile_of(request)
    form = await request.post()
    text = form_text(form, "idle_minutes", 10)
    if not text.isdigit() or not 1 <= int(text) <= 240:
        errors = [{"field": "idle_minutes", "text": "Enter a number of minutes from 1 to 240."}]
        state = state_of(request)
        return page(
            request,
            "settings.html",
            {
                "idle_minutes": text,
                "pins": sorted(RelayPins(state.home)._pins.items()),
                "home": str(state.home),
                "fingerprint": state.profile.history.fingerprint.grouped() if state.profile else "",
                "mail": mail_accounts(state.home),
                "errors": errors,
            },
            status=400,
        )
    state_of(request).idle_seconds = int(text) * 60
    return redirect("/settings?saved=1")


async def qr(request: web.Request) -> web.StreamResponse:
    """A QR code of a fingerprint, or of the safety number with that person, as SVG."""
    profile = profile_of(request)
    try:
        other = Fingerprint.parse(request.match_info["fingerprint"])
    except KeysError as exc:
        raise web.HTTPNotFound() from exc
    kind = request.match_info["kind"]
    if kind == "fingerprint":
        text = other.grouped()
    elif kind == "safety":
        book = Contacts.load(profile.home / CONTACTS_FILE)
        contact = book.find(other.compact)
        text = safety_number(profile.identity_key, contact.history.identity_key)
    else:
        raise web.HTTPNotFound()
    out = io.BytesIO()
    segno.make(text, error="m").save(
        out, kind="svg", scale=4, xmldecl=False, svgns=True, title=None, desc=None, nl=False
    )
    return web.Response(body=out.getvalue(), content_type="image/svg+xml")
