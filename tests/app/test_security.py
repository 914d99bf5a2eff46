"""The app's gate against strangers' web pages, over real sockets: wrong Host, cross-origin
POST, missing or wrong CSRF token, no or reused launch secret, an expired session (injected
clock), two apps on one host; the headers on every response; keys forgotten when locked."""

from __future__ import annotations

import re
import socket
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import aiohttp
import pytest
from aiohttp import web

from client.app.common import GATE, STATE
from client.app.security import CSP
from client.app.server import make_app
from client.profile import Profile

PASSPHRASE = b"violet anchor pebble drizzle"


class Clock:
    def __init__(self) -> None:
        self.now = 1_800_000_000.0

    def __call__(self) -> float:
        return self.now


@dataclass
class Running:
    app: web.Application
    port: int
    clock: Clock

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def origin(self) -> dict[str, str]:
        return {"Origin": self.base}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
async def started(tmp_path: Path) -> AsyncIterator[list[Running]]:
    runners, apps = [], []

    async def start(home: Path) -> Running:
        clock = Clock()
        port = _free_port()
        app = make_app(home, port, clock=clock, idle_seconds=600, session_seconds=3600)
        runner = web.AppRunner(app)
        await runner.setup()
        await web.TCPSite(runner, "127.0.0.1", port).start()
        runners.append(runner)
        running = Running(app, port, clock)
        apps.append(running)
        return running

    Profile.create(tmp_path / "a", PASSPHRASE, name="Ana Ruiz", role="performer", email=None, now=1)
    Profile.create(tmp_path / "b", PASSPHRASE, name="Ben Okafor", role="performer", email=None,
                   now=1)  # fmt: skip
    await start(tmp_path / "a")
    await start(tmp_path / "b")
    yield apps
    for runner in runners:
        await runner.cleanup()


def _session() -> aiohttp.ClientSession:
    # unsafe=True: aiohttp's jar otherwise refuses cookies from an IP address.
    return aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True))


async def _launched(client: aiohttp.ClientSession, app: Running) -> None:
    async with client.get(app.app[GATE].launch_url(), allow_redirects=False) as r:
        assert r.status == 303 and r.headers["Location"] == "/"
        cookie = r.headers["Set-Cookie"]
        assert f"closedset-{app.port}=" in cookie
        assert "HttpOnly" in cookie and "SameSite=Strict" in cookie


async def _csrf(client: aiohttp.ClientSession, app: Running, path: str = "/settings") -> str:
    async with client.get(app.base + path) as r:
        found = re.search(r'name="csrf" value="([^"]+)"', await r.text())
        assert found, path
        return found.group(1)


def _headers_ok(r: aiohttp.ClientResponse) -> None:
    assert r.headers["Content-Security-Policy"] == CSP
    assert "default-src 'self'" in CSP and "frame-ancestors 'none'" in CSP
    assert "form-action 'self'" in CSP and "unsafe" not in CSP
    assert r.headers["X-Content-Type-Options"] == "nosniff"
    assert r.headers["Referrer-Policy"] == "no-referrer"
    assert r.headers["Cache-Control"] == "no-store"


async def test_no_launch_secret_and_a_reused_one_open_nothing(started: list[Running]) -> None:
    a = started[0]
    async with _session() as stranger:
        async with stranger.get(a.base + "/") as r:
            assert r.status == 403 and "no session" in await r.text()
            _headers_ok(r)
        async with stranger.get(a.base + "/launch?secret=guess") as r:
            assert r.status == 403
    url = a.app[GATE].launch_url()
    async with _session() as first, first.get(url) as r:
        assert r.status == 200 and "secret" not in str(r.url)  # the secret left the URL
    async with _session() as second:
        async with second.get(url) as r:
            assert r.status == 403 and "already used" in await r.text()
        async with second.get(a.base + "/settings") as r:
            assert r.status == 403


async def test_wrong_host_is_refused_even_with_a_session(started: list[Running]) -> None:
    a = started[0]
    async with _session() as client:
        await _launched(client, a)
        for host in (f"evil.example:{a.port}", f"127.0.0.1:{a.port + 1}", "127.0.0.1", "localhost"):
            async with client.get(a.base + "/settings", headers={"Host": host}) as r:
                assert r.status == 421, host
                _headers_ok(r)
        async with client.get(a.base + "/settings", headers={"Host": f"localhost:{a.port}"}) as r:
            assert r.status == 200


async def test_changes_need_the_same_origin_and_the_csrf_token(started: list[Running]) -> None:
    a = started[0]
    state = a.app[STATE]
    state.unlock(PASSPHRASE)
    async with _session() as client:
        await _launched(client, a)
        token = await _csrf(client, a)
        tries = [
            ({"Origin": "http://evil.example"}, {"csrf": token, "idle_minutes": "99"}),
            ({"Origin": f"http://localhost:{a.port + 1}"}, {"csrf": token, "idle_minutes": "99"}),
            ({}, {"csrf": token, "idle_minutes": "99"}),  # no Origin at all
            ({"Origin": "null"}, {"csrf": token, "idle_minutes": "99"}),  # null, not same-origin
            (a.origin, {"idle_minutes": "99"}),  # no token
            (a.origin, {"csrf": token[:-2] + "xx", "idle_minutes": "99"}),  # wrong token
        ]
        for headers, form in tries:
            async with client.post(a.base + "/settings", data=form, headers=headers,
                                   allow_redirects=False) as r:  # fmt: skip
                assert r.status == 403, (headers, form)
                _headers_ok(r)
        assert state.idle_seconds == 600  # nothing changed
        async with client.post(a.base + "/lock", headers=a.origin, data={}) as r:
            assert r.status == 403
        assert state.profile is not None  # not even a lock without the token
        ok = {"Origin": "null", "Sec-Fetch-Site": "same-origin"}  # as Chromium sends it
        async with client.post(a.base + "/settings", data={"csrf": token, "idle_minutes": "99"},
                               headers=ok, allow_redirects=False) as r:  # fmt: skip
            assert r.status == 303
        assert state.idle_seconds == 99 * 60


