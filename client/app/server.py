"""The app's aiohttp application: the gate (security.py), the templates, the routes."""

from __future__ import annotations

import sys
import time
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import quote

import aiohttp_jinja2
import jinja2
from aiohttp import web

from client.app import pages_counsel, pages_me, pages_scene, pages_sheet
from client.app.common import GATE, STATE, Locked, page, redirect
from client.app.security import Gate, middleware, refusal
from client.app.state import DEFAULT_IDLE_SECONDS, AppState
from client.errors import ClientError
from keys.errors import KeysError
from keys.identity import Fingerprint

HERE = Path(__file__).parent


def make_app(
    home: Path,
    port: int,
    *,
    clock: Callable[[], float] = time.time,
    idle_seconds: float = DEFAULT_IDLE_SECONDS,
    session_seconds: float = 12 * 3600,
    passphrase: bytes | None = None,
) -> web.Application:
    """The app for the profile at ``home`` answering on ``port``; ``passphrase`` (from the
    environment or a file) unlocks at start only."""
    gate = Gate(port, clock, session_seconds)
    state = AppState(home, clock, idle_seconds)
    if passphrase is not None and state.has_identity():
        state.unlock(passphrase)
    app = web.Application(middlewares=[middleware(gate), errors], client_max_size=4 * 1024 * 1024)
    app[GATE] = gate
    app[STATE] = state
    env = aiohttp_jinja2.setup(
        app,
        loader=jinja2.FileSystemLoader(str(HERE / "templates")),
        autoescape=jinja2.select_autoescape(default=True),
    )
    env.filters["fingerprint"] = lambda key: Fingerprint.of(key).compact
    env.globals["zone_label"] = {"ok": "OK", "ask-first": "ask first", "never": "never"}
    app.router.add_get("/launch", launch)
    app.router.add_static("/static", HERE / "static", append_version=False)
    for module in (pages_me, pages_scene, pages_sheet, pages_counsel):
        module.routes(app)
    app.on_shutdown.append(_forget)
    return app


async def _forget(app: web.Application) -> None:
    app[STATE].lock()


async def launch(request: web.Request) -> web.StreamResponse:
    """The launch secret, once, for the session cookie; then the URL without it."""
    gate = request.app[GATE]
    session = gate.exchange(request.query.get("secret", ""))
    if session is None:
        return refusal(
            403,
            "This link was already used",
            "Each address <code>closedset app</code> prints opens the app once, in one browser. "
            "Run <code>closedset app</code> again for a new one.",
        )
    response = redirect("/")
    response.set_cookie(
        gate.cookie_name,
        session.token,
        httponly=True,
        samesite="Strict",
        path="/",
    )
    return response


@web.middleware
async def errors(request: web.Request, handler: Any) -> web.StreamResponse:
    """A locked profile goes to the unlock page; a refusal the library explains is one
    sentence on a page, never a traceback."""
    try:
        response: web.StreamResponse = await handler(request)
        return response
    except Locked:
        state = request.app[STATE]
        if request.method == "GET" and request.path not in ("/", "/unlock"):
            return redirect("/unlock?next=" + quote(request.path_qs, safe=""))
        return redirect("/unlock" if state.has_identity() else "/welcome")
    except (ClientError, KeysError) as exc:
        return page(
            request,
            "problem.html",
            {"heading": "That did not work", "message": str(exc)},
            status=400,
        )
    except web.HTTPException:
        raise
    except Exception:  # a bug of ours: the cause for developers, one calm sentence for people
        traceback.print_exc(file=sys.stderr)
        return page(
            request,
            "problem.html",
            {
                "heading": "Something went wrong in the app",
                "message": "This is a fault in Closed Set, not something you did. "
                "If you were sending something, the scene page shows whether it arrived. "
                "The details are in the window where the app runs.",
            },
            status=500,
        )
