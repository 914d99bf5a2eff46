"""The demo, first half: identities, the scene, invitations checked both ways, the brief, the
director's private requests, two private boundary sheets (one with a typo first) and the IC's
overlap review with its conflicts."""

from __future__ import annotations

from pathlib import Path

from client.demo.cast import Person, fill
from client.demo.scenario import LIGHTHOUSE, SCENE, Cast, StepFn
from client.negotiation import vocabulary as vocab
from client.timefmt import iso, show_time

DAY = 86400
BEN_PRIVATE = "Ben's private note for the IC only"


def identities(c: Cast) -> str:
    lines = []
    for p in c.people:
        made = p.cli("id", "new", "--name", p.name, "--role", p.role)
        c.facts[f"fingerprint:{p.name}"] = made["fingerprint"]
        lines.append(f"{p.name} ({p.role}): fingerprint {made['fingerprint']}")
    return (
        "\n".join(lines)
        + "\nEach profile's private keys are sealed with Argon2id under its passphrase."
    )


def new_scene(c: Cast) -> str:
    call = c.ic.now() + 40 * 3600  # under 48 hours: the notice rules will show
    made = c.ic.cli(
        "scene",
        "new",
        "--relay",
        c.relay,
        "--title",
        "The Lighthouse",
        "--scene",
        "12",
        "--pages",
        "31-33",
        "--call-time",
        iso(call),
        "--no-union-agreement",
    )
    assert made["alias"] == SCENE, made
    c.facts["call_time"] = call
    return (
        f"Call time {show_time(call)}, 40 hours away: under the 48-hour notice, so late\n"
        "agreement and late changes will be flagged. The production is not under a union\n"
        "agreement, so nobody can waive that floor. The relay now holds an empty thread:\n"
        "it knows who is a member and when they write, never what they say."
    )


def _invite(c: Cast, performer: Person) -> str:
    code = c.ic.cli("scene", "invite", SCENE, "--for", performer.name)["code"]
    joined = performer.cli("scene", "join", code, "--alias", LIGHTHOUSE)
    expected = c.facts[f"fingerprint:{c.ic.name}"]
    assert joined["inviter"]["fingerprint"] == expected, "the inviter is not Ines"
    assert joined["inviter_checked"] is True
    return (
        f"{performer.name} checked that the relay's logged identity of the inviter matches the\n"
        f"fingerprint in the code: {joined['inviter']['name']}, {expected}.\n"
        f"Safety number to read aloud with Ines: {joined['safety_number']}"
    )


def brief(c: Cast) -> str:
    sent = c.ic.cli("scene", "brief", SCENE)
    assert sorted(sent["performers"]) == ["Ana Ruiz", "Ben Okafor"], sent
    assert not sent["not_admitted"], sent
    return (
        "Ines checked each joiner's proof against the secret of her own invite, so only the\n"
        "people she invited are named. The brief is encrypted to the three of them."
    )


def requests(c: Cast) -> str:
    c.ic.cli(
        "scene",
        "requests",
        SCENE,
        "--act",
        "open-mouth-kissing:Ana:Ben",
        "--act",
        "hand-on-thigh-skin:Ana:Ben",
        "--nudity",
        "Ana:bare-back",
    )
    return (
        "The director wants an open-mouth kiss, Ana's hand on Ben's bare thigh, and Ana's\n"
        "bare back. Sealed to Ines's own devices: no performer is ever shown a request."
    )


ANA: dict[str, object] = {
    "unanswered": "no",
    "you.pronouns": "she/her",
    "signals.nonverbal": "two taps on the arm",
    "acts.closed-mouth-kissing-lips.answer": "yes",
    "acts.open-mouth-kissing.answer": "yes",
    "acts.embrace-clothed.answer": "yes",
    "acts.hand-on-back.giving": "yes",
    "acts.hand-on-back.receiving": "yes",
    "acts.hand-on-thigh-skin.giving": "yes",
    "acts.kissing-neck.receiving": "ask-first",
    "acts.lying-together-clothed.answer": "maybe",
    "nudity.bare-back": True,
    "care.check_in": "message",
}
BEN: dict[str, object] = {
    "unanswered": "no",
    "you.pronouns": "he/him",
    "signals.nonverbal": "hand flat on the floor",
    "acts.closed-mouth-kissing-lips.answer": "yes",
    "acts.embrace-clothed.answer": "yes",
    "acts.hand-on-back.giving": "yes",
    "acts.hand-on-back.receiving": "yes",
    "acts.kissing-neck.giving": "yes",
    "acts.lying-together-clothed.answer": "maybe",
    "zones.thighs": "never",
    "zone_notes.thighs": "not on camera, not in rehearsal",
    "care.health": "Sore left shoulder; no lifting.",
    "care.check_in": "call",
    "care.notes": BEN_PRIVATE,
}
OK_ZONES = (
    "lips",
    "face",
    "neck",
    "back-of-neck",
    "shoulders",
    "arms",
    "hands",
    "back",
    "stomach",
    "chest-breasts",
    "thighs",
    "legs",
)


