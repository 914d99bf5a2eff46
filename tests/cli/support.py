"""Helpers for CLI tests: the demo's people run real commands in-process (in a worker thread,
so the relay fixture keeps the test's event loop), and an independent decryption of a profile."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

from client.cli.context import Context
from client.demo.scenario import Cast, cast_of, tell
from client.demo.story import Story
from client.negotiation.statements import Statement, parse
from client.profile import Profile
from client.scenes import THREADS_DIR
from keys.encoding import canonical_json
from keys.envelope import Envelope, open_envelope
from keys.errors import KeysError


async def told_story(relay: str, workdir: Path, clock: Any) -> tuple[Story, Cast]:
    """The demo's whole story against ``relay``, every step run through the CLI."""
    story = Story(Context(home=workdir, environ={}, json=True))
    cast = cast_of(workdir, relay, clock)
    await asyncio.to_thread(tell, story, cast)
    return story, cast


def everything_decryptable(profile: Profile) -> list[tuple[bytes, Statement | None, bytes]]:
    """Every cached envelope of every thread, tried with every device key the profile holds:
    (sender, statement or None, plaintext) for each one that opens. Written apart from
    client.exposure on purpose, so the check does not trust the code it checks."""
    found = []
    for path in sorted((profile.home / THREADS_DIR).glob("*.json")):
        for item in json.loads(path.read_bytes())["envelopes"]:
            envelope = Envelope.from_bytes(canonical_json(item["envelope"]))
            for device in profile.device_keys():
                try:
                    opened = open_envelope(envelope, device)
                except KeysError:
                    continue
                inner = json.loads(opened.plaintext)
                statement = parse(inner["purpose"], canonical_json(inner["statement"]))
                found.append((opened.sender, statement, opened.plaintext))
                break
    return found
