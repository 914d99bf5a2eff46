"""``closedset mail sync``: import every envelope in an IMAP folder, and remember where it
stopped (UIDVALIDITY and the last UID seen, in ``<home>/mail-sync.json``), so each message
is read once. A changed UIDVALIDITY means the server renumbered the folder: read it again
(the inbox keeps each envelope once, so nothing is duplicated).
"""

from __future__ import annotations

import contextlib
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aioimaplib

from client.errors import ClientError
from client.mail.inbox import Imported, Inbox
from client.mail.settings import ImapSettings
from keys.keystore import write_private_file

STATE_FILE = "mail-sync.json"
_UIDVALIDITY = re.compile(rb"\[UIDVALIDITY (\d+)\]")


class MailboxError(ClientError):
    """The IMAP server could not be reached, refused the login, or has no such folder."""


@dataclass
class SyncResult:
    uidvalidity: int
    last_uid: int
    messages: int = 0
    imported: list[Imported] = field(default_factory=list)


def _load_state(path: Path) -> dict[str, Any]:
    try:
        value = json.loads(path.read_text("utf-8"))
    except FileNotFoundError:
        return {}
    except (OSError, ValueError) as exc:
        raise ClientError(f"Cannot read {path}: {exc}; delete it to sync from the start.") from exc
    return value if isinstance(value, dict) else {}


def _ok(response: Any, what: str) -> Any:
    if response.result != "OK":
        said = b" ".join(line for line in response.lines if isinstance(line, bytes))
        raise MailboxError(f"The IMAP server refused {what}: {said.decode('utf-8', 'replace')}")
    return response


async def sync(settings: ImapSettings, password: str, inbox: Inbox, home: Path) -> SyncResult:
    state_path = home / STATE_FILE
    state = _load_state(state_path)
    client_class = aioimaplib.IMAP4_SSL if settings.security == "tls" else aioimaplib.IMAP4
    try:
        imap = client_class(host=settings.host, port=settings.port, timeout=30)
        await imap.wait_hello_from_server()
    except (OSError, TimeoutError) as exc:
        raise MailboxError(
            f"Cannot reach the IMAP server {settings.host}:{settings.port}: {exc}."
        ) from exc
    try:
        _ok(await imap.login(settings.user, password), f"the login for {settings.user}")
        selected = _ok(await imap.select(settings.folder), f"the folder {settings.folder}")
        found = [_UIDVALIDITY.search(bytes(line)) for line in selected.lines]
        validity = next((int(m.group(1)) for m in found if m), 0)
        mine = state.get(settings.key, {})
        last = int(mine.get("last_uid", 0)) if mine.get("uidvalidity") == validity else 0
        result = SyncResult(validity, last)
        searched = _ok(await imap.uid_search(f"UID {last + 1}:*"), "the search")
        uids = sorted(
            int(word)
            for line in searched.lines
            if isinstance(line, bytes)
            for word in line.split()
            if word.isdigit()
        )
        for uid in (u for u in uids if u > last):
            fetched = _ok(await imap.uid("fetch", str(uid), "(BODY.PEEK[])"), "the fetch")
            raw = next((bytes(x) for x in fetched.lines if isinstance(x, bytearray)), None)
            if raw is not None:
                result.imported += inbox.import_message(raw, f"{settings.folder}:{uid}")
                result.messages += 1
            result.last_uid = uid
            # Saved after each message, so an interrupted sync resumes where it stopped.
            state[settings.key] = {"uidvalidity": validity, "last_uid": uid}
            write_private_file(state_path, json.dumps(state, indent=2).encode())
        return result
    except TimeoutError as exc:
        raise MailboxError(f"The IMAP server {settings.host} stopped answering.") from exc
    finally:
        # Already gone: nothing left to close politely.
        with contextlib.suppress(Exception):
            await imap.logout()
