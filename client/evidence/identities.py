"""Checking who signed: each identity history with a log proof per record, and for every
disclosed envelope that its signer and every recipient device were valid at its log time.

"Valid at" is judged from the records logged before the envelope (by log index), so a
revocation signed later and backdated cannot disown an earlier signature, and a certificate
logged later cannot bless an earlier use.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from client.evidence.bundle import Bundle
from client.evidence.entries import CheckedEntry
from client.evidence.findings import Findings
from client.evidence.logcheck import LogView, check_inclusion
from keys.errors import KeysError, SignatureError
from keys.identity import KeyHistory, check_identity_statement
from keys.logentry import RecordType, decode_entry
from keys.merkle import hash_leaf
from keys.statement import Statement


@dataclass(frozen=True)
class CheckedHistory:
    history: KeyHistory
    indices: tuple[int | None, ...]  # the log index of each record, in history order

    def as_of(self, index: int) -> KeyHistory | None:
        """The history as the log knew it just before ``index``; None before registration."""
        pairs = zip(self.history.records, self.indices, strict=True)
        prefix = [r for r, i in pairs if i is not None and i < index]
        try:
            return KeyHistory.from_records(prefix) if prefix else None
        except KeysError:
            return None


def check_identities(bundle: Bundle, view: LogView, f: Findings) -> dict[bytes, CheckedHistory]:
    people: dict[bytes, CheckedHistory] = {}
    for number, records in enumerate(bundle.identities, 1):
        statements, indices = [], []
        for position, record in enumerate(records, 1):
            what = f"identity record {position} of identity {number}"
            try:
                statement = check_identity_statement(Statement.from_json(record.statement))
            except SignatureError:
                f.fail("identity-signature", f"The signature on {what} does not verify.")
                break
            except KeysError as exc:
                f.fail("identity-history-invalid", f"The {what} cannot be read: {exc}")
                break
            statements.append(statement)
            indices.append(
                _check_logged(what, statement, record.entry, record.proof, bundle, view, f)
            )
        else:
            try:
                history = KeyHistory.from_records(statements)
            except KeysError as exc:
                f.fail("identity-history-invalid", f"Identity {number} is inconsistent: {exc}")
                continue
            if history.identity_key in people:
                f.fail("identity-history-invalid", f"{history.name}'s history is listed twice.")
            people[history.identity_key] = CheckedHistory(history, tuple(indices))
    return people


def _check_logged(
    what: str,
    statement: Statement,
    entry: bytes,
    proof: str,
    bundle: Bundle,
    view: LogView,
    f: Findings,
) -> int | None:
    try:
        fields = decode_entry(entry)
    except KeysError as exc:
        f.fail("entry-malformed", f"The log entry of {what} is not a log entry: {exc}")
        return None
    index = check_inclusion(what, proof, hash_leaf(entry), bundle, view, f)
    if fields.record_type != RecordType.IDENTITY_RECORD:
        f.fail("entry-wrong-type", f"The log entry of {what} is not logged as an identity record.")
    if fields.digest != hashlib.sha256(statement.to_bytes()).digest():
        f.fail("identity-entry-mismatch", f"The log entry of {what} names other bytes than it.")
    return index


def check_validity(
    entries: list[CheckedEntry], people: dict[bytes, CheckedHistory], f: Findings
) -> None:
    for c in entries:
        if c.envelope is None or c.index is None or c.at_ms is None:
            continue
        when, sender = c.at_ms // 1000, c.envelope.context.sender
        where = f"the envelope at log index {c.index}"
        signer = people.get(sender)
        if signer is None:
            f.fail(
                "identity-missing", f"The bundle has no identity history for the signer of {where}."
            )
            continue
        name = signer.history.name
        then = signer.as_of(c.index)
        if then is None or then.created_at > when:
            f.fail("signer-not-logged", f"{name}'s identity was not yet logged when {where} was.")
        elif then.revoked_at is not None and then.revoked_at <= when:
            f.fail("signer-revoked", f"{name} signed {where} after revoking that identity key.")
        for recipient in c.envelope.context.recipients:
            _check_device(where, recipient.identity, recipient.device, c.index, when, people, f)


def _check_device(
    where: str,
    identity: bytes,
    device: bytes,
    index: int,
    when: int,
    people: dict[bytes, CheckedHistory],
    f: Findings,
) -> None:
    owner = people.get(identity)
    if owner is None:
        f.fail(
            "identity-missing", f"The bundle has no identity history for a recipient of {where}."
        )
        return
    name, then = owner.history.name, owner.as_of(index)
    if then is not None and device in then.devices_at(when):
        return
    span = None if then is None else next((s for s in then.spans if s.device == device), None)
    if then is not None and (
        (span is not None and span.until is not None and span.until <= when)
        or (span is not None and then.revoked_at is not None and then.revoked_at <= when)
    ):
        f.fail(
            "device-revoked",
            f"{where.capitalize()} was encrypted to a device key {name} had revoked.",
        )
    elif any(s.device == device for s in owner.history.spans):
        f.fail(
            "device-certified-late",
            f"{where.capitalize()} was encrypted to a device key {name} certified only later.",
        )
    else:
        f.fail(
            "device-not-certified",
            f"{where.capitalize()} was encrypted to a device key that {name} never certified.",
        )
