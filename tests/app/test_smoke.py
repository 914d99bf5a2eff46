"""Debian's Chromium under Playwright: it launches, screenshots, prints a PDF and runs axe,
against the real app process (Playwright does not promise Debian's build, so check first)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tests.app.support import app_process, axe_check, shot


def test_chromium_shows_the_app_prints_it_and_runs_axe(browser: Any, tmp_path: Path) -> None:
    with app_process(tmp_path / "new", passphrase=None) as app:
        context = browser.new_context()
        page = context.new_page()
        page.goto(app.url)
        # The launch secret was exchanged for the cookie and dropped from the address.
        assert page.url == f"{app.base}/welcome"
        assert page.locator("h1").inner_text() == "Create your identity"
        png = shot(page, "smoke-welcome")
        assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        pdf = page.pdf()
        assert pdf[:5] == b"%PDF-"
        axe_check(page, "welcome")
        context.close()
