"""Every way we could think of to tamper with Ben's bundle, each caught and named.

Each case takes the bundle Ben exported (and the story behind it) and returns what counsel
receives, and possibly the witness policy and the checkpoints counsel kept; the verifier must
refuse it with the named failure code. Cases that change what the exporter signed are re-signed
by Ben, as a dishonest party would, so only the tampering itself is left to find.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass, field

import pytest

from client.evidence.failures import CATALOGUE
from client.evidence.kept import KeptCheckpoint, KeptLog
from client.evidence.logcheck import Policy
from client.evidence.verify import verify_bundle
from keys import armor
from keys.checkpoint import Checkpoint
from keys.cosignature import CosignatureSigner
from keys.encoding import b64u_decode, b64u_encode, canonical_json
from keys.envelope import encode_disclosure
from keys.identity import revoke_device, revoke_identity
from keys.logentry import RecordType, encode_entry
from keys.note import NoteSigner, add_signatures, split_note
from keys.statement import Statement
from keys.tlogproof import TlogProof
from tests.evidence import forge
from tests.evidence.crafted import add_crafted_envelope, envelope_hash, seal_message, thread_of
from tests.evidence.story import Story

W1 = CosignatureSigner("witness.example.test/w1", bytes(range(32, 64)))
W2 = CosignatureSigner("witness.example.test/w2", bytes(range(64, 96)))


@dataclass
class Received:
    data: bytes
    policy: Policy = field(default_factory=Policy)
    kept: KeptLog | None = None


Tamper = Callable[[forge.Value, Story], Received]
CASES: list[tuple[str, str, Tamper]] = []


def case(name: str, code: str) -> Callable[[Tamper], Tamper]:
    def register(tamper: Tamper) -> Tamper:
        CASES.append((name, code, tamper))
        return tamper

    return register


def sent(value: forge.Value, **kw: object) -> Received:
    return Received(forge.dump(value), **kw)  # type: ignore[arg-type]


def flip(text: str, at: int) -> str:
    return text[:at] + ("B" if text[at] != "B" else "C") + text[at + 1 :]


def before(leaves: list[bytes], item: forge.Value, new: bytes) -> None:
    leaves.insert(leaves.index(forge.entry_of(item)), new)


# --- the file itself ------------------------------------------------------------------------


@case("a truncated bundle", "bundle-malformed")
def _(v: forge.Value, s: Story) -> Received:
    return Received(forge.dump(v)[:-400])


@case("a bundle re-encoded with indentation", "bundle-not-canonical")
def _(v: forge.Value, s: Story) -> Received:
    import json

    return Received(json.dumps(v, indent=1).encode())


@case("a bundle claiming an unknown format version", "bundle-unknown-format")
def _(v: forge.Value, s: Story) -> Received:
    v["format"] = "closedset/evidence/v2"
    return sent(v)


@case("armor damaged in the mail", "bundle-armor")
def _(v: forge.Value, s: Story) -> Received:
    text = armor.armor(forge.dump(v), armor.BUNDLE)
    return Received(text[:200].encode() + b"!" + text[201:].encode())


# --- the exporter's signed list ---------------------------------------------------------------


@case("the manifest edited without re-signing", "manifest-signature")
def _(v: forge.Value, s: Story) -> Received:
    v["manifest"]["body"]["created_at"] += 1
    return sent(v)


@case(
    "an acceptance removed from the disclosure while the manifest claims it", "disclosure-missing"
)
def _(v: forge.Value, s: Story) -> Received:
    v["entries"][forge.find(v, "Acceptance", sender=s.ana.identity_key)]["disclosure"] = None
    return sent(v)


@case("the manifest of another party's bundle put on this one", "manifest-mismatch")
def _(v: forge.Value, s: Story) -> Received:
    v["manifest"] = forge.load(s.anas_bundle)["manifest"]
    return sent(v)


# --- the log: key, checkpoint, witnesses ------------------------------------------------------


@case("a checkpoint forged with another key of the same name", "checkpoint-signature")
def _(v: forge.Value, s: Story) -> Received:
    forger = NoteSigner.generate(s.log_signer.name)
    forge.set_note(v, forge.signed_at(s.leaves, forger, forge.checkpoint_of(v).size))
    return sent(v)


@case("a whole log re-signed by a forger who names their own key", "log-key-mismatch")
def _(v: forge.Value, s: Story) -> Received:
    forger = NoteSigner.generate(s.log_signer.name)
    forge.set_note(v, forge.signed_at(s.leaves, forger, forge.checkpoint_of(v).size))
    v["log"]["key"] = forger.verifier().key_string()
    return sent(v, policy=Policy(log_key=s.log_signer.verifier().key_string()))


@case("a checkpoint that is not a signed note", "checkpoint-malformed")
def _(v: forge.Value, s: Story) -> Received:
    v["log"]["checkpoint"] = v["log"]["checkpoint"].replace("\n\n", "\n")
    return sent(v)


@case("a log key that is not a verifier key", "log-key-malformed")
def _(v: forge.Value, s: Story) -> Received:
    v["log"]["key"] = "not a key"
    return sent(v)


def cosigned(v: forge.Value, *signers: CosignatureSigner) -> None:
    forge.set_note(
        v, add_signatures(v["log"]["checkpoint"], [w.at(1_801_000_000) for w in signers])
    )


@case("a cosignature from a witness counsel does not know", "witness-unknown")
def _(v: forge.Value, s: Story) -> Received:
    cosigned(v, W2)
    return sent(v, policy=Policy(witnesses=(W1.verifier(),), witnesses_required=1))


@case("no cosignature where the policy needs one", "witness-missing")
def _(v: forge.Value, s: Story) -> Received:
    return sent(v, policy=Policy(witnesses=(W1.verifier(),), witnesses_required=1))


@case("a listed witness's cosignature that does not verify", "cosignature-invalid")
def _(v: forge.Value, s: Story) -> Received:
    cosigned(v, W1)
    note = v["log"]["checkpoint"]
    _, lines = split_note(note)
    bad = lines[-1].to_line()
    forge.set_note(
        v, note.replace(bad, bad[:-6] + ("AAAA" if bad[-6:-2] != "AAAA" else "BBBB") + bad[-2:])
    )
    return sent(v, policy=Policy(witnesses=(W1.verifier(),), witnesses_required=1))


# --- earlier checkpoints counsel kept ----------------------------------------------------------


def kept_at(
    s: Story, leaves: list[bytes], size: int, proofs: dict[int, tuple[bytes, ...]] | None = None
) -> KeptCheckpoint:
    note = forge.signed_at(leaves, s.log_signer, size)
    return KeptCheckpoint(Checkpoint.parse(split_note(note)[0]), note, proofs or {})


@case("a checkpoint older than one counsel kept (rolled back)", "rollback")
def _(v: forge.Value, s: Story) -> Received:
    later = [*s.leaves, encode_entry(RecordType.ENVELOPE, bytes(32), 1)]
    key = s.log_signer.verifier().key_string()
    return sent(v, kept=KeptLog(key, (kept_at(s, later, len(later)),)))


@case("a split view: counsel kept another tree of the same size", "split-view")
def _(v: forge.Value, s: Story) -> Received:
    other = [*s.leaves[:-1], encode_entry(RecordType.ENVELOPE, bytes(32), 1)]
    key = s.log_signer.verifier().key_string()
    return sent(v, kept=KeptLog(key, (kept_at(s, other, len(other)),)))


@case("no consistency proof from a smaller checkpoint counsel kept", "consistency-unproven")
def _(v: forge.Value, s: Story) -> Received:
    key = s.log_signer.verifier().key_string()
    return sent(v, kept=KeptLog(key, (kept_at(s, s.leaves, len(s.leaves) - 3),)))


@case("a consistency proof with a changed hash", "consistency-invalid")
def _(v: forge.Value, s: Story) -> Received:
    size = len(s.leaves)
    proof = forge.consistency(s.leaves, size - 3, size)
    proof[0] = bytes(32)
    v["log"]["consistency"] = [{"from": size - 3, "hashes": [b64u_encode(h) for h in proof]}]
    key = s.log_signer.verifier().key_string()
    return sent(v, kept=KeptLog(key, (kept_at(s, s.leaves, size - 3),)))


@case("a log whose key changed since counsel's last bundle", "log-key-changed")
def _(v: forge.Value, s: Story) -> Received:
    return sent(v, kept=KeptLog(NoteSigner.generate(s.log_signer.name).verifier().key_string()))


# --- log proofs of single entries --------------------------------------------------------------


def edit_proof(v: forge.Value, position: int, change: Callable[[TlogProof], TlogProof]) -> None:
    item = v["entries"][position]
    item["proof"] = change(TlogProof.parse(item["proof"])).to_text()


@case("a tampered hash in a tlog-proof", "inclusion-mismatch")
def _(v: forge.Value, s: Story) -> Received:
    edit_proof(v, 3, lambda p: TlogProof(p.index, (bytes(32), *p.hashes[1:]), p.checkpoint_note))
    return sent(v)


@case("a changed log time in an entry", "inclusion-mismatch")
def _(v: forge.Value, s: Story) -> Received:
    item = v["entries"][forge.find(v, "Withdrawal")]
    entry = forge.entry_of(item)
    item["entry"] = b64u_encode(
        entry[:34] + (int.from_bytes(entry[34:], "big") - 86_400_000).to_bytes(8, "big")
    )
    return sent(v)


@case("a log index beyond the checkpoint", "index-out-of-range")
def _(v: forge.Value, s: Story) -> Received:
    edit_proof(v, 2, lambda p: TlogProof(p.index + 1000, p.hashes, p.checkpoint_note))
    return sent(v)


@case("an inclusion proof with a hash missing", "inclusion-malformed")
def _(v: forge.Value, s: Story) -> Received:
    edit_proof(v, 2, lambda p: TlogProof(p.index, p.hashes[:-1], p.checkpoint_note))
    return sent(v)


@case("a tlog-proof against an older checkpoint", "proof-checkpoint-differs")
def _(v: forge.Value, s: Story) -> Received:
    older = forge.signed_at(s.leaves, s.log_signer, len(s.leaves) - 1)
    edit_proof(v, 1, lambda p: TlogProof(p.index, p.hashes, older))
    return sent(v)


@case("a tlog-proof without its header", "proof-malformed")
def _(v: forge.Value, s: Story) -> Received:
    v["entries"][1]["proof"] = v["entries"][1]["proof"].split("\n", 1)[1]
    return sent(v)


@case("a log entry cut short", "entry-malformed")
def _(v: forge.Value, s: Story) -> Received:
    item = v["entries"][forge.withheld(v)[0]]
    item["entry"] = b64u_encode(forge.entry_of(item)[:41])
    return sent(v)


@case("a relay that logged other bytes than the envelope", "entry-digest-mismatch")
def _(v: forge.Value, s: Story) -> Received:
    old = forge.entry_of(v["entries"][forge.find(v, "Rider", 1)])
    new = old[:2] + hashlib.sha256(b"something else").digest() + old[34:]

    def edit(leaves: list[bytes]) -> dict[bytes, bytes]:
        leaves[leaves.index(old)] = new
        return {old: new}

    return sent(forge.resign(forge.reforge(v, s.leaves, s.log_signer, edit), s.ben))


@case("a relay that logged an envelope as an identity record", "entry-wrong-type")
def _(v: forge.Value, s: Story) -> Received:
    old = forge.entry_of(v["entries"][forge.find(v, "Rider", 1)])
    new = old[:1] + bytes([RecordType.IDENTITY_RECORD]) + old[2:]

    def edit(leaves: list[bytes]) -> dict[bytes, bytes]:
        leaves[leaves.index(old)] = new
        return {old: new}

    return sent(forge.resign(forge.reforge(v, s.leaves, s.log_signer, edit), s.ben))


@case("entries reordered", "entries-out-of-order")
def _(v: forge.Value, s: Story) -> Received:
    e = v["entries"]
    e[3], e[4] = e[4], e[3]
    return sent(v)


@case("an entry listed twice", "entry-duplicate")
def _(v: forge.Value, s: Story) -> Received:
    n = forge.withheld(v)[0]
    v["entries"].insert(n, dict(v["entries"][n]))
    return sent(v)


# --- disclosed envelopes -----------------------------------------------------------------------


@case("a flipped byte in an envelope", "envelope-signature")
def _(v: forge.Value, s: Story) -> Received:
    envelope = v["entries"][forge.find(v, "Rider", 1)]["disclosure"]["envelope"]
    envelope["ciphertext"] = flip(envelope["ciphertext"], 40)
    return sent(v)


@case("a wrong message key", "message-key-wrong")
def _(v: forge.Value, s: Story) -> Received:
    a, b = forge.find(v, "Rider", 0), forge.find(v, "Rider", 1)
    v["entries"][a]["disclosure"]["message_key"] = v["entries"][b]["disclosure"]["message_key"]
    return sent(v)


@case("rider version 2 swapped for version 1", "disclosure-misplaced")
def _(v: forge.Value, s: Story) -> Received:
    a, b = forge.find(v, "Rider", 0), forge.find(v, "Rider", 1)
    e = v["entries"]
    e[a]["disclosure"], e[b]["disclosure"] = e[b]["disclosure"], e[a]["disclosure"]
    return sent(v)


@case("an envelope with an extra member", "envelope-malformed")
def _(v: forge.Value, s: Story) -> Received:
    v["entries"][forge.find(v, "Acceptance")]["disclosure"]["envelope"]["note"] = "added"
    return sent(forge.load(canonical_json(v)))


@case("a disclosure from another scene's thread", "wrong-thread")
def _(v: forge.Value, s: Story) -> Received:
    index = s.other_thread["index"]
    item = {
        "entry": b64u_encode(s.leaves[index]),
        "proof": forge.proof_for(s.leaves, index, v["log"]["checkpoint"]),
        "disclosure": __import__("json").loads(encode_disclosure(s.other_thread["opened"])),
    }
    v["entries"].append(item)
    return sent(forge.resign(v, s.ben))


@case("content not signed by its sender", "envelope-inner-signature")
def _(v: forge.Value, s: Story) -> Received:
    last = v["entries"][-1]
    opened = seal_message(s.ben, [s.ines], thread_of(v), envelope_hash(last), bad_inner=True)

    def edit(leaves: list[bytes]) -> dict[bytes, bytes]:
        at = leaves.index(forge.entry_of(last)) + 1
        add_crafted_envelope(v, leaves, opened, at=at, received_ms=received(last) + 1000)
        return {}

    return sent(forge.resign(forge.reforge(v, s.leaves, s.log_signer, edit), s.ben))


# --- the chain of previous hashes --------------------------------------------------------------


@case("a withheld entry removed that a disclosed envelope follows", "chain-gap")
def _(v: forge.Value, s: Story) -> Received:
    rider = v["entries"][forge.find(v, "Rider", 0)]
    prev = b64u_decode(rider["disclosure"]["envelope"]["context"]["prev"])
    v["entries"] = [e for e in v["entries"] if forge.entry_of(e)[2:34] != prev]
    return sent(forge.resign(v, s.ben))


@case("a second envelope that starts the thread", "chain-two-starts")
def _(v: forge.Value, s: Story) -> Received:
    last = v["entries"][-1]
    opened = seal_message(s.ines, [s.ben], thread_of(v), None)

    def edit(leaves: list[bytes]) -> dict[bytes, bytes]:
        at = leaves.index(forge.entry_of(last)) + 1
        add_crafted_envelope(v, leaves, opened, at=at, received_ms=received(last) + 1000)
        return {}

    return sent(forge.resign(forge.reforge(v, s.leaves, s.log_signer, edit), s.ben))


@case("an envelope that names a later entry as its previous", "chain-order")
def _(v: forge.Value, s: Story) -> Received:
    first, last = v["entries"][0], v["entries"][-1]
    opened = seal_message(s.ines, [s.ben], thread_of(v), envelope_hash(last))

    def edit(leaves: list[bytes]) -> dict[bytes, bytes]:
        at = leaves.index(forge.entry_of(first)) + 1
        add_crafted_envelope(v, leaves, opened, at=at, received_ms=received(first))
        return {}

    return sent(forge.resign(forge.reforge(v, s.leaves, s.log_signer, edit), s.ben))


@case("a withheld entry listed before the envelope that starts the thread", "chain-start-not-first")
def _(v: forge.Value, s: Story) -> Received:
    brief = v["entries"][0]
    earlier = encode_entry(RecordType.ENVELOPE, hashlib.sha256(b"x").digest(), received(brief))

    def edit(leaves: list[bytes]) -> dict[bytes, bytes]:
        before(leaves, brief, earlier)
        v["entries"].insert(0, {"entry": b64u_encode(earlier), "proof": "", "disclosure": None})
        return {}

    return sent(forge.resign(forge.reforge(v, s.leaves, s.log_signer, edit), s.ben))


# --- identities ----------------------------------------------------------------------------------


def history(v: forge.Value, who: bytes) -> list[forge.Value]:
    for h in v["identities"]:
        if b64u_decode(h["records"][0]["statement"]["body"]["signer"]) == who:
            return h["records"]  # type: ignore[no-any-return]
    raise AssertionError("no such identity in the bundle")


def received(item: forge.Value) -> int:
    return int.from_bytes(forge.entry_of(item)[34:], "big")


def logged_record(v: forge.Value, statement: Statement, ms: int) -> forge.Value:
    entry = encode_entry(
        RecordType.IDENTITY_RECORD, hashlib.sha256(statement.to_bytes()).digest(), ms
    )
    return {"statement": statement.to_json(), "entry": b64u_encode(entry), "proof": ""}


def record_before(
    v: forge.Value, s: Story, who: bytes, make: Callable[[int], Statement], target: forge.Value
) -> Received:
    when = received(target) // 1000 - 60
    record = logged_record(v, make(when), received(target) - 60_000)
    history(v, who).append(record)

    def edit(leaves: list[bytes]) -> dict[bytes, bytes]:
        before(leaves, target, forge.entry_of(record))
        return {}

    return sent(forge.resign(forge.reforge(v, s.leaves, s.log_signer, edit), s.ben))


@case("a signature from an identity revoked before it signed", "signer-revoked")
def _(v: forge.Value, s: Story) -> Received:
    target = v["entries"][forge.find(v, "Withdrawal")]
    make = lambda t: revoke_identity(s.ben.signing_key(), issued_at=t, reason="key lost")  # noqa: E731
    return record_before(v, s, s.ben.identity_key, make, target)


@case("an envelope to a device revoked before it was sent", "device-revoked")
def _(v: forge.Value, s: Story) -> Received:
    target = v["entries"][forge.find(v, "Withdrawal")]
    device = s.ben.history.current_devices()[0]
    make = lambda t: revoke_device(s.ben.signing_key(), device, issued_at=t, reason="phone lost")  # noqa: E731
    return record_before(v, s, s.ben.identity_key, make, target)


@case("a device key certified only after it was used", "device-certified-late")
def _(v: forge.Value, s: Story) -> Received:
    certificate = history(v, s.ben.identity_key)[1]

    def edit(leaves: list[bytes]) -> dict[bytes, bytes]:
        leaves.remove(forge.entry_of(certificate))
        leaves.append(forge.entry_of(certificate))
        return {}

    return sent(forge.resign(forge.reforge(v, s.leaves, s.log_signer, edit), s.ben))


@case("a signer whose identity was logged only after signing", "signer-not-logged")
def _(v: forge.Value, s: Story) -> Received:
    records = history(v, s.ines.identity_key)

    def edit(leaves: list[bytes]) -> dict[bytes, bytes]:
        for r in records:
            leaves.remove(forge.entry_of(r))
            leaves.append(forge.entry_of(r))
        return {}

    return sent(forge.resign(forge.reforge(v, s.leaves, s.log_signer, edit), s.ben))


@case("a modified identity record", "identity-signature")
def _(v: forge.Value, s: Story) -> Received:
    history(v, s.ana.identity_key)[0]["statement"]["body"]["name"] = "Ann Ruiz"
    return sent(v)


@case("a device certificate removed from a history", "device-not-certified")
def _(v: forge.Value, s: Story) -> Received:
    del history(v, s.ben.identity_key)[1]
    return sent(v)


@case("a whole identity history removed", "identity-missing")
def _(v: forge.Value, s: Story) -> Received:
    v["identities"] = [
        h for h in v["identities"] if h["records"] != history(v, s.ines.identity_key)
    ]
    return sent(v)


@case("identity records swapped with each other's log entries", "identity-entry-mismatch")
def _(v: forge.Value, s: Story) -> Received:
    a, b = history(v, s.ana.identity_key)
    a["statement"], b["statement"] = b["statement"], a["statement"]
    return sent(v)


@case("a history whose records are out of order", "identity-history-invalid")
def _(v: forge.Value, s: Story) -> Received:
    records = history(v, s.ana.identity_key)
    records.reverse()
    return sent(v)


# --- the matrix ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("code", "tamper"), [(c, t) for _, c, t in CASES], ids=[n for n, _, _ in CASES]
)
def test_tampering_is_caught_and_named(story: Story, code: str, tamper: Tamper) -> None:
    received = tamper(forge.load(story.bens_bundle), story)
    report = verify_bundle(received.data, received.policy, received.kept, now=story.now)
    assert not report.verified
    assert code in [f.code for f in report.failures], [f.to_json() for f in report.failures]


def test_the_matrix_has_at_least_thirty_distinct_tamperings_and_twenty_five_codes() -> None:
    assert len({name for name, _, _ in CASES}) == len(CASES) >= 30
    assert len({code for _, code, _ in CASES}) >= 25
    assert {code for _, code, _ in CASES} <= set(CATALOGUE)


def test_the_untouched_bundle_verifies(story: Story) -> None:
    report = verify_bundle(story.bens_bundle, Policy(), None, now=story.now)
    assert report.verified, [f.to_json() for f in report.failures]
