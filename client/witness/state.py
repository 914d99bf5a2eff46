"""A witness's files in its profile directory: the cosigning key and the latest checkpoints.

``<home>/witness.key``        the Ed25519 cosigner key string (``PRIVATE+KEY+name+id+...``,
                              type 0x04), mode 0600, created on first start
``<home>/witness-state.json`` every log's latest cosigned checkpoint note, replaced atomically
                              (temp file, fsync, rename, directory fsync) before each answer
"""

from __future__ import annotations

import json
import socket
from collections.abc import Mapping
from pathlib import Path

from client.errors import ClientError
from client.witness.core import LatestCheckpoint
from keys.cosignature import CosignatureSigner
from keys.errors import KeysError
from keys.keystore import write_private_file

KEY_FILE = "witness.key"
STATE_FILE = "witness-state.json"
STATE_VERSION = 1


class WitnessStateError(ClientError):
    """The witness's key or state file cannot be read, written or used as asked."""


def default_witness_name() -> str:
    """A schema-less URL naming this machine's witness, as tlog-cosignature recommends."""
    host = socket.gethostname().strip() or "localhost"
    return f"{host}/closedset-witness"


def load_or_create_key(home: Path, name: str | None) -> tuple[CosignatureSigner, bool]:
    """The witness's cosigner key, created under ``name`` on first use; True if created."""
    path = home / KEY_FILE
    if not path.exists():
        signer = CosignatureSigner.generate(name or default_witness_name())
        try:
            # exclusive: two witnesses starting at once must not each write their own key.
            write_private_file(path, (signer.key_string() + "\n").encode("ascii"), exclusive=True)
        except KeysError as exc:
            if not path.exists():
                raise WitnessStateError(str(exc)) from exc
        else:
            return signer, True
    try:
        signer = CosignatureSigner.from_key_string(path.read_text("ascii").strip())
    except (OSError, UnicodeDecodeError, KeysError) as exc:
        raise WitnessStateError(f"The witness key at {path} cannot be read: {exc}") from exc
    if name is not None and signer.name != name:
        raise WitnessStateError(
            f"The witness key at {path} is named {signer.name!r}, not {name!r}; a witness keeps "
            "its name for life, so drop --name or use another --home."
        )
    return signer, False


def load_state(home: Path) -> list[LatestCheckpoint]:
    """Every log's latest cosigned checkpoint; an absent file means a witness that saw none."""
    path = home / STATE_FILE
    try:
        raw = json.loads(path.read_text("utf-8"))
    except FileNotFoundError:
        return []
    except (OSError, ValueError) as exc:
        raise WitnessStateError(f"The witness state at {path} cannot be read: {exc}") from exc
    try:
        if raw["version"] != STATE_VERSION:
            raise ValueError(f"version {raw['version']!r} is not {STATE_VERSION}")
        kept = [
            LatestCheckpoint.from_note(entry["note"], int(entry["cosigned_at"]))
            for entry in raw["logs"].values()
        ]
    except (KeyError, TypeError, ValueError, KeysError) as exc:
        raise WitnessStateError(f"The witness state at {path} is damaged: {exc}") from exc
    for origin, entry in zip(raw["logs"], kept, strict=True):
        if entry.checkpoint.origin != origin:
            raise WitnessStateError(f"The witness state at {path} files {origin} wrongly.")
    return kept


def state_writer(home: Path) -> WitnessStateWriter:
    return WitnessStateWriter(home / STATE_FILE)


class WitnessStateWriter:
    """Replaces the state file with every log's latest checkpoint, durably, or raises."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def __call__(self, latest: Mapping[str, LatestCheckpoint]) -> None:
        document = {
            "version": STATE_VERSION,
            "logs": {
                origin: {"note": kept.note, "cosigned_at": kept.cosigned_at}
                for origin, kept in sorted(latest.items())
            },
        }
        data = (json.dumps(document, indent=2, ensure_ascii=False) + "\n").encode("utf-8")
        try:
            write_private_file(self.path, data)
        except KeysError as exc:
            raise WitnessStateError(f"The witness state cannot be saved: {exc}") from exc
