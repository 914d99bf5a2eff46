"""Everything a profile can decrypt: every cached envelope of every scene, tried with every
device key the profile holds. The privacy checks (the demo's and the tests') read this to show
that no partner's sheet or refused request ever reached a performer's devices."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from client.errors import ClientError
from client.negotiate import SCENE_PURPOSE, unwrap
from client.negotiation.statements import Statement
from client.profile import Profile
from client.scenes import THREADS_DIR, ThreadCache
from keys.encoding import b64u_decode
from keys.envelope import open_envelope
from keys.errors import KeysError


@dataclass(frozen=True)
class Readable:
    thread: str
    sender: bytes
    purpose: str
    plaintext: bytes
    statement: Statement | None  # None: not a scene statement this version reads


def readable(profile: Profile) -> tuple[int, list[Readable]]:
    """(envelopes held, what of them opens with any of the profile's device keys)."""
    held, found = 0, []
    for path in sorted((Path(profile.home) / THREADS_DIR).glob("*.json")):
        cache = ThreadCache(profile.home, b64u_decode(path.stem, length=16))
        for item in cache.items:
            held += 1
            for device in profile.device_keys():
                try:
                    opened = open_envelope(item.envelope, device)
                except KeysError:  # not addressed to this device (or damaged)
                    continue
                statement = None
                if opened.context.purpose == SCENE_PURPOSE:
                    try:
                        statement = unwrap(opened.plaintext)
                    except (KeysError, ClientError, ValueError, TypeError, KeyError):
                        statement = None  # a member's bad envelope: readable bytes, no statement
                found.append(
                    Readable(
                        path.stem,
                        opened.sender,
                        opened.context.purpose,
                        opened.plaintext,
                        statement,
                    )
                )
                break
    return held, found
