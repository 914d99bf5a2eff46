"""The rider page holds the consent rules of the library: a "maybe" the performer answered is
confirmed explicitly before the app sends an acceptance (``consent.to_confirm``, as
``closedset rider accept`` applies it), and ask-first acts are marked. Real relay, real app
process, Chromium; the IC and the partner use the CLI in a worker thread."""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from tests.app.support import app_process, axe_check, shot
from tests.cli.kit import CliScene, act_block, answers

LYING = "lying-together-clothed"
NECK = "kissing-neck"
KISS = "closed-mouth-kissing-lips"
NOTE = "Discussed with Ana on Monday: side by side, no weight."


def in_thread(fn: Any, *args: Any) -> Any:
    """CLI commands run their own event loop; Playwright's sync API keeps one in this thread."""
    with ThreadPoolExecutor(1) as pool:
        return pool.submit(fn, *args).result()


def story(relay: str, tmp: Path) -> CliScene:
    s = CliScene(tmp, relay, None)
    s.open(["Ana", "Ben"])
    s.sheet("Ana", answers(**{f"acts__{KISS}__answer": "yes", f"acts__{LYING}__answer": "maybe",
                              f"acts__{NECK}__receiving": "ask-first"}))  # fmt: skip
    s.sheet("Ben", answers(**{f"acts__{KISS}__answer": "yes", f"acts__{LYING}__answer": "yes",
                              f"acts__{NECK}__giving": "yes"}))  # fmt: skip

    def full(t: str) -> str:
        t += act_block(LYING, "ana", "ben", ["back"], discussed=NOTE, intensity=2)
        return t + act_block(NECK, "ben", "ana", ["neck"], ask_first=True, intensity=2)

    code, _, err = s.propose(full)
    assert code == 0, err
    return s


@pytest.fixture(scope="module")
def scene(
    browser: Any, relay: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[dict[str, Any]]:
    s = in_thread(story, relay, Path(tmp_path_factory.mktemp("people")))
    with app_process(s["Ana"].home) as app:
        # The launch address works once: one browser context for the module.
        context = browser.new_context(viewport={"width": 1280, "height": 900})
        page = context.new_page()
        page.goto(app.url)
        yield {"s": s, "app": app, "page": page}
    

def test_a_maybe_is_confirmed_explicitly_before_the_app_sends_an_acceptance(
    browser: Any, scene: dict[str, Any]
) -> None:
    s, app, page = scene["s"], scene["app"], scene["page"]
    # The library's rule, the one the page must hold: Ana answered "maybe" to lying together.
    shown = in_thread(s["Ana"].cli, "rider", "show", s.mine)
    assert shown["to_confirm"] == [{"item": f"act:{LYING}", "discussed": NOTE}]
    page.goto(f"{app.base}/scene/{s.mine}/rider")
    assert page.locator("h1").inner_text() == "Rider version 1"
    # The "maybe" is named, with the IC's note of the discussion, and needs its own tick.
    maybes = page.locator("fieldset.maybes")
    assert "maybe" in maybes.locator("legend").inner_text()
    box = maybes.get_by_label("I agree to")
    assert box.count() == 1
    assert NOTE in maybes.inner_text() and "lying together" in maybes.inner_text().lower()
    assert page.locator("tr .maybe-mark").count() == 1
    axe_check(page, "rider-maybe")
    shot(page, "rider-maybe")
    # The version ticked but not the "maybe": refused in one sentence, nothing sent.
    before = in_thread(s.sent)
    page.get_by_label("I have read rider version 1 and I accept it").check()
    with page.expect_response(lambda r: r.url.endswith("/rider/accept")) as answer:
        page.get_by_role("button", name="Accept version 1").click()
    assert answer.value.status == 400
    main = page.locator("main").inner_text()
    assert 'which you answered "maybe"' in main and "Nothing was sent." in main, main
    assert "Traceback" not in page.content()
    assert in_thread(s.sent) == before
    assert in_thread(s.status)["versions"][0]["accepted_by"] == []
    # Confirmed explicitly: accepted, and the IC sees the signature.
    page.go_back()
    page.get_by_label("I have read rider version 1 and I accept it").check()
    maybes.get_by_label("I agree to").check()
    page.get_by_role("button", name="Accept version 1").click()
    assert "You accepted rider version 1." in page.locator("h1").inner_text()
    assert in_thread(s.status)["versions"][0]["accepted_by"] == ["Ana"]


def test_ask_first_acts_are_marked_on_the_rider_page(
    browser: Any, scene: dict[str, Any]
) -> None:
    s, app, page = scene["s"], scene["app"], scene["page"]
    page.goto(f"{app.base}/scene/{s.mine}/rider")
    rows = page.locator("#rider-acts tbody tr")
    marked = {
        rows.nth(i).locator("td").first.inner_text()
        for i in range(rows.count())
        if rows.nth(i).locator(".ask-first-mark").count()
    }
    assert len(marked) == 1, marked
    (name,) = marked
    assert "neck" in name.lower() and "Ask first" in name
    assert page.locator("tr.ask-first").count() == 1
    assert "Ask first" in page.locator("main .hint").first.inner_text()
    shot(page, "rider-ask-first")