async def test_sessions_expire_and_idle_keys_are_forgotten(started: list[Running]) -> None:
    a = started[0]
    state = a.app[STATE]
    async with _session() as client:
        await _launched(client, a)
        token = await _csrf(client, a, "/unlock")
        unlock = {"csrf": token, "passphrase": PASSPHRASE.decode()}
        async with client.post(a.base + "/unlock", headers=a.origin, data=unlock) as r:
            assert r.status == 200 and str(r.url) == a.base + "/"
        a.clock.now += 601  # idle past the limit: the keys are forgotten
        async with client.get(a.base + "/settings", allow_redirects=False) as r:
            assert r.status == 303 and r.headers["Location"].startswith("/unlock")
        assert state.profile is None
        wrong = {"csrf": token, "passphrase": "wrong passphrase"}
        async with client.post(a.base + "/unlock", headers=a.origin, data=wrong) as r:
            assert r.status == 400 and "does not open your keys" in await r.text()
            assert "Error: " in await r.text()
        a.clock.now += 3600  # the session itself ends
        async with client.get(a.base + "/unlock") as r:
            assert r.status == 403


async def test_two_apps_on_one_host_keep_their_sessions_apart(started: list[Running]) -> None:
    a, b = started
    async with _session() as client:  # one browser, both apps
        await _launched(client, a)
        await _launched(client, b)
        names = {c.key for c in client.cookie_jar}
        assert names == {f"closedset-{a.port}", f"closedset-{b.port}"}
        a_cookie = next(c.value for c in client.cookie_jar if c.key == f"closedset-{a.port}")
    async with _session() as other:
        # A's session token presented to B (under B's cookie name) opens nothing there.
        as_b = {"Cookie": f"closedset-{b.port}={a_cookie}"}
        async with other.get(b.base + "/settings", headers=as_b) as r:
            assert r.status == 403
        as_a = {"Cookie": f"closedset-{a.port}={a_cookie}"}
        async with other.get(a.base + "/settings", headers=as_a) as r:
            assert r.status in (200, 303)


async def test_every_response_carries_the_headers(started: list[Running]) -> None:
    a = started[0]
    a.app[STATE].unlock(PASSPHRASE)
    async with _session() as client:
        await _launched(client, a)
        for path in ("/", "/settings", "/contacts", "/join", "/counsel", "/static/app.css",
                     "/static/app.js", "/nowhere", "/scene/none", "/backup"):  # fmt: skip
            async with client.get(a.base + path, allow_redirects=False) as r:
                _headers_ok(r)
                assert r.status != 500, path


async def test_an_unreachable_relay_is_a_banner_and_a_refusal_never_an_error_page(
    started: list[Running],
) -> None:
    from client.scenes import SceneBook, SceneRef

    a = started[0]
    state = a.app[STATE]
    book = SceneBook(state.home)
    book.add(SceneRef("lighthouse", f"http://127.0.0.1:{_free_port()}", "A" * 22, "performer"))
    book.save()
    state.unlock(PASSPHRASE)
    async with _session() as client:
        await _launched(client, a)
        async with client.get(a.base + "/scene/lighthouse") as r:
            text = await r.text()
            assert r.status == 200
            assert "cannot be reached" in text and 'id="relay-banner"' in text
            assert 'id="relay-banner" class="banner warn" role="status"' in text  # not hidden
            assert 'id="withdraw-link"' in text
        token = await _csrf(client, a, "/scene/lighthouse/withdraw")
        async with client.post(a.base + "/scene/lighthouse/withdraw", headers=a.origin,
                               data={"csrf": token, "whole": "yes"}) as r:  # fmt: skip
            assert r.status == 400
            assert "nothing was sent" in await r.text()


async def test_a_passphrase_from_the_environment_unlocks_at_start_only(tmp_path: Path) -> None:
    Profile.create(tmp_path / "c", PASSPHRASE, name="Cy", role="performer", email=None, now=1)
    port = _free_port()
    app = make_app(tmp_path / "c", port, clock=Clock(), passphrase=PASSPHRASE)
    assert app[STATE].profile is not None  # unlocked at start
    runner = web.AppRunner(app)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    running = Running(app, port, Clock())
    try:
        async with _session() as client:
            await _launched(client, running)
            token = await _csrf(client, running)
            async with client.post(running.base + "/lock", headers=running.origin,
                                   data={"csrf": token}, allow_redirects=False) as r:  # fmt: skip
                assert r.status == 303
            assert app[STATE].profile is None
            async with client.get(running.base + "/", allow_redirects=False) as r:
                assert r.status == 303 and r.headers["Location"] == "/unlock"
    finally:
        await runner.cleanup()


async def test_settings_show_the_mail_account_and_never_a_password(started: list[Running]) -> None:
    a = started[0]
    state = a.app[STATE]
    (state.home / "config.toml").write_text(
        '[smtp]\nhost = "smtp.example.org"\nuser = "ana@example.org"\n'
        '[imap]\nhost = "imap.example.org"\nuser = "ana@example.org"\n'
    )
    state.unlock(PASSPHRASE)
    async with _session() as client:
        await _launched(client, a)
        async with client.get(a.base + "/settings") as r:
            text = await r.text()
    assert "ana@example.org at smtp.example.org:587" in text
    assert "ana@example.org at imap.example.org:993, INBOX" in text
    assert "password" not in text.lower().replace("passwords are never stored", "")
