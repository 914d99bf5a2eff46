"""A three-person scene through the whole story, from the command line: the rider is held to
each sheet (per partner and direction), a withdrawal sticks through later versions, a narrower
sheet counts as a withdrawal, and withdrawing what the rider does not hold blocks nothing.
Every refusal is one sentence naming the performer, the item and their answer, and nothing is
sent. Then the privacy check over everything each performer's profile can decrypt."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

from client.demo.cast import fill
from client.negotiation.rider import Rider
from client.negotiation.sheet import BoundarySheet
from client.negotiation.statements import CheckIn, Counter, TransgressionReport, Withdrawal
from tests.cli.kit import CliScene, act_block, answers
from tests.cli.support import everything_decryptable

KISS = "closed-mouth-kissing-lips"
HANDS = "holding-hands"
CLEO_SECRET = "cleo-private-note-5e1d"
BEN_SECRET = "ben-private-note-22aa"
# Each performer's own non-verbal signal: shared in the rider, so every partner can read it.
SIGNALS = {
    "Ana": "ana-signal-taps-3f",
    "Ben": "ben-signal-squeeze-9c",
    "Cleo": "cleo-signal-nod-41",
}


def story(relay: str, tmp: Path, clock: Any) -> CliScene:
    s = CliScene(tmp, relay, clock)
    s.open(["Ana", "Ben", "Cleo"])
    common = {f"acts__{HANDS}__answer": "yes", "acts__embrace-clothed__answer": "yes"}

    def own(name: str) -> dict[str, object]:
        return {**common, "signals__nonverbal": SIGNALS[name]}

    s.sheet(
        "Ana", answers(**own("Ana"), **{f"acts__{KISS}__answer": "yes", "footage__trailer": True})
    )
    s.sheet(
        "Ben", answers(**own("Ben"), **{f"acts__{KISS}__answer": "yes", "care__notes": BEN_SECRET})
    )
    # Cleo: no kissing at all, never her lips; a private note for the IC only.
    s.sheet("Cleo", answers(**own("Cleo"), **{"zones__lips": "never", "care__notes": CLEO_SECRET}))

    # The template drafts the kiss for Ana and Ben only: "yes with B, no with C".
    drafted = s.template()
    kisses = [b for b in drafted.split("\n\n") if f'act = "{KISS}"' in b and not b.startswith("#")]
    assert len(kisses) == 1 and '"ana"' in kisses[0] and '"ben"' in kisses[0]

    # Held to the sheets: each refusal names the performer, the item and their answer.
    error = s.refused_rider(lambda t: t + act_block(KISS, "ana", "cleo", ["lips"]))
    assert 'closed-mouth kissing, lips for Cleo, who answered "no"' in error, error
    assert 'zone lips for Cleo, who answered "never"' in error, error
    error = s.refused_rider(lambda t: fill(t, {"performers.ben.footage": ["trailer"]}))
    assert 'footage use: trailers and teasers for Ben, who answered "no"' in error, error
    error = s.refused_rider(lambda t: fill(t, {"closed_set.stills": True}))
    assert 'stills for Ana, who answered "no"' in error, error
    error = s.refused_rider(lambda t: fill(t, {"closed_set.monitors": ["producer"]}))
    assert "producer at the monitors for Ana, who did not name them" in error, error

    # Ana's footage terms go in a private annex: sealed to her and the IC, committed by hash.
    code, _, err = s.propose(lambda t: fill(t, {"performers.ana.private": True}))
    assert code == 0, err
    assert s["Ana"].cli("rider", "show", s.mine)["private_terms"], "Ana cannot read her annex"
    bens = s["Ben"].cli("rider", "show", s.mine)
    assert bens["private_terms"] == {} and "annex" in str(bens["performers"])
    s.accept_all()
    assert s.status()["phase"] == "agreed"

    # Cleo withdraws holding hands; the IC is told, filming stops.
    s["Cleo"].cli("withdraw", s.mine, "--item", f"act:{HANDS}")
    assert s.status()["phase"] == "withdrawn"
    error = s.refused(s.ic, "filmed", s.alias)
    assert "holding hands for Cleo, who withdrew it" in error, error

    # The next template never drafts it; `rider diff` says why it went.
    nxt = s.template()
    hands = [b for b in nxt.split("\n\n") if f'act = "{HANDS}"' in b and not b.startswith("#")]
    assert hands and all("cleo" not in b for b in hands), hands
    code, _, err = s.propose()
    assert code == 0, err
    changes = s.ic.cli("rider", "diff", s.alias)["changes"]
    assert any("withdrawn by Cleo" in c["text"] for c in changes), changes
    # ...and a version that re-adds it is refused, also after the withdrawal was answered.
    error = s.refused_rider(lambda t: t + act_block(HANDS, "ana", "cleo", ["hands"]))
    assert "holding hands for Cleo, who withdrew it" in error, error
    s.accept_all()
    status = s.status()
    assert status["phase"] == "agreed" and status["still_withdrawn"] == {"Cleo": ["holding hands"]}

    # Withdrawing an item the rider does not hold is recorded and blocks nothing.
    s["Ben"].cli("withdraw", s.mine, "--item", "act:kissing-neck")
    status = s.status()
    assert status["phase"] == "agreed"
    assert status["withdrawals"][-1]["blocks"] is False
    assert "kissing, neck" in status["still_withdrawn"]["Ben"]

    # A tighter sheet after agreement is a withdrawal of what the rider holds.
    s.sheet(
        "Ben", answers(**own("Ben"), **{f"acts__{KISS}__answer": "no", "care__notes": BEN_SECRET})
    )
    status = s.status()
    assert status["phase"] == "withdrawn", (
        status["phase"],
        status["refused"],
        status["withdrawals"],
    )
    assert status["withdrawals"][-1]["by_sheet"] is True
    told = s.ic.cli("inbox")["new"]
    assert any(i["kind"] == "sheet" and i["withdraws"] for i in told), told
    error = s.refused(s.ic, "filmed", s.alias)
    assert 'closed-mouth kissing, lips for Ben, who answered "no"' in error, error
    assert not s.status(s["Ana"])["withdrawals"]  # Ana is not told what Ben took back

    code, _, err = s.propose()  # the template leaves the kiss out
    assert code == 0, err
    s.accept_all()
    s.ic.cli("filmed", s.alias, "--shots", "takes 1-3")
    assert s.status(s["Cleo"])["phase"] == "filmed"
    s["Cleo"].cli("checkin", s.mine, "--status", "ok")
    s["Ben"].cli("report", s.mine, "--kind", "crossing", "--what", f"{BEN_SECRET} in take 2")
    # Cleo says yes again to holding hands with an explicit re-grant: it may be drafted again.
    s["Cleo"].cli("regrant", s.mine, "--item", f"act:{HANDS}")
    assert "Cleo" not in s.status()["still_withdrawn"]
    return s


@pytest.mark.parametrize("log_db", ["sqlite"], indirect=True)
async def test_three_person_scene_through_the_whole_story(api: Any, tmp_path: Path) -> None:
    s = await asyncio.to_thread(story, api.base, tmp_path, api.clock)
    secrets = {"Ben": BEN_SECRET, "Cleo": CLEO_SECRET, "Ana": "no-secret-of-ana"}
    ids = {name: p.profile().identity_key for name, p in s.performers.items()}
    for name, person in s.performers.items():
        profile = person.profile()
        me = profile.identity_key
        # Signals are per performer and shared: every rider this performer can read gives
        # each performer's own signals, partners' included, as their sheets set them.
        riders = [st for _, st, _ in everything_decryptable(profile) if isinstance(st, Rider)]
        assert riders, f"{name} can read no rider"
        for rider in riders:
            shown = {t.identity: t.signals for t in rider.performers}
            for other, identity in ids.items():
                signals = shown[identity]
                assert signals is not None and signals.nonverbal == SIGNALS[other], (
                    f"{name} cannot read {other}'s signals in rider version {rider.version}"
                )
        for sender, statement, plaintext in everything_decryptable(profile):
            if sender == me:
                continue
            # No partner's sheet, counter, withdrawal, check-in, or report they are not a
            # recipient of (every report here goes to the IC only).
            private = (BoundarySheet, Counter, Withdrawal, CheckIn, TransgressionReport)
            assert not isinstance(statement, private), f"{name} can read a partner's statement"
            for other, secret in secrets.items():
                if other != name:
                    assert secret.encode() not in plaintext
            if name != "Ana":  # Ana's private annex: her footage use "trailer"
                assert b"trailer" not in plaintext, f"{name} can read Ana's annex"
            if isinstance(statement, Rider):
                # Nobody is shown a kiss with Cleo, so nobody learns she refused one.
                cleo = s["Cleo"].profile().identity_key
                assert all(
                    a.act != KISS or cleo not in (a.giver, a.receiver) for a in statement.acts
                )
