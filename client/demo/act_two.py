"""The demo, second half: rider v1 from the overlap, a counter, v2, a refused stale acceptance,
agreement, a withdrawal the IC is told of, v3 without the withdrawn item, filming, the
check-in, and a privacy check of everything each performer's own profile can decrypt."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from client.demo.act_one import BEN_PRIVATE
from client.demo.cast import Person, add_act, edit_act, fill
from client.demo.scenario import LIGHTHOUSE, SCENE, Cast, StepFn
from client.exposure import readable
from client.negotiation import vocabulary as vocab
from client.negotiation.brief import SceneRequests
from client.negotiation.sheet import BoundarySheet
from client.negotiation.statements import CheckIn, Counter, Withdrawal
from client.scenes import THREADS_DIR, ThreadCache
from keys.encoding import b64u_decode
from keys.envelope import BUCKETS

NECK = "kissing-neck"
LYING = "lying-together-clothed"
DISCUSSED = "Discussed with each of you on Tuesday: lying side by side, clothed, no weight."


def _propose(c: Cast, version: int, edit: object) -> dict[str, object]:
    path = c.workdir / f"rider-v{version}.toml"
    c.ic.cli("rider", "template", SCENE, "--out", str(path))
    path.write_text(edit(path.read_text()))  # type: ignore[operator]
    sent = c.ic.cli("rider", "propose", SCENE, str(path))
    assert sent["version"] == version, sent
    return dict(sent)


def rider_v1(c: Cast) -> str:
    description = "A first kiss at the lighthouse window, framed from the shoulders up."
    _propose(c, 1, lambda text: fill(text, {"description": description}))
    shown = c.ana.cli("rider", "show", LIGHTHOUSE)
    ids = {a["act"] for a in shown["acts"]}
    assert "open-mouth-kissing" not in ids, "a conflict made it into the rider"
    acts = sorted(vocab.load().acts[a].name for a in ids)
    return (
        f"Drafted from the overlap: only what both agreed in each direction: {', '.join(acts)}.\n"
        "Sent to everyone; Ana and Ben each read it with `closedset rider show`."
    )


def counter(c: Cast) -> str:
    c.ben.cli(
        "rider",
        "counter",
        LIGHTHOUSE,
        "--comment",
        "Please cap the embrace at intensity 3; my left shoulder is sore.",
    )
    return "Encrypted to Ines only: Ana never sees Ben's counter."


def refused_item(c: Cast) -> str:
    # The director asked for an open-mouth kiss; Ben answered "no". The rider cannot hold it.
    path = c.workdir / "rider-v2-wider.toml"
    c.ic.cli("rider", "template", SCENE, "--out", str(path))
    path.write_text(
        add_act(path.read_text(), "open-mouth-kissing", "ana-ruiz", "ben-okafor", ["lips"])
    )
    before = len(c.ic.cli("thread", SCENE))
    error = c.ic.refused("rider", "propose", SCENE, str(path))
    assert 'open-mouth kissing for Ben Okafor, who answered "no"' in error, error
    assert len(c.ic.cli("thread", SCENE)) == before, "a refused rider was sent"
    return (
        f"Refused before anything was sent:\n  {error}\n"
        "Only Ines sees this sentence; Ana is never told what Ben refused."
    )


def rider_v2(c: Cast) -> str:
    def edit(text: str) -> str:
        text = edit_act(text, "embrace-clothed", intensity=3)
        # The director drops Ana's bare back for now (it comes back, late, in version 3).
        text = fill(text, {"performers.ana-ruiz.nudity": []})
        # Ana answered "ask first" to a kiss on her neck; Ines asked her, and she agreed. The
        # act carries the ask-first marker: Ines asks again before each take.
        text = add_act(text, NECK, "ben-okafor", "ana-ruiz", ["neck"], ask_first=True)
        # Both answered "maybe" to lying together; Ines discussed it with each of them.
        return add_act(
            text,
            LYING,
            "ana-ruiz",
            "ben-okafor",
            ["back", "legs"],
            discussed=DISCUSSED,
            intensity=3,
        )

    _propose(c, 2, edit)
    changes = c.ic.cli("rider", "diff", SCENE)["changes"]
    effects = {ch["effect"] for ch in changes}
    assert {"widens", "narrows"} <= effects, changes
    return "\n".join(f"{ch['effect']}: {ch['text']}" for ch in changes)


def stale_accept(c: Cast) -> str:
    error = c.ana.refused("rider", "accept", LIGHTHOUSE, "--version", "1", "--yes")
    assert "superseded" in error, error
    return f"Refused before anything was sent: {error}"


def _status(p: Person, alias: str) -> dict[str, Any]:
    return dict(p.cli("scene", "status", alias))


def agree(c: Cast, version: int) -> str:
    for p in (c.ana, c.ben):
        # Each answered "maybe" to lying together: the CLI asks for an explicit confirmation.
        error = p.refused("rider", "accept", LIGHTHOUSE, "--yes")
        assert "--confirm act:lying-together-clothed" in error, error
        p.cli("rider", "accept", LIGHTHOUSE, "--yes", "--confirm", f"act:{LYING}")
    status = _status(c.ic, SCENE)
    assert status["phase"] == "agreed", status["phase"]
    late = [f for f in status["flags"] if f["code"] == "late-agreement"]
    return f"Both signed the hash of version {version}: the scene is agreed" + (
        " (late)." if late else ", more than 48 hours before call time."
    )


def withdraw(c: Cast) -> str:
    sent = c.ana.cli(
        "withdraw",
        LIGHTHOUSE,
        "--item",
        f"act:{NECK}:receiving",
        "--reason",
        "I would rather not have the neck kiss after all.",
    )
    told = c.ic.cli("inbox")["new"]
    assert any(i["kind"] == "withdrawal" for i in told), told
    assert _status(c.ic, SCENE)["phase"] == "withdrawn"
    ben = _status(c.ben, LIGHTHOUSE)
    assert ben["phase"] == "agreed" and not ben["withdrawals"], ben
    return (
        f"Logged at index {sent['log_index']} and encrypted to Ines only; her inbox shows it.\n"
        "Nobody approves a withdrawal. Ben's view is unchanged: he is not told what Ana took back."
    )


def filmed_refused(c: Cast) -> str:
    error = c.ic.refused("filmed", SCENE)
    assert "withdrawal" in error, error
    return f"Refused: {error}"


def rider_v3(c: Cast) -> str:
    def edit(text: str) -> str:
        # The template never drafts a withdrawn item: the neck kiss is already gone.
        assert f'act = "{NECK}"' not in text, "the template drafted a withdrawn item"
        # The director's bare back for Ana, which her sheet allows: more nudity, late.
        return fill(text, {"performers.ana-ruiz.nudity": ["bare-back"]})

    sent = _propose(c, 3, edit)
    flags: list[dict[str, str]] = sent["flags"]  # type: ignore[assignment]
    late = [f for f in flags if f["code"] == "short-notice"]
    assert late, sent
    changes = c.ic.cli("rider", "diff", SCENE)["changes"]
    gone = [ch["text"] for ch in changes if "withdrawn by Ana Ruiz" in ch["text"]]
    assert gone, changes
    return (
        f"The template left out what Ana withdrew; `rider diff`: {gone[0]}.\n"
        f"Late-change flag: {late[0]['message']}\n" + agree(c, 3)
    )


def filmed(c: Cast) -> str:
    mark = c.ic.cli("filmed", SCENE, "--shots", "takes 1-6, wide and close-up")
    assert mark["notice"], mark  # no union agreement: the late findings go on the mark
    ana = _status(c.ana, LIGHTHOUSE)
    assert ana["phase"] == "filmed"
    shown = [f for f in ana["flags"] if f["code"] == "notice-floor-recorded"]
    assert shown, ana["flags"]
    return (
        "Version 3 is marked filmed; a later withdrawal would still be recorded, marked so.\n"
        "Filmed under 48 hours' notice without a union agreement: recorded on the mark and\n"
        f"flagged to Ana and Ben too:\n  {shown[0]['message']}"
    )


def check_in(c: Cast) -> str:
    c.ben.cli("checkin", LIGHTHOUSE, "--status", "ok", "--note", "Shoulder fine. Thank you.")
    told = c.ic.cli("inbox")["new"]
    assert any(i["kind"] == "check-in" for i in told), told
    return "Ben checks in; only Ines reads it."


# What a partner was served on this very demo before issue 13 (padding, envelopes served
# only to their readers): docs/threat-model.md keeps the measurements side by side.
BEFORE = (
    "Before: every member was served every envelope, unpadded: each boundary sheet ~8.6 KB\n"
    "  to the IC only, each acceptance exactly 1311 B to everyone, Ana's withdrawal 1186 B to\n"
    "  the IC only; Ana Ruiz's profile held all 15 envelopes of the thread and opened 11."
)


def _served(p: Person) -> tuple[int, dict[int, int], list[int]]:
    """How many envelopes ``p``'s profile was served, by ciphertext bucket, and their sizes."""
    buckets: dict[int, int] = {}
    sizes = []
    for path in sorted((Path(p.home) / THREADS_DIR).glob("*.json")):
        cache = ThreadCache(Path(p.home), b64u_decode(path.stem, length=16))
        assert not cache.withheld(), f"the relay withheld {cache.withheld()} from {p.name}"
        for item in cache.items:
            ciphertext = len(item.envelope.ciphertext)
            assert ciphertext in BUCKETS, f"{p.name} was served an unpadded envelope"
            assert p.profile().identity_key in item.envelope.context.recipient_identities
            buckets[ciphertext] = buckets.get(ciphertext, 0) + 1
            sizes.append(len(item.envelope.to_bytes()))
    return len(sizes), buckets, sizes


