"""``closedset demo --app``: the demo's story, then each person's app over the demo's relay;
every printed address opens that person's pages in Chromium."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import threading
from typing import Any

from tests.app.support import axe_check

URL = re.compile(r"^  (?P<name>[A-Z][\w ]+): (?P<url>http://127\.0\.0\.1:\d+/launch\?secret=\S+)$")


def test_demo_app_prints_addresses_that_open_each_persons_pages(browser: Any) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CLOSEDSET_")}
    process = subprocess.Popen(
        [sys.executable, "-m", "client", "demo", "--app"],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env,
    )  # fmt: skip
    found: dict[str, str] = {}
    output: list[str] = []
    ready = threading.Event()

    def read() -> None:
        assert process.stdout is not None
        for line in process.stdout:
            output.append(line)
            match = URL.match(line.rstrip("\n"))
            if match:
                found[match["name"]] = match["url"]
            if len(found) == 3:
                ready.set()
        ready.set()

    threading.Thread(target=read, daemon=True).start()
    try:
        assert ready.wait(240) and len(found) == 3, "".join(output)
        assert set(found) == {"Ines Duarte", "Ana Ruiz", "Ben Okafor"}
        for name, url in found.items():
            context = browser.new_context()
            page = context.new_page()
            page.goto(url)
            assert page.locator("h1").inner_text() == "Your scenes"
            alias = "scene-12" if name == "Ines Duarte" else "lighthouse"
            page.get_by_role("link", name=alias).click()
            assert page.locator("h1").inner_text() == "Scene 12: The Lighthouse"
            assert name in page.locator("main").inner_text() or name == "Ines Duarte"
            axe_check(page, f"demo scene page of {name}")
            context.close()
    finally:
        process.terminate()
        process.wait(timeout=20)
