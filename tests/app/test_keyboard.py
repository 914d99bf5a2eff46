"""The performer's whole path with the keyboard alone: onboard, join, fill in the sheet with the
body map, send it, read and accept the rider, withdraw an item, check in and report. The page
is driven only through ``page.keyboard`` (Tab, Shift+Tab, Enter, Space, arrow keys); focus is
read with ``page.evaluate`` to know where Tab landed. Asserts on what the IC's CLI then sees,
against a real relay and a real app process."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from client.demo.cast import Person, fill
from client.negotiation import vocabulary as vocab
from client.timefmt import iso
from tests.app.support import SCREENSHOTS, InThread, app_process, shot

DAY = 86400
STRONG = "violet anchor pebble drizzle"
ALIAS = "lighthouse"


@pytest.fixture(scope="module")
def world(relay: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    work = Path(tmp_path_factory.mktemp("people"))
    ic = InThread(Person("Ines Duarte", "ic", work / "ines"))
    ben = InThread(Person("Ben Okafor", "performer", work / "ben"))
    ic.cli("id", "new", "--name", ic.name, "--role", "ic")
    ben.cli("id", "new", "--name", ben.name, "--role", "performer")
    ic.cli(
        "scene", "new", "--relay", relay, "--title", "The Lighthouse", "--scene", "12",
        "--pages", "31-33", "--call-time", iso(ic.now() + 10 * DAY), "--description",
        "Ana and Ben's characters kiss in the lighthouse keeper's room.",
    )  # fmt: skip
    code_ana = ic.cli("scene", "invite", "scene-12", "--for", "Ana")["code"]
    code_ben = ic.cli("scene", "invite", "scene-12", "--for", "Ben")["code"]
    ben.cli("scene", "join", code_ben, "--alias", ALIAS)
    with app_process(work / "ana", passphrase=None) as app:
        yield {"ic": ic, "ben": ben, "app": app, "code": code_ana, "work": work}


class Keys:
    """A person at the keyboard: moves focus with Tab or Shift+Tab, acts with Enter or Space,
    picks radio buttons with the arrow keys. Nothing here clicks or fills."""

    def __init__(self, page: Any) -> None:
        self.page = page

    def on(self, selector: str) -> bool:
        return bool(
            self.page.evaluate(
                "s => document.activeElement !== null && document.activeElement.matches(s)",
                selector,
            )
        )

    def to(self, selector: str, *, back: bool = False, limit: int = 600) -> None:
        """Tab (or Shift+Tab) until the focused element matches ``selector``."""
        for _ in range(limit):
            if self.on(selector):
                assert self.focus_shown(), f"{selector} has no visible focus on {self.page.url}"
                return
            self.page.keyboard.press("Shift+Tab" if back else "Tab")
        raise AssertionError(f"the keyboard never reaches {selector} on {self.page.url}")

    def focus_shown(self) -> bool:
        """The focused control shows it (WCAG 2.4.7): an outline or ring, or, for a zone of the
        body map, its shape's thick stroke."""
        return bool(
            self.page.evaluate(
                """() => {
                  const e = document.activeElement;
                  if (e.matches('.zone')) {
                    const shape = e.querySelector('ellipse, rect');
                    return parseFloat(getComputedStyle(shape).strokeWidth) >= 4;
                  }
                  const s = getComputedStyle(e);
                  return s.outlineStyle !== 'none' || s.boxShadow !== 'none';
                }"""
            )
        )

    def type(self, selector: str, text: str, **kw: Any) -> None:
        self.to(selector, **kw)
        self.page.keyboard.type(text)

    def press(self, selector: str, key: str = "Enter", **kw: Any) -> None:
        self.to(selector, **kw)
        self.page.keyboard.press(key)

    def choose(self, name: str, value: str, **kw: Any) -> None:
        """A radio group: Tab into it, then arrow keys to the answer (which they also select)."""
        self.to(f"input[type=radio][name='{name}']", **kw)
        for _ in range(12):
            if self.on(f"input[value='{value}']"):
                if not self.on(":checked"):
                    self.page.keyboard.press("Space")
                assert self.on(":checked")
                return
            self.page.keyboard.press("ArrowDown")
        raise AssertionError(f"the arrow keys never reach {value} in {name}")

    def submit(self, selector: str, **kw: Any) -> None:
        """Enter on a button or link, waiting for the page it loads."""
        with self.page.expect_navigation():
            self.press(selector, **kw)