def _kib(n: int) -> str:
    return f"{n // 1024} KiB"


def privacy(c: Cast) -> str:
    lines = []
    c.ic.cli("thread", SCENE)
    total, _, _ = _served(c.ic)
    refused_by = {c.ben.name: (b"open-mouth-kissing", b"hand-on-thigh-skin"), c.ana.name: ()}
    for p in (c.ana, c.ben):
        # `thread` fetches everything the relay has first
        opened_rows = p.cli("thread", LIGHTHOUSE)
        profile = p.profile()
        me = profile.identity_key
        held, opened = readable(profile)
        others = [r for r in opened if r.sender != me]
        private = (BoundarySheet, SceneRequests, Counter, Withdrawal, CheckIn)
        leaked = [type(r.statement).__name__ for r in others if isinstance(r.statement, private)]
        assert not leaked, f"{p.name} can read {leaked}"
        assert not any(isinstance(r.statement, SceneRequests) for r in opened)
        for r in others:
            assert BEN_PRIVATE.encode() not in r.plaintext
            for act in refused_by[p.name]:
                assert act not in r.plaintext, f"{p.name} was shown {act.decode()}"
        assert len(opened_rows) == len(opened), "`closedset thread` lists what the profile opens"
        served, buckets, sizes = _served(p)
        assert served == held == len(opened), "served only what is addressed to them"
        spread = ", ".join(f"{n} x {_kib(b)}" for b, n in sorted(buckets.items()))
        lines.append(
            f"{p.name} is served {served} of the thread's {total} envelopes (only those "
            f"addressed to them) and opens all {len(opened)}:\n  {len(opened) - len(others)} "
            "written by them, and the shared brief, riders, acceptances and filmed mark.\n"
            f"  Ciphertexts in buckets: {spread}; whole envelopes {min(sizes)}-{max(sizes)} B.\n"
            "  No partner's sheet, counter, withdrawal or check-in, and no director's request,\n"
            "  not even as ciphertext."
        )
    lines.append(BEFORE)
    return "\n".join(lines)


STEPS: list[tuple[str, StepFn]] = [
    ("Ines drafts rider version 1 inside the overlap and sends it", rider_v1),
    ("Ben counters version 1", counter),
    ("Ines tries to add the open-mouth kiss Ben refused: refused, nothing sent", refused_item),
    ("Ines sends version 2; `rider diff` marks what widens and what narrows", rider_v2),
    ("Ana tries to accept the superseded version 1", stale_accept),
    ("Ana and Ben accept version 2", lambda c: agree(c, 2)),
    ("Ana withdraws the neck kiss; Ines is told at once", withdraw),
    ("Ines cannot mark a rider with an open withdrawal filmed", filmed_refused),
    ("Ines answers with version 3 without it; both accept again", rider_v3),
    ("The scene is shot; Ines marks it filmed", filmed),
    ("Ben's aftercare check-in", check_in),
    ("Privacy: everything each performer's own profile can decrypt", privacy),
]
