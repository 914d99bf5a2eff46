"""The app in Chromium: a scene with a long history, against static HTML, and push delays.

    .venv/bin/python -m bench.app [--statements 200] [--rounds 7] [--json]

Setup: a real relay (``closedset relay serve`` in a child process), an IC and a performer
(real ``closedset`` commands), the brief, then ``--statements`` messages from the IC to the
performer, so the scene's history is long. The performer's ``closedset app`` runs in a child
process; Debian's Chromium (``/usr/bin/chromium``) drives it through Playwright.

1. Time to content: from ``page.goto`` to the page's load event with its content present
   (the scene page: its history list; the whole sheet on one page: the body map drawn), *cold* (the first load
   in a fresh browser context: the app syncs the thread from the relay) and *warm* (the
   median of ``--rounds`` further loads). Baseline: the scene page's own HTML, saved, served
   by a static aiohttp handler with the same stylesheet and script, loaded the same way in the
   same run. Goal: warm within 3x of the static page.
2. Push delay: with the scene page open, the IC posts one message; the time from just before
   the post until the new item is on the open page (the app relays the relay's push stream to
   the page, which fetches the history again), against the time until a bare push-stream
   subscriber of the relay (the performer's own ``RelayClient.stream``) hears of it; medians
   of ``--rounds`` messages.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from aiohttp import web

CHROMIUM = "/usr/bin/chromium"
HERE = Path(__file__).resolve().parent.parent / "client" / "app" / "static"


def _app(home: Path) -> tuple[subprocess.Popen[str], str]:
    from client.app.command import READY
    from client.demo.cast import DEMO_PASSPHRASE

    env = {k: v for k, v in os.environ.items() if not k.startswith("CLOSEDSET_")}
    env |= {"CLOSEDSET_HOME": str(home), "CLOSEDSET_PASSPHRASE": DEMO_PASSPHRASE}
    process = subprocess.Popen(
        [sys.executable, "-m", "client", "app", "--no-browser"],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env,
    )  # fmt: skip
    assert process.stdout is not None
    for line in process.stdout:
        if line.startswith(READY):
            threading.Thread(target=process.stdout.read, daemon=True).start()
            return process, line[len(READY) :].strip()
    raise SystemExit("the app did not start")


def _static_server(html: str) -> tuple[str, Any]:
    """The saved page, its stylesheet and script, from a plain aiohttp app in a thread."""
    ready = threading.Event()
    found: list[Any] = []

    def serve() -> None:
        async def page(request: web.Request) -> web.Response:
            return web.Response(text=html, content_type="text/html")

        async def main() -> None:
            app = web.Application()
            app.router.add_get("/", page)
            app.router.add_static("/static", HERE)
            runner = web.AppRunner(app)
            await runner.setup()
            site = web.TCPSite(runner, "127.0.0.1", 0)
            await site.start()
            port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
            stop = asyncio.Event()
            found.extend([f"http://127.0.0.1:{port}/", (asyncio.get_running_loop(), stop)])
            ready.set()
            await stop.wait()
            await runner.cleanup()

        asyncio.run(main())

    threading.Thread(target=serve, daemon=True).start()
    ready.wait(10)
    return found[0], found[1]


def _in_thread(coroutine: Any) -> Any:
    """asyncio.run in a worker thread: Playwright's sync API keeps a loop in this one."""
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, coroutine).result()