def _sheet(c: Cast, p: Person, answers: dict[str, object], path: Path) -> str:
    p.cli("sheet", "template", LIGHTHOUSE, "--out", str(path))
    zones = {f"zones.{z}": "ok" for z in OK_ZONES}
    path.write_text(fill(path.read_text(), zones | answers))
    p.cli("sheet", "submit", LIGHTHOUSE, str(path))
    yes = sum(v == "yes" for v in answers.values())
    return f"{p.name} answered {yes} items yes; everything left empty counts as no."


def ana_sheet(c: Cast) -> str:
    path = c.workdir / "ana-sheet.toml"
    c.ana.cli("sheet", "template", LIGHTHOUSE, "--out", str(path))
    typo = fill(
        path.read_text(),
        {f"zones.{z}": "ok" for z in OK_ZONES} | ANA | {"acts.hand-on-back.giving": "yse"},
    )
    wrong = c.workdir / "ana-sheet-typo.toml"
    wrong.write_text(typo)
    error = c.ana.refused("sheet", "submit", LIGHTHOUSE, str(wrong))
    assert "line" in error and "yse" in error, error
    path.unlink()
    done = _sheet(c, c.ana, ANA, path)
    return (
        f"A typo first; nothing was sent:\n  {error}\nFixed and sent: {done}\n"
        "The sheet is encrypted to Ines only; nothing in it can reach Ben."
    )


def ben_sheet(c: Cast) -> str:
    return _sheet(c, c.ben, BEN, c.workdir / "ben-sheet.toml") + (
        "\nHe says no to the open-mouth kiss and never to his thighs; Ana will not learn that."
    )


def review(c: Cast) -> str:
    data = c.ic.cli("review", SCENE)
    names, acts = data["names"], vocab.load().acts
    # As `closedset review` prints it: acts nobody wants and nobody asked for are left out.
    shown = [
        r
        for r in data["acts"]
        if r["requested"] or r["giver_answer"] != "no" or r["receiver_answer"] != "no"
    ]
    conflicts = [r for r in data["acts"] if r["outcome"] == "conflict" and r["requested"]]
    assert len(conflicts) >= 1, "the review shows no conflict"
    assert data["unmet_requests"], "the director's refused requests are not flagged"
    lines = [
        f"{r['outcome']:9s} {acts[r['act']].name}: {names[r['giver']]} "
        f"{'→' if r['directional'] else '↔'} {names[r['receiver']]}"
        f" ({r['giver_answer']}/{r['receiver_answer']})" + (" [requested]" * r["requested"])
        for r in sorted(shown, key=lambda r: r["outcome"])
    ]
    return "\n".join(
        [*lines, f"{len(data['unmet_requests'])} requests are unmet. Only Ines sees this table."]
    )


STEPS: list[tuple[str, StepFn]] = [
    ("Three people create identities: Ines (IC), Ana and Ben (performers)", identities),
    ("Ines creates scene 12 of 'The Lighthouse' on the relay", new_scene),
    ("Ines invites Ana; Ana joins and checks who invited her", lambda c: _invite(c, c.ana)),
    ("Ines invites Ben; Ben joins and checks who invited him", lambda c: _invite(c, c.ben)),
    ("Ines sends the scene brief to the performers she admitted", brief),
    ("Ines records the director's requests, for her eyes only", requests),
    ("Ana fills in her private boundary sheet", ana_sheet),
    ("Ben fills in his", ben_sheet),
    ("Ines reviews the overlap: per act and direction, with the conflicts", review),
]