def test_the_performers_whole_path_works_with_the_keyboard_alone(
    browser: Any, world: dict[str, Any]
) -> None:
    ic, ben, app = world["ic"], world["ben"], world["app"]
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    k = Keys(page)
    page.goto(app.url)
    h1 = page.locator("h1")

    # --- onboarding ----------------------------------------------------------------------------
    k.type("#name", "Ana Ruiz")
    k.choose("role", "performer")
    k.type("#passphrase", STRONG)
    k.type("#repeat", STRONG)
    with page.expect_navigation():
        page.keyboard.press("Enter")  # Enter in a field sends its form
    assert h1.inner_text() == "Save a backup of your keys"
    k.submit("#later")
    assert h1.inner_text() == "Your scenes"

    # --- joining -------------------------------------------------------------------------------
    k.submit("main a[href='/join']")
    k.type("#code", world["code"])
    k.type("#alias", ALIAS)
    with page.expect_navigation():
        page.keyboard.press("Enter")
    assert h1.inner_text() == "Check who invited you"
    k.submit("main button[type=submit]")
    assert page.url.endswith(f"/scene/{ALIAS}")
    ic.cli("scene", "brief", "scene-12")
    ben_sheet = ben.home / "sheet.toml"
    ben.cli("sheet", "template", ALIAS, "--out", str(ben_sheet))
    ben_sheet.write_text(fill(ben_sheet.read_text(), {
        "unanswered": "no", "acts.closed-mouth-kissing-lips.answer": "yes",
        "acts.hand-on-back.giving": "yes", "acts.hand-on-back.receiving": "yes",
        "zones.lips": "ok", "zones.back": "ok", "zones.hands": "ok", "care.check_in": "call",
        "you.pronouns": "he/him", "signals.nonverbal": "a raised hand",
    }))  # fmt: skip
    ben.cli("sheet", "submit", ALIAS, str(ben_sheet))
    page.reload()

    # --- the sheet, part by part ---------------------------------------------------------------
    k.submit(f"a[href='/scene/{ALIAS}/sheet']")
    assert h1.inner_text() == "Your boundary sheet: You and your signals"
    k.type("[name='you.pronouns']", "she/her")
    k.type("[name='signals.nonverbal']", "two taps on the arm")
    k.submit("#next-part")
    assert h1.inner_text() == "Your boundary sheet: Acts"
    # The acts come under the vocabulary's groups, in plain words.
    groups = vocab.load().act_groups()
    titles = page.locator("#part-acts .group-title")
    assert titles.all_inner_texts() == [g for g, _ in groups]
    for i, (_, acts) in enumerate(groups, 1):
        assert page.locator(f"#group-{i} .act h4").all_inner_texts() == [a.name for a in acts]
    page.locator("#group-1").screenshot(path=str(SCREENSHOTS / "sheet-acts-group.png"))
    k.choose("acts.closed-mouth-kissing-lips.answer", "yes")
    k.choose("acts.hand-on-back.giving", "yes")
    k.choose("acts.hand-on-back.receiving", "ask-first")
    # Shift+Tab back up to the first answer: "no" is as easy to reach as "yes".
    k.choose("acts.closed-mouth-kissing-lips.answer", "yes", back=True)
    k.submit("#next-part")
    assert h1.inner_text() == "Your boundary sheet: Body map"
    page.locator("#bodymap").wait_for(state="visible", timeout=5000)
    for zone, answer in (("lips", "ok"), ("hands", "ok"), ("back", "ask-first"), ("face", "never")):
        k.press(f"g.zone[data-zone='{zone}']")
        assert page.locator("#zonepanel-title").inner_text().startswith(zone)
        k.press(f"#zonepanel [data-answer='{answer}']")
        assert page.locator(f"input[name='zones.{zone}'][value='{answer}']").is_checked()
    page.keyboard.press("Tab")
    assert k.on("#zonepanel-note")
    page.keyboard.type("no touching near the eyes")
    # The list beside the drawing, by keyboard too.
    k.choose("zones.shoulders", "ok")
    k.submit("#next-part")
    while h1.inner_text() != "Your boundary sheet: Health and aftercare":
        k.submit("#next-part")
    k.choose("care.check_in", "message")
    k.press("#unanswered", "Space")
    assert page.locator("#unanswered").is_checked()
    k.submit("#check-answers")
    assert h1.inner_text() == "Check your answers before sending", page.locator("main").inner_text()
    assert "no touching near the eyes" in page.locator("main").inner_text()
    shot(page, "keyboard-check-answers")
    k.submit("#send-sheet")
    assert "Your boundary sheet is with the IC." in page.locator("main").inner_text()

    sheet = ic.cli("sheet", "show", "scene-12", "--performer", "Ana")
    zones = {z["zone"]: (z["answer"], z["note"]) for z in sheet["zones"]}
    assert zones["face"] == ("never", "no touching near the eyes")
    assert zones["lips"][0] == "ok" and zones["back"][0] == "ask-first"
    assert zones["shoulders"][0] == "ok" and zones["genital-area"][0] == "never"
    acts = {(a["act"], a["direction"]): a["answer"] for a in sheet["acts"]}
    assert acts[("hand-on-back", "receiving")] == "ask-first"
    assert acts[("closed-mouth-kissing-lips", "mutual")] == "yes"
    assert sheet["signals"]["nonverbal"] == "two taps on the arm"

    # --- the rider: read and accept ------------------------------------------------------------
    rider_file = world["work"] / "rider.toml"
    ic.cli("rider", "template", "scene-12", "--out", str(rider_file))
    rider_file.write_text(fill(rider_file.read_text(), {"description": "A first kiss."}))
    ic.cli("rider", "propose", "scene-12", str(rider_file))
    page.reload()
    k.submit(f"a[href='/scene/{ALIAS}/rider']")
    assert h1.inner_text() == "Rider version 1"
    k.press("#confirm", "Space")
    k.submit("#accept")
    assert "You accepted rider version 1." in h1.inner_text()
    assert ic.cli("scene", "status", "scene-12")["versions"][0]["accepted_by"] == ["Ana Ruiz"]

    # --- check in after the shoot --------------------------------------------------------------
    ben.cli("rider", "accept", ALIAS, "--yes")
    ic.cli("filmed", "scene-12")
    k.submit(f"a[href='/scene/{ALIAS}/checkin']")
    k.choose("status", "ok")
    k.type("#note", "Tired but fine.")
    k.submit("main button[type=submit]")
    assert "Your check-in is with the IC." in h1.inner_text()
    check_ins = ic.cli("scene", "status", "scene-12")["check_ins"]
    assert check_ins[0]["by"] == "Ana Ruiz"

    # --- withdraw an item ----------------------------------------------------------------------
    k.submit("#withdraw-link")
    k.press("input[name=item]", "Space")
    k.type("#reason", "Changed my mind.")
    k.submit("#withdraw-items")
    told = page.locator("main").inner_text()
    assert "The IC was told" in told
    index = int(re.search(r"in the log at entry (\d+)", told).group(1))  # type: ignore[union-attr]
    withdrawals = ic.cli("scene", "status", "scene-12")["withdrawals"]
    assert any(w["by"] == "Ana Ruiz" and w["log_index"] == index for w in withdrawals)

    # --- report --------------------------------------------------------------------------------
    k.submit(f"a[href='/scene/{ALIAS}/report']")
    k.choose("kind", "crossing")
    k.type("#what", "A hand moved to my waist in take 3.")
    # Ben, wherever the brief lists him (reading the page, not driving it).
    ben_box = page.evaluate(
        "() => [...document.querySelectorAll('label')].find(l => l.textContent.trim() === "
        "'Ben Okafor').htmlFor"
    )
    k.press(f"#{ben_box}", "Space")
    assert page.locator(f"#{ben_box}").is_checked()
    k.choose("anonymity", "named")
    k.submit("main button[type=submit]")
    assert "Your report is with the IC only." in h1.inner_text(), page.locator("main").inner_text()
    rows = ic.cli("thread", "scene-12")
    assert [r["kind"] for r in rows].count("report") == 1
    shot(page, "keyboard-report-sent")
    context.close()