def _load(page: Any, url: str, ready: str) -> float:
    started = time.perf_counter()
    page.goto(url, wait_until="load")
    page.wait_for_selector(ready, state="attached")
    return time.perf_counter() - started


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="The app in Chromium: time to content, push.")
    parser.add_argument("--statements", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)

    from playwright.sync_api import sync_playwright

    from client.demo.cast import Person
    from client.demo.relay_process import embedded_relay
    from client.negotiate import scene_session
    from client.negotiation.statements import Message
    from client.relay_client import RelayClient
    from client.scenes import SceneBook
    from client.timefmt import iso

    results: dict[str, Any] = {"statements": args.statements, "rounds": args.rounds}
    with tempfile.TemporaryDirectory(prefix="closedset-bench-app-") as tmp_name:
        tmp = Path(tmp_name)
        with embedded_relay(tmp / "relay") as relay:
            ic = Person("Ines Duarte", "ic", tmp / "ines")
            ana = Person("Ana Ruiz", "performer", tmp / "ana")
            ic.cli("id", "new", "--name", ic.name, "--role", "ic")
            ana.cli("id", "new", "--name", ana.name, "--role", "performer")
            ic.cli("scene", "new", "--relay", relay, "--title", "The Lighthouse", "--scene",
                   "12", "--pages", "31-33", "--call-time", iso(ic.now() + 10 * 86400))  # fmt: skip
            code = ic.cli("scene", "invite", "scene-12")["code"]
            ana.cli("scene", "join", code, "--alias", "lighthouse")
            ic.cli("scene", "brief", "scene-12")
            ana_key = ana.profile().identity_key
            ic_profile = ic.profile()
            scene = SceneBook(ic.home).find("scene-12")

            async def post(count: int, start: int) -> None:
                async with scene_session(ic_profile, scene) as session:
                    for i in range(count):
                        await session.send(Message((ana_key,), f"Call sheet note {start + i}."))

            made = time.perf_counter()
            asyncio.run(post(args.statements, 0))
            results["setup_seconds"] = round(time.perf_counter() - made, 1)
            process, url = _app(ana.home)
            try:
                with sync_playwright() as p:
                    browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
                    context = browser.new_context()
                    page = context.new_page()
                    page.goto(url)
                    base = url.split("/launch")[0]
                    scene_url, sheet_url = (
                        f"{base}/scene/lighthouse",
                        f"{base}/scene/lighthouse/sheet?part=all",
                    )
                    results["scene_cold_s"] = _load(page, scene_url, "#history li")
                    warm = [_load(page, scene_url, "#history li") for _ in range(args.rounds)]
                    html = page.content()
                    results["scene_html_bytes"] = len(html.encode())
                    results["sheet_cold_s"] = _load(page, sheet_url, "#bodymap:not([hidden])")
                    sheet_warm = [
                        _load(page, sheet_url, "#bodymap:not([hidden])") for _ in range(args.rounds)
                    ]
                    static_url, (loop, stop) = _static_server(html)
                    static_page = browser.new_context().new_page()
                    results["static_cold_s"] = _load(static_page, static_url, "#history li")
                    static = [
                        _load(static_page, static_url, "#history li") for _ in range(args.rounds)
                    ]
                    loop.call_soon_threadsafe(stop.set)
                    results["scene_warm_s"] = statistics.median(warm)
                    results["sheet_warm_s"] = statistics.median(sheet_warm)
                    results["static_warm_s"] = statistics.median(static)
                    results["scene_warm_ratio"] = results["scene_warm_s"] / results["static_warm_s"]
                    results["sheet_warm_ratio"] = results["sheet_warm_s"] / results["static_warm_s"]

                    # Push delay: the open page against a bare push-stream subscriber.
                    page.goto(scene_url)
                    page.wait_for_function("() => document.querySelector('#relay-banner').hidden")
                    page.wait_for_timeout(500)  # the page's event stream is subscribed
                    page_delays, relay_delays = [], []
                    ana_profile = ana.profile()

                    async def one(i: int) -> tuple[float, float]:
                        listener = RelayClient(relay, ana_profile.signing_key())
                        async with listener, listener.stream() as events:
                            t0 = time.time()
                            await post(1, 10_000 + i)
                            async for _ in events:
                                return t0, time.time() - t0
                        raise AssertionError("the stream ended")

                    for i in range(args.rounds):
                        before = page.locator("#history li").count()
                        t0, relay_delay = _in_thread(one(i))
                        page.wait_for_function(
                            f"() => document.querySelectorAll('#history li').length > {before}"
                        )
                        shown = page.evaluate(
                            "() => Number(document.querySelector('#live').dataset.updated)"
                        )
                        page_delays.append(shown / 1000 - t0)
                        relay_delays.append(relay_delay)
                    results["page_push_s"] = statistics.median(page_delays)
                    results["relay_push_s"] = statistics.median(relay_delays)
                    results["push_ratio"] = results["page_push_s"] / results["relay_push_s"]
                    browser.close()
            finally:
                process.terminate()
                process.wait(timeout=10)
    if args.json:
        print(json.dumps(results, indent=2))
    else:
        r = {k: v * 1000 if k.endswith("_s") else v for k, v in results.items()}
        print(f"scene with {r['statements']} statements ({r['scene_html_bytes']} bytes of HTML)")
        print(f"  scene page: cold {r['scene_cold_s']:.0f} ms, warm {r['scene_warm_s']:.0f} ms"
              f" = {r['scene_warm_ratio']:.2f}x static (goal: within 3x)")  # fmt: skip
        print(f"  sheet form: cold {r['sheet_cold_s']:.0f} ms, warm {r['sheet_warm_s']:.0f} ms"
              f" = {r['sheet_warm_ratio']:.2f}x static")  # fmt: skip
        print(f"  static page of the same size: cold {r['static_cold_s']:.0f} ms,"
              f" warm {r['static_warm_s']:.0f} ms")  # fmt: skip
        print(f"  push: on the open page {r['page_push_s']:.0f} ms after the post,"
              f" relay's own stream {r['relay_push_s']:.0f} ms"
              f" = {r['push_ratio']:.2f}x")  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
