"""Checking the thread's entries: each log entry and its proof, each disclosed envelope opened
with its message key (outer signature, AEAD, inner signature), and the chain of previous
hashes that ties the disclosed envelopes to the entries listed beside them.
"""

from __future__ import annotations

import hashlib
import itertools
from dataclasses import dataclass

from client.evidence.bundle import Bundle, ThreadEntry
from client.evidence.findings import Findings, short
from client.evidence.logcheck import LogView, check_inclusion
from client.negotiate import SCENE_PURPOSE, unwrap
from client.negotiation.errors import NegotiationError
from client.negotiation.statements import Statement
from keys.encoding import b64u_decode, canonical_json
from keys.envelope import Envelope, Opened, open_with_message_key
from keys.errors import DecryptionError, KeysError, SignatureError
from keys.logentry import LogEntryFields, RecordType, decode_entry
from keys.merkle import hash_leaf


@dataclass(frozen=True)
class CheckedEntry:
    """One thread entry after its checks; ``statement`` is set only if everything held."""

    position: int
    index: int | None
    fields: LogEntryFields | None
    envelope: Envelope | None = None
    opened: Opened | None = None
    statement: Statement | None = None

    @property
    def disclosed(self) -> bool:
        return self.envelope is not None

    @property
    def at_ms(self) -> int | None:
        return None if self.fields is None else self.fields.received_ms

    def name(self) -> str:
        where = f"log index {self.index}" if self.index is not None else f"item {self.position}"
        return f"the thread entry at {where}"


def check_entries(bundle: Bundle, view: LogView, f: Findings) -> list[CheckedEntry]:
    checked = [_check_entry(n, item, bundle, view, f) for n, item in enumerate(bundle.entries)]
    _check_order(checked, f)
    digests = {c.fields.digest: c for c in checked if c.fields is not None}
    pairs = zip(checked, bundle.entries, strict=True)
    return [_open(c, item, bundle, digests, f) for c, item in pairs]


def _check_entry(
    position: int, item: ThreadEntry, bundle: Bundle, view: LogView, f: Findings
) -> CheckedEntry:
    what = f"thread entry {position + 1}"
    try:
        fields = decode_entry(item.entry)
    except KeysError as exc:
        f.fail("entry-malformed", f"The log entry of {what} is not a log entry: {exc}")
        return CheckedEntry(position, None, None)
    index = check_inclusion(what, item.proof, hash_leaf(item.entry), bundle, view, f)
    if fields.record_type != RecordType.ENVELOPE:
        f.fail(
            "entry-wrong-type",
            f"The log entry at index {index} is logged as an identity record, not as an "
            "envelope of the thread.",
        )
    return CheckedEntry(position, index, fields)


def _check_order(checked: list[CheckedEntry], f: Findings) -> None:
    seen: set[bytes] = set()
    for before, after in itertools.pairwise(checked):
        if before.index is not None and after.index is not None and before.index > after.index:
            f.fail(
                "entries-out-of-order",
                f"The thread's entries are not in log order: log index {before.index} is "
                f"listed before log index {after.index}.",
            )
            break
    for c in checked:
        if c.fields is None:
            continue
        if c.fields.digest in seen:
            f.fail("entry-duplicate", f"{c.name().capitalize()} is listed twice.")
        seen.add(c.fields.digest)


def _open(
    c: CheckedEntry,
    item: ThreadEntry,
    bundle: Bundle,
    digests: dict[bytes, CheckedEntry],
    f: Findings,
) -> CheckedEntry:
    if item.disclosure is None or c.fields is None:
        return c
    where = c.name()
    try:
        envelope = Envelope.from_bytes(canonical_json(item.disclosure["envelope"]))
    except (KeysError, TypeError, ValueError) as exc:
        f.fail("envelope-malformed", f"The envelope disclosed at {where} cannot be read: {exc}")
        return c
    if envelope.context.thread != bundle.thread:
        f.fail("wrong-thread", f"The envelope disclosed at {where} belongs to another thread.")
        return c
    try:
        envelope.verify_outer()
    except SignatureError:
        f.fail(
            "envelope-signature",
            f"The envelope disclosed at {where} was altered: its sender's signature fails.",
        )
        return c
    digest = hashlib.sha256(envelope.to_bytes()).digest()
    if digest != c.fields.digest:
        other = digests.get(digest)
        if other is not None:
            f.fail(
                "disclosure-misplaced",
                f"The envelope disclosed at {where} is the one logged at {other.name()}.",
            )
        else:
            f.fail(
                "entry-digest-mismatch",
                f"The log entry at {where} names envelope {short(c.fields.digest)}, but the "
                f"envelope disclosed there is {short(digest)}.",
            )
        return c
    try:
        key = b64u_decode(item.disclosure["message_key"], length=32, what="message key")
        opened = open_with_message_key(envelope, key)
    except SignatureError:
        f.fail(
            "envelope-inner-signature",
            f"The content of the envelope at {where} is not signed by its sender.",
        )
        return c
    except (DecryptionError, KeysError, TypeError):
        f.fail("message-key-wrong", f"The message key given for {where} does not open it.")
        return c
    try:
        if opened.context.purpose != SCENE_PURPOSE:
            raise NegotiationError(f"its purpose is {opened.context.purpose}")
        statement = unwrap(opened.plaintext)
    except (KeysError, NegotiationError, ValueError, TypeError, KeyError) as exc:
        # A finding, not a failure: its signatures and its proof hold; only its content is
        # not a scene statement this version reads (the scene's readers skip it the same way).
        f.warn(
            f"The envelope at {where} is signed by its sender and logged, but holds no scene "
            f"statement this version can read ({exc}); it is left out of the story."
        )
        return CheckedEntry(c.position, c.index, c.fields, envelope, opened, None)
    return CheckedEntry(c.position, c.index, c.fields, envelope, opened, statement)


def check_chain(entries: list[CheckedEntry], f: Findings) -> None:
    """Every ``prev`` must name a listed entry logged earlier; one envelope starts the thread."""
    by_digest = {c.fields.digest: c for c in entries if c.fields is not None}
    indices = [c.index for c in entries if c.index is not None]
    first = min(indices, default=None)
    starts = []
    for c in entries:
        if c.envelope is None or c.index is None:
            continue
        prev = c.envelope.context.prev
        if prev is None:
            starts.append(c)
            continue
        target = by_digest.get(prev)
        if target is None:
            f.fail(
                "chain-gap",
                f"The envelope at log index {c.index} follows envelope {short(prev)}, which the "
                "bundle does not list (neither disclosed nor withheld): the thread has a gap.",
            )
        elif target.index is not None and target.index >= c.index:
            f.fail(
                "chain-order",
                f"The envelope at log index {c.index} names as previous the entry at log index "
                f"{target.index}, which was logged after it.",
            )
    if len(starts) > 1:
        f.fail(
            "chain-two-starts",
            "The thread has more than one first envelope, at log indices "
            f"{', '.join(str(c.index) for c in starts)}.",
        )
    elif starts and starts[0].index != first:
        f.fail(
            "chain-start-not-first",
            f"The envelope that starts the thread (log index {starts[0].index}) is not its "
            f"first entry (log index {first}).",
        )
