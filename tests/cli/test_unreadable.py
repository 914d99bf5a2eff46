"""One member's unreadable envelope never silences a scene: Ana seals a well-signed envelope
whose plaintext is valid JSON but no scene statement, sends it to the relay, and then every
other member runs every scene command, the withdrawal first. Each command works (or is refused
by the scene's own rules, never by Ana's envelope), says once on stderr that it skipped the
envelope, and lists it under ``unreadable`` in its JSON. Counsel's verifier shows it as a
finding and verifies the rest. SQLite and PostgreSQL, over real sockets, through the CLI."""

from __future__ import annotations

import asyncio
import io
import json
from pathlib import Path
from typing import Any

from client.cli.main import run
from client.demo.cast import Person
from client.demo.scenario import LIGHTHOUSE, SCENE
from keys import armor
from keys.encoding import b64u_encode, canonical_json
from keys.envelope import Envelope
from keys.identity import Fingerprint
from tests.cli.support import told_story
from tests.relay.api_support import Api

# Valid JSON, a real statement kind, but not a valid withdrawal: on the main of before, every
# scene command failed on it with "The withdrawal must have exactly the fields ...".
BAD_PLAINTEXT = '{"purpose":"closedset/scene/withdrawal/v1","statement":{"oops":true}}'
SKIPPED = "skipped an envelope you cannot read"


def _run(person: Person, *args: str) -> tuple[int, Any, str]:
    code, out, err = person._run(args)
    return code, (json.loads(out) if out.strip() else None), err


def _seal(person: Person, thread: bytes, prev: bytes, readers: list[str]) -> Envelope:
    """`closedset seal` with the bad plaintext on stdin, to the readers and the sender."""
    out, err = io.StringIO(), io.StringIO()
    to = [a for name in readers for a in ("--to", name)]
    argv = ["seal", *to, "--thread", b64u_encode(thread), "--prev", b64u_encode(prev)]
    argv += ["--purpose", "closedset/scene/v1", "--json"]
    stdin = io.StringIO(BAD_PLAINTEXT)
    code = run(argv, person.environ, stdin=stdin, stdout=out, stderr=err, clock=person.clock)
    assert code == 0, err.getvalue()
    return Envelope.from_bytes(armor.dearmor(json.loads(out.getvalue())["armored"], armor.ENVELOPE))


async def test_an_unreadable_envelope_is_skipped_by_every_command_of_every_member(
    api: Api, tmp_path: Path
) -> None:
    story, cast = await told_story(api.base, tmp_path, api.clock)
    assert all(s.ok for s in story.steps), [s.detail for s in story.steps if not s.ok]
    ines, ana, ben = cast.ic, cast.ana, cast.ben
    profile = ana.profile()
    cache = next((ana.home / "threads").glob("*.json"))
    last = json.loads(cache.read_bytes())["envelopes"][-1]["envelope"]
    prev = Envelope.from_bytes(canonical_json(last))

    # Ana seals the bad envelope with `closedset seal` and sends it to the relay herself.
    envelope = await asyncio.to_thread(
        _seal, ana, prev.context.thread, prev.hash, [ines.name, ben.name]
    )
    thread = b64u_encode(envelope.context.thread)
    signer = type("Signer", (), {"key": profile.signing_key()})()
    reply = await api.call(signer, "POST", f"/v1/threads/{thread}/envelopes", envelope.to_bytes())
    assert reply.status == 201, reply.body
    bad_index = reply.body["index"]
    ana_fp = Fingerprint.of(profile.identity_key).compact

    def check(person: Person, *args: str, refused_ok: bool = False) -> Any:
        code, data, err = _run(person, *args)
        assert "exactly the fields" not in err, (args, err)
        assert err.count(SKIPPED) == 1 and f"log index {bad_index} " in err, (args, err)
        if code != 0:
            assert refused_ok, (args, err)
            return None
        (skipped,) = data["unreadable"]
        assert skipped["sender"] == ana_fp and skipped["log_index"] == bad_index, data
        assert "withdrawal" in skipped["reason"], skipped
        return data

    # Ben, a performer: his withdrawal first, then everything else he can run.
    withdrawn = await asyncio.to_thread(check, ben, "withdraw", LIGHTHOUSE, "--reason", "no")
    assert withdrawn["told_ic"] is True
    status = await asyncio.to_thread(check, ben, "scene", "status", LIGHTHOUSE)
    assert status["unreadable_count"] == 1
    for args in (
        ("thread", LIGHTHOUSE),
        ("rider", "show", LIGHTHOUSE),
        ("rider", "diff", LIGHTHOUSE),
        ("sheet", "show", LIGHTHOUSE),
        ("sheet", "template", LIGHTHOUSE),
        ("checkin", LIGHTHOUSE, "--status", "ok"),
        ("report", LIGHTHOUSE, "--kind", "crossing", "--what", "a test"),
        ("evidence", "export", LIGHTHOUSE, "--out", str(tmp_path / "ben.bundle")),
    ):
        await asyncio.to_thread(check, ben, *args)
    await asyncio.to_thread(check, ben, "rider", "accept", LIGHTHOUSE, "--yes", refused_ok=True)

    # Ines, the IC: every command she runs on the scene. Ben's withdrawal reached her.
    status = await asyncio.to_thread(check, ines, "scene", "status", SCENE)
    assert status["unreadable_count"] == 1
    assert any(w["by"] == ben.name for w in status["withdrawals"]), status
    for args in (
        ("thread", SCENE),
        ("review", SCENE),
        ("rider", "show", SCENE),
        ("rider", "diff", SCENE),
        ("rider", "template", SCENE),
        ("sheet", "show", SCENE, "--performer", ben.name),
        ("evidence", "export", SCENE, "--out", str(tmp_path / "ines.bundle")),
    ):
        await asyncio.to_thread(check, ines, *args)
    for args in (("filmed", SCENE), ("scene", "brief", SCENE)):
        await asyncio.to_thread(check, ines, *args, refused_ok=True)

    # The inbox, across scenes: reported once, in its JSON too.
    code, data, err = await asyncio.to_thread(_run, ines, "inbox")
    assert code == 0 and err.count(SKIPPED) == 1, err
    assert data["unreadable"][0]["log_index"] == bad_index
