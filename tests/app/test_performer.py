"""A performer's whole path in Chromium, against a real relay and a real app process; the IC
and the partner use the CLI in this process. Asserts on what the page shows and on what the
IC's CLI then sees; every page the performer opens is searched for the partner's and the
director's private words."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from client.demo.cast import Person, fill
from client.timefmt import iso
from tests.app.support import (
    SCREENSHOTS,
    InThread,
    app_process,
    axe_check,
    no_horizontal_scroll,
    shot,
)

DAY = 86400
STRONG = "violet anchor pebble drizzle"
MARKERS = {
    "you.pronouns": "MARK-pron-4e1",
    "signals.nonverbal": "MARK-nonverbal-9c2",
    "zone_notes.thighs": "MARK-zonenote-77a",
    "care.health": "MARK-health-c31",
    "care.aftercare": "MARK-aftercare-0bd",
    "care.notes": "MARK-notes-5f0",
}
COUNTER = "MARK-counter-a18"
BEN_REASON = "MARK-benreason-2d4"
REQUEST_NOTE = "MARK-director-e93"


@pytest.fixture(scope="module")
def world(relay: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    work = Path(tmp_path_factory.mktemp("people"))
    ic = InThread(Person("Ines Duarte", "ic", work / "ines"))
    ben = InThread(Person("Ben Okafor", "performer", work / "ben"))
    ic_id = ic.cli("id", "new", "--name", ic.name, "--role", "ic")
    ben.cli("id", "new", "--name", ben.name, "--role", "performer")
    call = ic.now() + 10 * DAY
    ic.cli(
        "scene", "new", "--relay", relay, "--title", "The Lighthouse", "--scene", "12",
        "--pages", "31-33", "--call-time", iso(call), "--description",
        "Ana and Ben's characters kiss in the lighthouse keeper's room.",
    )  # fmt: skip
    code_ana = ic.cli("scene", "invite", "scene-12", "--for", "Ana")["code"]
    code_ben = ic.cli("scene", "invite", "scene-12", "--for", "Ben")["code"]
    ben.cli("scene", "join", code_ben, "--alias", "lighthouse")
    with app_process(work / "ana", passphrase=None) as app:
        yield {
            "ic": ic, "ben": ben, "app": app, "code": code_ana, "work": work,
            "ic_fingerprint": ic_id["fingerprint"], "pages": [],
        }  # fmt: skip


def seen(world: dict[str, Any], page: Any, name: str, *, check_axe: bool = True) -> None:
    """Keep what the performer was shown; run axe on it."""
    world["pages"].append((name, page.url, page.content()))
    if check_axe:
        axe_check(page, name)


def test_a_performer_onboards_joins_fills_in_accepts_withdraws_checks_in_and_reports(
    browser: Any, world: dict[str, Any], tmp_path: Path
) -> None:
    ic, ben, app = world["ic"], world["ben"], world["app"]
    context = browser.new_context(viewport={"width": 1280, "height": 900}, accept_downloads=True)
    page = context.new_page()
    requests: list[str] = []
    page.on("request", lambda request: requests.append(request.url))
    page.goto(app.url)

    # --- onboarding: a weak passphrase is refused with zxcvbn's advice --------------------------
    page.get_by_label("Your name").fill("Ana Ruiz")
    page.get_by_label("I am a performer").check()
    page.get_by_label("Choose a passphrase").fill("password123")
    page.get_by_label("Type the passphrase again").fill("password123")
    page.get_by_role("button", name="Create my identity").click()
    assert page.title().startswith("Error: ")
    summary = page.locator("#error-summary")
    assert "too easy to guess" in summary.inner_text()
    page.wait_for_function("() => document.activeElement.id === 'error-summary'", timeout=5000)
    assert summary.locator("a").get_attribute("href") == "#passphrase"
    assert page.get_by_label("Your name").input_value() == "Ana Ruiz"  # nothing typed is lost
    seen(world, page, "onboarding-error")
    shot(page, "onboarding-error")
    page.get_by_label("Choose a passphrase").fill(STRONG)
    page.get_by_label("Type the passphrase again").fill(STRONG)
    page.get_by_role("button", name="Create my identity").click()

    # --- the backup prompt ---------------------------------------------------------------------
    assert page.locator("h1").inner_text() == "Save a backup of your keys"
    seen(world, page, "backup")
    page.get_by_label("Your passphrase").fill(STRONG)
    with page.expect_download() as download:
        page.get_by_role("button", name="Download the encrypted backup").click()
    saved = tmp_path / "backup.asc"
    download.value.save_as(saved)
    assert "BEGIN CLOSEDSET KEY BACKUP" in saved.read_text()
    assert STRONG not in saved.read_text()
    page.get_by_role("link", name="I will do this later").click()
    assert page.locator("h1").inner_text() == "Your scenes"

    # --- joining: fingerprint and safety number to compare -------------------------------------
    page.get_by_role("link", name="Join a scene with an invite code").click()
    # Pasted as it came in a message: the code is found in the text.
    page.get_by_label("Invite code").fill(f"Hi Ana, your code: {world['code']} (works once)")
    page.get_by_label("A short name for this scene").fill("lighthouse")
    page.get_by_role("button", name="Join the scene").click()
    assert page.locator("h1").inner_text() == "Check who invited you"
    assert page.locator("#fingerprint").inner_text() == world["ic_fingerprint"]
    number = page.locator("#safety-number").inner_text()
    assert re.fullmatch(r"[0-9 ]{60,80}", number), number
    page.wait_for_function(
        "() => [...document.querySelectorAll('img')].every(i => i.complete && i.naturalWidth > 0)"
    )
    seen(world, page, "joined")
    shot(page, "joined")
    page.get_by_role("button", name="The numbers match").click()
    assert page.url.endswith("/scene/lighthouse")

    # --- the IC sends the brief and the director's private requests; Ben his sheet -------------
    ic.cli("scene", "brief", "scene-12")
    ic.cli("scene", "requests", "scene-12", "--act", "open-mouth-kissing:Ana:Ben",
           "--note", REQUEST_NOTE)  # fmt: skip
    ben_sheet = ben.home / "sheet.toml"
    ben.cli("sheet", "template", "lighthouse", "--out", str(ben_sheet))
    answers = {"unanswered": "no", "acts.closed-mouth-kissing-lips.answer": "yes",
               "acts.hand-on-back.giving": "yes", "acts.hand-on-back.receiving": "yes",
               "zones.lips": "ok", "zones.back": "ok", "zones.hands": "ok",
               "care.check_in": "call", **MARKERS}  # fmt: skip
    ben_sheet.write_text(fill(ben_sheet.read_text(), answers))
    ben.cli("sheet", "submit", "lighthouse", str(ben_sheet))

    # --- the scene page, with a live update pushed by the relay --------------------------------
    page.reload()
    assert page.locator("h1").inner_text() == "Scene 12: The Lighthouse"
    assert "Ines Duarte" in page.locator(".facts").inner_text()
    assert "Ben Okafor" in page.locator(".facts").inner_text()
    assert "Fill in your boundary sheet" in page.locator(".next").inner_text()
    assert re.search(r"in the log at entry \d+", page.locator("#history").inner_text())
    page.wait_for_function("() => document.querySelector('#relay-banner').hidden")
    before = page.locator("#history li").count()
    ic.cli("scene", "brief", "scene-12", "--description", "A kiss, then an embrace.")
    page.wait_for_function(
        f"() => document.querySelectorAll('#history li').length > {before}", timeout=15000
    )
    seen(world, page, "scene")
    shot(page, "scene")

    # --- the sheet: the body map by keyboard only ----------------------------------------------
    # One part per page; each part's answers are kept (encrypted) when moving to another.
    page.get_by_role("link", name="Fill in your boundary sheet").click()
    assert page.locator("h1").inner_text() == "Your boundary sheet: You and your signals"
    page.get_by_label("Pronouns").fill("she/her")
    seen(world, page, "sheet-you")
    page.get_by_role("button", name="Save and continue: Acts").click()
    assert page.locator("h1").inner_text() == "Your boundary sheet: Acts"
    page.locator("input[name='acts.closed-mouth-kissing-lips.answer'][value='yes']").check()
    page.locator("input[name='acts.hand-on-back.giving'][value='yes']").check()
    page.locator("input[name='acts.hand-on-back.receiving'][value='ask-first']").check()
    page.locator("select[name='acts.hand-on-back.receiving_intensity']").select_option("3")
    seen(world, page, "sheet-acts")
    page.get_by_role("button", name="Save and continue: Body map").click()
    assert page.locator("h1").inner_text() == "Your boundary sheet: Body map"
    page.locator("#bodymap").wait_for(state="visible", timeout=5000)
    page.locator("h1").click()
    for _ in range(600):
        page.keyboard.press("Tab")
        if page.evaluate("document.activeElement.getAttribute('data-zone')") == "face":
            break
    else:
        raise AssertionError("the face zone cannot be reached with Tab")
    page.keyboard.press("Enter")
    assert page.locator("#zonepanel-title").inner_text() == "face: not answered"
    for _ in range(10):
        page.keyboard.press("Tab")
        if page.evaluate("document.activeElement.dataset.answer") == "never":
            break
    page.keyboard.press("Enter")
    page.keyboard.press("Tab")
    page.keyboard.type("no touching near the eyes")
    assert page.locator("input[name='zones.face'][value='never']").is_checked()
    assert page.locator("[data-note='face']").input_value() == "no touching near the eyes"
    assert "never" in (page.locator(".zone[data-zone='face']").get_attribute("aria-label") or "")

    # --- the body map by mouse, and the list beside it -----------------------------------------
    for zone, answer in (("lips", "OK"), ("back", "ask first"), ("hands", "OK")):
        page.locator(f".zone[data-zone='{zone}'] > :is(ellipse, rect)").first.click()
        page.locator("#zonepanel").get_by_role("button", name=answer, exact=True).click()
    assert page.locator("input[name='zones.lips'][value='ok']").is_checked()
    assert page.locator("input[name='zones.back'][value='ask-first']").is_checked()
    page.locator("#row-shoulders").get_by_label("OK").check()
    assert "a-ok" in (
        page.locator(".zone[data-zone='shoulders']").first.get_attribute("class") or ""
    )
    seen(world, page, "sheet-body")
    shot(page, "sheet-body-map")
    page.locator("#part-body").screenshot(path=str(SCREENSHOTS / "body-map.png"))
    # A draft is saved encrypted: no plaintext of it anywhere in the profile.
    page.get_by_role("button", name="Save draft").click()
    assert "Draft saved" in page.locator(".banner.ok").inner_text()
    assert page.locator("[data-note='face']").input_value() == "no touching near the eyes"
    for path in app.home.rglob("*"):
        if path.is_file():
            data = path.read_bytes()
            assert b"no touching near the eyes" not in data, path
            assert b"she/her" not in data, path
    # Straight to the last part (the parts list saves this page first), then check.
    page.get_by_role("button", name="Health and aftercare").click()
    assert page.locator("h1").inner_text() == "Your boundary sheet: Health and aftercare"
    page.locator("input[name='care.check_in'][value='message']").check()
    seen(world, page, "sheet-care")

    # --- the same checks as the CLI, next to the field -----------------------------------------
    page.get_by_role("button", name="Check my answers").click()
    assert page.title().startswith("Error: ")
    errors = page.locator("#error-summary a")
    hrefs = [errors.nth(i).get_attribute("href") for i in range(errors.count())]
    assert "#f-signals--nonverbal" in hrefs, hrefs
    assert page.locator("#f-signals--nonverbal-error").count() == 1
    seen(world, page, "sheet-errors")
    page.locator("#error-summary a[href='#f-signals--nonverbal']").click()
    assert page.evaluate("document.activeElement.id") == "f-signals--nonverbal"
    page.keyboard.type("two taps on the arm")
    page.get_by_label("Answer everything I leave empty").check()
    page.get_by_role("button", name="Check my answers").click()
    assert page.locator("h1").inner_text() == "Check your answers before sending"
    assert "the IC only" in page.locator("main").inner_text()
    body = page.locator("main").inner_text()
    assert "no touching near the eyes" in body
    seen(world, page, "check-answers")
    shot(page, "check-answers")
    page.get_by_role("button", name="Send my sheet to the IC").click()
    done = page.locator("main").inner_text()
    assert "Your boundary sheet is with the IC." in done
    assert re.search(r"entry \d+", done)
    seen(world, page, "sheet-sent")

    sheet = ic.cli("sheet", "show", "scene-12", "--performer", "Ana")
    zones = {z["zone"]: (z["answer"], z["note"]) for z in sheet["zones"]}
    assert zones["face"] == ("never", "no touching near the eyes")
    assert zones["lips"] == ("ok", None) and zones["back"][0] == "ask-first"
    assert zones["shoulders"][0] == "ok" and zones["genital-area"][0] == "never"
    acts = {(a["act"], a["direction"]): a for a in sheet["acts"]}
    assert acts[("hand-on-back", "receiving")]["answer"] == "ask-first"
    assert acts[("hand-on-back", "receiving")]["intensity"] == 3
    assert sheet["signals"]["nonverbal"] == "two taps on the arm"

    # --- the rider: a deliberate acceptance naming the version ---------------------------------
    rider_file = world["work"] / "rider.toml"
    ic.cli("rider", "template", "scene-12", "--out", str(rider_file))
    rider_file.write_text(fill(rider_file.read_text(), {"description": "A first kiss."}))
    ic.cli("rider", "propose", "scene-12", str(rider_file))
    ben.cli("rider", "counter", "lighthouse", "--comment", COUNTER)
    page.goto(f"{app.base}/scene/lighthouse")
    page.get_by_role("link", name="Read rider version 1").click()
    assert page.locator("h1").inner_text() == "Rider version 1"
    seen(world, page, "rider")
    shot(page, "rider")
    page.get_by_role("button", name="Accept version 1").click()
    assert "Tick the box" in page.locator("main").inner_text()  # nothing sent without it
    assert "Ana Ruiz" not in str(
        ic.cli("scene", "status", "scene-12")["versions"][0]["accepted_by"]
    )
    page.go_back()
    page.get_by_label("What would you like changed?").fill("Please add a closed-set list.")
    page.get_by_role("button", name="Send to the IC").click()
    assert "Your comments on version 1 are with the IC." in page.locator("h1").inner_text()
    counters = ic.cli("scene", "status", "scene-12")["counters"]
    assert any(c["by"] == "Ana Ruiz" and "closed-set list" in c["comments"] for c in counters)
    page.get_by_role("link", name="Rider", exact=True).click()
    page.get_by_label("I have read rider version 1 and I accept it").check()
    page.get_by_role("button", name="Accept version 1").click()
    assert "You accepted rider version 1." in page.locator("h1").inner_text()
    status = ic.cli("scene", "status", "scene-12")
    assert status["versions"][0]["accepted_by"] == ["Ana Ruiz"]

    # --- check-in after the shoot --------------------------------------------------------------
    ben.cli("rider", "accept", "lighthouse", "--yes")
    ic.cli("filmed", "scene-12")
    page.goto(f"{app.base}/scene/lighthouse/checkin")
    page.get_by_label("I am OK").check()
    page.get_by_label("Anything to add").fill("Tired but fine.")
    seen(world, page, "checkin")
    page.get_by_role("button", name="Send my check-in to the IC").click()
    assert "Your check-in is with the IC." in page.locator("h1").inner_text()
    assert ic.cli("scene", "status", "scene-12")["check_ins"][0]["by"] == "Ana Ruiz"

    # --- withdraw an item, from the scene page, in two actions ---------------------------------
    ben.cli("withdraw", "lighthouse", "--item", "act:hand-on-back:giving", "--reason", BEN_REASON)
    page.goto(f"{app.base}/scene/lighthouse")
    page.get_by_role("link", name="Withdraw consent").click()
    seen(world, page, "withdraw")
    shot(page, "withdraw")
    page.locator("input[name=item]").first.check()
    page.get_by_role("button", name="Withdraw what I ticked").click()
    told = page.locator("main").inner_text()
    assert "The IC was told" in told
    index = int(re.search(r"in the log at entry (\d+)", told).group(1))  # type: ignore[union-attr]
    seen(world, page, "withdrawn")
    shot(page, "withdrawn")
    withdrawals = ic.cli("scene", "status", "scene-12")["withdrawals"]
    assert any(w["by"] == "Ana Ruiz" and w["log_index"] == index for w in withdrawals)

    # --- report ----------------------------------------------------------------------------------
    page.get_by_role("link", name="Report", exact=True).click()
    page.get_by_label("A boundary was approached or misunderstood").check()
    page.get_by_label("In your own words").fill("A hand moved to my waist in take 3.")
    page.get_by_label("Ben Okafor").check()
    seen(world, page, "report")
    page.get_by_role("button", name="Send the report").click()
    assert "Your report is with the IC only." in page.locator("h1").inner_text()
    kinds = [row["kind"] for row in ic.cli("thread", "scene-12")]
    assert "report" in kinds and kinds.count("withdrawal") == 2
    seen(world, page, "report-sent")

    # --- lock and unlock; then withdraw everything with the keyboard alone, in two actions ---
    page.get_by_role("button", name="Lock").click()
    assert page.locator("h1").inner_text() == "Unlock your keys"
    seen(world, page, "unlock")
    page.get_by_label("Passphrase").fill(STRONG)
    page.keyboard.press("Enter")
    page.wait_for_url(app.base + "/")
    assert page.locator("h1").inner_text() == "Your scenes"
    page.goto(f"{app.base}/scene/lighthouse")

    def tab_to(predicate: str, limit: int = 80) -> None:
        for _ in range(limit):
            page.keyboard.press("Tab")
            if page.evaluate(predicate):
                return
        raise AssertionError(f"Tab never reached {predicate}")

    tab_to("() => document.activeElement.id === 'withdraw-link'")
    page.keyboard.press("Enter")
    page.wait_for_url("**/withdraw")
    tab_to("() => document.activeElement.id === 'withdraw-all'")
    page.keyboard.press("Enter")
    page.wait_for_url("**/done?*")
    assert "Withdrawn: the whole rider." in page.locator("h1").inner_text()
    assert any(w["items"] == ["the whole rider"] for w in
               ic.cli("scene", "status", "scene-12")["withdrawals"])  # fmt: skip

    # --- every page the performer can open, searched for the partner's and director's words ----
    for path in ("/", "/contacts", "/settings", "/scene/lighthouse", "/scene/lighthouse/rider",
                 "/scene/lighthouse/sheet", "/scene/lighthouse/withdraw",
                 "/scene/lighthouse/checkin", "/scene/lighthouse/report",
                 "/scene/lighthouse/history", "/scene/lighthouse/live"):  # fmt: skip
        page.goto(app.base + path)
        seen(world, page, path, check_axe=not path.endswith(("/history", "/live")))
    # The non-verbal signal is the one answer the rider shares on purpose (a partner must know
    # it); it may appear on the rider page only, as the IC's rider states it.
    shared = MARKERS["signals.nonverbal"]
    secrets = [m for m in MARKERS.values() if m != shared] + [COUNTER, BEN_REASON, REQUEST_NOTE]
    assert all(shared not in html for name, _, html in world["pages"] if "rider" not in name)
    for name, url, html in world["pages"]:
        for marker in secrets:
            assert marker not in html, f"{marker} shown on {name} ({url})"

    # Not one request of the whole path went to another origin.
    assert requests and all(u.startswith(app.base + "/") for u in requests), {
        u for u in requests if not u.startswith(app.base + "/")
    }

    # --- reflow: 360 px wide, and 1280 px at 200% zoom (640 CSS px at scale 2) -----------------
    cookies = context.cookies()
    for size, scale in (((360, 740), 1), ((640, 450), 2)):
        small = browser.new_context(
            viewport={"width": size[0], "height": size[1]}, device_scale_factor=scale
        )
        small.add_cookies(cookies)
        tab = small.new_page()
        for path in ("/", "/scene/lighthouse", "/scene/lighthouse/sheet",
                     "/scene/lighthouse/rider", "/scene/lighthouse/withdraw",
                     "/scene/lighthouse/report", "/contacts", "/settings", "/counsel"):  # fmt: skip
            tab.goto(app.base + path)
            no_horizontal_scroll(tab, f"{path} at {size[0]} px x{scale}")
            assert tab.locator("#withdraw-link").count() == (1 if "/scene/" in path else 0)
            if "/scene/" in path:
                assert tab.locator("#withdraw-link").is_visible()
        if size[0] == 360:
            tab.goto(app.base + "/scene/lighthouse")
            shot(tab, "scene-360px")
        small.close()
    context.close()


def test_counsel_verifies_a_good_bundle_and_a_tampered_one_without_an_identity(
    browser: Any, world: dict[str, Any], tmp_path: Path
) -> None:
    from tests.evidence.forge import dump, load, set_note

    ic = world["ic"]
    good = tmp_path / "lighthouse-evidence.json"
    ic.cli("evidence", "export", "scene-12", "--out", str(good))
    value = load(good.read_bytes())
    origin, size, *rest = value["log"]["checkpoint"].split("\n")
    set_note(value, "\n".join([origin, str(int(size) + 1), *rest]))
    bad = tmp_path / "tampered.json"
    bad.write_bytes(dump(value))
    with app_process(tmp_path / "counsel", passphrase=None) as counsel:
        context = browser.new_context(viewport={"width": 1280, "height": 900})
        page = context.new_page()
        page.goto(counsel.url)
        page.get_by_role("link", name="check a bundle").click()
        assert page.locator("h1").inner_text() == "Check an evidence bundle"
        axe_check(page, "counsel")
        page.get_by_label("The bundle file you were sent").set_input_files(str(good))
        page.get_by_label("Case name").fill("Lighthouse v. nobody")
        page.get_by_role("button", name="Check the bundle").click()
        verdict = page.locator("#verdict")
        assert verdict.locator(".verdict-word").inner_text() == "VERIFIED"
        assert "RESULT: VERIFIED" in page.locator("pre.report").inner_text()
        assert page.title().startswith("VERIFIED")
        axe_check(page, "counsel-verified")
        shot(page, "counsel-verified")
        page.get_by_label("The bundle file you were sent").set_input_files(str(bad))
        page.get_by_role("button", name="Check the bundle").click()
        assert verdict.locator(".verdict-word").inner_text() == "NOT VERIFIED"
        assert page.locator(".problems li").count() >= 1
        assert "RESULT: NOT VERIFIED" in page.locator("pre.report").inner_text()
        axe_check(page, "counsel-not-verified")
        shot(page, "counsel-not-verified")
        # The same report `closedset verify` prints.
        import io

        from client.cli.main import run

        out = io.StringIO()
        code = run(["verify", str(bad), "--home", str(tmp_path / "cli")], {}, stdout=out)
        assert code == 1 and "RESULT: NOT VERIFIED" in out.getvalue()
        context.close()
