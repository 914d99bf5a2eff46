"""What every page handler shares: the app's state, rendering, redirects, the unlocked profile."""

from __future__ import annotations

from typing import Any

import aiohttp_jinja2
from aiohttp import web

from client.app.security import SESSION, Gate
from client.app.state import AppState
from client.profile import Profile

GATE = web.AppKey("gate", Gate)
STATE = web.AppKey("state", AppState)


class Locked(Exception):
    """The page needs the unlocked profile (or an identity that does not exist yet)."""


def redirect(location: str) -> web.Response:
    """303 See Other: after a POST, the browser's back button shows the page as it was."""
    return web.Response(status=303, headers={"Location": location})


def state_of(request: web.Request) -> AppState:
    return request.app[STATE]


def profile_of(request: web.Request) -> Profile:
    """The unlocked profile; :class:`Locked` sends the person to unlock (or onboarding)."""
    profile = state_of(request).unlocked()
    if profile is None:
        raise Locked()
    return profile


def form_text(form: Any, name: str, limit: int = 20000) -> str:
    value = form.get(name, "")
    return value[:limit] if isinstance(value, str) else ""


def page(
    request: web.Request, template: str, context: dict[str, Any], *, status: int = 200
) -> web.Response:
    """Render ``template`` with what every page needs (the CSRF token, who is unlocked)."""
    state = request.app[STATE]
    session = request.get(SESSION)
    base: dict[str, Any] = {
        "csrf": session.csrf if session is not None else "",
        "me": state.profile.history if state.profile is not None else None,
        "errors": [],
        "title_prefix": "",
    }
    base |= context
    if base["errors"]:
        base["title_prefix"] = "Error: "
    response: web.Response = aiohttp_jinja2.render_template(template, request, base, status=status)
    return response
