"""What keeps strangers' web pages out of a server on 127.0.0.1 (loopback is no boundary).

- A single-use launch secret in the URL ``closedset app`` prints is exchanged, once, for a
  session cookie (HttpOnly, SameSite=Strict, named after the port: cookies are not scoped by
  port, so two apps on one host keep their sessions apart) and dropped from the URL.
- The ``Host`` header must be exactly ``127.0.0.1:PORT`` or ``localhost:PORT`` (DNS rebinding).
- Every state-changing request needs a same-origin ``Origin`` (see :func:`same_origin`) and the
  session's CSRF token.
- Every response carries a strict Content-Security-Policy, nosniff, no-referrer and no-store.
- Sessions end after ``session_seconds`` by the injected clock.
"""

from __future__ import annotations

import hmac
import secrets
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from aiohttp import web

CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self'; "
    "connect-src 'self'; font-src 'self'; object-src 'none'; base-uri 'none'; "
    "frame-ancestors 'none'; form-action 'self'"
)
HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
    "X-Frame-Options": "DENY",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Cross-Origin-Resource-Policy": "same-origin",
    "Permissions-Policy": "camera=(), microphone=(), geolocation=()",
}
SAFE_METHODS = frozenset({"GET", "HEAD"})
LAUNCH_PATH = "/launch"
# Reachable without a session: the launch exchange and the page that explains how to get in.
OPEN_PATHS = frozenset({LAUNCH_PATH, "/static/app.css"})


@dataclass
class Session:
    token: str
    csrf: str
    started: float


SESSION = web.RequestKey("session", Session)


@dataclass
class Gate:
    """The launch secret, the sessions it opened, and the rules every request passes."""

    port: int
    clock: Callable[[], float]
    session_seconds: float = 12 * 3600
    launch_secret: str | None = field(default_factory=lambda: secrets.token_urlsafe(32))
    sessions: dict[str, Session] = field(default_factory=dict)

    @property
    def cookie_name(self) -> str:
        return f"closedset-{self.port}"

    @property
    def hosts(self) -> frozenset[str]:
        return frozenset({f"127.0.0.1:{self.port}", f"localhost:{self.port}"})

    def launch_url(self) -> str:
        assert self.launch_secret is not None, "the launch secret was already used"
        return f"http://127.0.0.1:{self.port}{LAUNCH_PATH}?secret={self.launch_secret}"

    def new_launch_secret(self) -> str:
        """A fresh single-use secret (``closedset app`` prints a new address after expiry)."""
        self.launch_secret = secrets.token_urlsafe(32)
        return self.launch_url()

    def exchange(self, offered: str) -> Session | None:
        """The launch secret, once, for a new session; anything else opens nothing."""
        wanted = self.launch_secret
        if wanted is None or not hmac.compare_digest(offered.encode(), wanted.encode()):
            return None
        self.launch_secret = None
        session = Session(secrets.token_urlsafe(32), secrets.token_urlsafe(32), self.clock())
        self.sessions[session.token] = session
        return session

    def session_of(self, request: web.Request) -> Session | None:
        token = request.cookies.get(self.cookie_name)
        session = self.sessions.get(token or "")
        if session is None:
            return None
        if self.clock() - session.started > self.session_seconds:
            del self.sessions[session.token]
            return None
        return session

    def end(self, session: Session) -> None:
        self.sessions.pop(session.token, None)


def refusal(status: int, title: str, detail: str) -> web.Response:
    """A refusal as a small, self-contained page (no template: it must never fail)."""
    body = (
        "<!doctype html><html lang=en><meta charset=utf-8>"
        f"<title>{title} - Closed Set</title><link rel=stylesheet href=/static/app.css>"
        f"<main class=page><h1>{title}</h1><p>{detail}</p></main></html>"
    )
    return web.Response(status=status, text=body, content_type="text/html")


def same_origin(request: web.Request) -> bool:
    """The request comes from this app's own page: its ``Origin`` is this very address, or,
    as browsers send it under ``Referrer-Policy: no-referrer``, ``null`` with the browser's
    own ``Sec-Fetch-Site: same-origin`` (a header no page can set)."""
    origin = request.headers.get("Origin")
    if origin == f"http://{request.headers.get('Host')}":
        return True
    return origin == "null" and request.headers.get("Sec-Fetch-Site") == "same-origin"


def middleware(gate: Gate) -> Callable[..., Awaitable[web.StreamResponse]]:
    @web.middleware
    async def guard(
        request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
    ) -> web.StreamResponse:
        try:
            response = await _check(gate, request, handler)
        except web.HTTPException as exc:
            response = web.Response(status=exc.status, text=exc.text or exc.reason)
        for name, value in HEADERS.items():
            response.headers.setdefault(name, value)
        return response

    return guard


async def _check(
    gate: Gate,
    request: web.Request,
    handler: Callable[[web.Request], Awaitable[web.StreamResponse]],
) -> web.StreamResponse:
    if request.headers.get("Host") not in gate.hosts:
        return refusal(
            421,
            "Wrong address",
            "This app answers only at 127.0.0.1 or localhost on its own port.",
        )
    if request.path in OPEN_PATHS:
        return await handler(request)
    session = gate.session_of(request)
    if session is None:
        return refusal(
            403,
            "Open the app from its link",
            "This browser has no session with the app, or it ended. Run <code>closedset app"
            "</code> again and open the address it prints.",
        )
    request[SESSION] = session
    if request.method not in SAFE_METHODS and not same_origin(request):
        return refusal(403, "Refused", "The request did not come from this app's own page.")
    if request.method not in SAFE_METHODS:
        form = await request.post()
        token = form.get("csrf")
        if not isinstance(token, str) or not hmac.compare_digest(
            token.encode(), session.csrf.encode()
        ):
            return refusal(
                403, "Refused", "The form was out of date; go back, reload the page and try again."
            )
    return await handler(request)
