"""A disclosed envelope that holds no scene statement (one member's unreadable envelope) is a
finding in counsel's report, not a failure: its signatures and proof still hold, and the rest
of the bundle verifies."""

from __future__ import annotations

from client.evidence.logcheck import Policy
from client.evidence.verify import verify_bundle
from client.negotiate import SCENE_PURPOSE
from keys.envelope import seal
from tests.evidence import forge
from tests.evidence.crafted import add_crafted_envelope, envelope_hash, thread_of
from tests.evidence.story import Story

BAD = b'{"purpose":"closedset/scene/withdrawal/v1","statement":{"oops":true}}'


def test_a_disclosed_unreadable_envelope_is_a_finding_and_the_rest_verifies(story: Story) -> None:
    v = forge.load(story.bens_bundle)
    last = v["entries"][-1]
    recipients = [*story.ben.own_recipients(), *story.ines.own_recipients()]
    opened = seal(
        BAD,
        sender=story.ben.signing_key(),
        recipients=sorted(recipients, key=lambda r: (r.identity, r.device)),
        thread=thread_of(v),
        prev=envelope_hash(last),
        purpose=SCENE_PURPOSE,
    )
    received_ms = int.from_bytes(forge.entry_of(last)[34:], "big") + 1000

    def edit(leaves: list[bytes]) -> dict[bytes, bytes]:
        at = leaves.index(forge.entry_of(last)) + 1
        add_crafted_envelope(v, leaves, opened, at=at, received_ms=received_ms)
        return {}

    data = forge.dump(
        forge.resign(forge.reforge(v, story.leaves, story.log_signer, edit), story.ben)
    )
    report = verify_bundle(data, Policy(), None, now=story.now)
    assert report.verified, [f.to_json() for f in report.failures]
    (finding,) = [w for w in report.warnings if "no scene statement" in w]
    assert "signed by its sender and logged" in finding
    # The story counsel reads is the same as without it: the envelope is left out of it.
    untouched = verify_bundle(story.bens_bundle, Policy(), None, now=story.now)
    assert report.story is not None and untouched.story is not None
    assert report.story.to_json() == untouched.story.to_json()
