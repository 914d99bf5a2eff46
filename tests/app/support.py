"""The app's browser tests: real relay and app processes, Debian's Chromium through Playwright,
axe-core injected with ``page.evaluate`` (the app's CSP forbids inline script)."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from axe_playwright_python.sync_playwright import Axe

from client.app.command import READY

CHROMIUM = "/usr/bin/chromium"
PASSPHRASE = "demo passphrase, not for real use"
SCREENSHOTS = Path(__file__).parent / "screenshots"
AXE = Axe()


@dataclass
class AppProcess:
    home: Path
    process: subprocess.Popen[str]
    url: str  # the launch address, with its single-use secret
    lines: list[str] = field(default_factory=list)

    @property
    def port(self) -> int:
        return int(self.url.split(":")[2].split("/")[0])

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"


@contextmanager
def app_process(home: Path, *, passphrase: str | None = PASSPHRASE) -> Iterator[AppProcess]:
    """``closedset app --no-browser`` in a child process; yields once it printed its address."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("CLOSEDSET_")}
    env["CLOSEDSET_HOME"] = str(home)
    if passphrase is not None:
        env["CLOSEDSET_PASSPHRASE"] = passphrase
    process = subprocess.Popen(
        [sys.executable, "-m", "client", "app", "--no-browser"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=env,
    )
    found: list[str] = []
    lines: list[str] = []
    ready = threading.Event()

    def read() -> None:
        assert process.stdout is not None
        for line in process.stdout:
            lines.append(line)
            if line.startswith(READY) and not found:
                found.append(line[len(READY) :].strip())
                ready.set()
        ready.set()

    threading.Thread(target=read, daemon=True).start()
    try:
        if not ready.wait(30) or not found:
            raise AssertionError("the app did not start: " + "".join(lines))
        yield AppProcess(home, process, found[0], lines)
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def axe_check(page: Any, name: str) -> None:
    """axe-core on the page as it is: no serious or critical violation."""
    results = AXE.run(page)
    bad = [
        f"{v['id']} ({v['impact']}): {v['help']} at {[n['target'] for n in v['nodes']][:3]}"
        for v in results.response["violations"]
        if v.get("impact") in ("serious", "critical")
    ]
    assert not bad, f"axe on {name}: " + "; ".join(bad)


def no_horizontal_scroll(page: Any, name: str) -> None:
    width = page.evaluate("document.documentElement.scrollWidth")
    inner = page.evaluate("window.innerWidth")
    assert width <= inner, f"{name} scrolls sideways: {width} > {inner} CSS px"


def shot(page: Any, name: str, *, full: bool = True) -> Path:
    SCREENSHOTS.mkdir(exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=full)
    return path


class InThread:
    """A demo Person whose commands run in a worker thread: Playwright's sync API keeps an
    event loop running in the test's thread, and each command runs its own."""

    def __init__(self, person: Any) -> None:
        self.person = person

    def cli(self, *args: str) -> Any:
        from concurrent.futures import ThreadPoolExecutor

        with ThreadPoolExecutor(1) as pool:
            return pool.submit(self.person.cli, *args).result()

    def __getattr__(self, name: str) -> Any:
        return getattr(self.person, name)
