"""Building an evidence bundle from a party's own scene session.

The party chooses what to disclose (by default the statements a court needs: the scene brief,
the rider versions up to N, the acceptances, withdrawals and filmed marks they can open; never
another performer's sheet), and the exporter fetches everything else from the relay: the
latest (cosigned) checkpoint, an inclusion proof per entry at that checkpoint, the identity
histories with their receipts, and consistency proofs from every checkpoint this profile kept
from earlier exports. It then runs counsel's own verifier over the result before writing it.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from client.errors import ClientError, UsageError
from client.evidence import kept as kept_store
from client.evidence.bundle import Bundle, ConsistencyProof, IdentityRecord, ThreadEntry
from client.evidence.logcheck import Policy
from client.evidence.manifest import sign_manifest
from client.evidence.verify import Report, verify_bundle
from client.negotiate import OpenedStatement, SceneSession
from client.negotiation import statements as st
from keys.checkpoint import Checkpoint, open_checkpoint
from keys.encoding import b64u_decode
from keys.envelope import encode_disclosure
from keys.errors import KeysError
from keys.identity import Fingerprint
from keys.keystore import write_private_file
from keys.logentry import RecordType, encode_entry
from keys.note import split_note
from keys.tlogproof import TlogProof

SEEN_FILE = Path("evidence") / "checkpoints.json"
MAX_SEEN = 64

KINDS: dict[type, str] = {
    st.SceneBrief: "brief", st.SceneRequests: "requests", st.BoundarySheet: "sheet",
    st.Rider: "rider", st.Acceptance: "acceptance", st.Counter: "counter",
    st.Withdrawal: "withdrawal", st.FilmedMark: "filmed", st.CheckIn: "check-in",
    st.TransgressionReport: "report", st.Message: "message", st.SceneClose: "close",
    st.Waiver: "waiver", st.ReplicaConsent: "replica-consent", st.ReGrant: "re-grant",
    st.Annex: "annex", st.RepairPlan: "repair-plan",
}  # fmt: skip
DEFAULT_KINDS = frozenset({"brief", "rider", "acceptance", "withdrawal", "filmed"})


class EvidenceError(ClientError):
    """The relay's answers do not add up to evidence that verifies; nothing was written."""


@dataclass(frozen=True)
class Selection:
    version: int | None = None
    include: tuple[str, ...] = ()
    exclude: tuple[str, ...] = ()


def _matches(item: OpenedStatement, spec: str) -> bool:
    if spec.startswith("index:"):
        return spec == f"index:{item.cached.index}"
    if spec in KINDS.values():
        return KINDS[type(item.event.statement)] == spec
    return len(spec) >= 8 and item.cached.envelope.hash.hex().startswith(spec.lower())


def select(items: Sequence[OpenedStatement], me: bytes, choice: Selection) -> list[OpenedStatement]:
    """The statements to disclose, in log order."""
    for spec in (*choice.include, *choice.exclude):
        if not (spec.startswith("index:") or spec in KINDS.values() or len(spec) >= 8):
            raise UsageError(
                f"{spec!r} names nothing to disclose: use a kind "
                f"({', '.join(sorted(KINDS.values()))}), index:N or the start of an envelope hash."
            )
    chosen = []
    for item in items:
        statement = item.event.statement
        kind = KINDS[type(statement)]
        version = getattr(statement, "version", None)
        wanted = kind in DEFAULT_KINDS and not (
            choice.version is not None
            and kind in ("rider", "acceptance", "filmed")
            and isinstance(version, int)
            and version > choice.version
        )
        wanted = (wanted or any(_matches(item, s) for s in choice.include)) and not any(
            _matches(item, s) for s in choice.exclude
        )
        if wanted and kind == "sheet" and item.event.sender != me:
            # Never another performer's sheet: a partner must never read a "no".
            if any(_matches(item, s) for s in choice.include if s != "sheet"):
                raise UsageError("Another performer's boundary sheet is never disclosed.")
            continue
        if wanted:
            chosen.append(item)
    return chosen


async def export_bundle(
    session: SceneSession, choice: Selection, *, prove_from: Iterable[int] = (), now: int
) -> tuple[Bundle, Report]:
    """Assemble, verify and return the bundle; :class:`EvidenceError` if it does not verify."""
    await session.sync()
    relay, profile = session.relay, session.profile
    verifier = await relay.log_verifier()
    note = await relay.checkpoint_note()
    try:
        checkpoint = open_checkpoint(note, verifier).checkpoint
    except KeysError as exc:
        raise EvidenceError(f"The relay's checkpoint does not verify: {exc}") from exc
    items = session.cache.items
    if not items:
        raise EvidenceError("This scene has no entries yet; there is nothing to export.")
    if items[-1].index >= checkpoint.size:
        raise EvidenceError("The relay's checkpoint does not cover the scene yet; try again.")
    disclosed = {o.cached.envelope.hash: o for o in select(session.opened(), session.me, choice)}

    async def tlog_proof(index: int) -> str:
        hashes = tuple(await relay.inclusion_proof(index, checkpoint.size))
        return TlogProof(index, hashes, note).to_text()

    entries = []
    for cached in items:
        entry = encode_entry(RecordType.ENVELOPE, cached.envelope.hash, cached.received_ms)
        opened = disclosed.get(cached.envelope.hash)
        disclosure = None if opened is None else json.loads(encode_disclosure(opened.opened))
        entries.append(ThreadEntry(entry, await tlog_proof(cached.index), disclosure))

    people = {session.me} | {o.opened.sender for o in disclosed.values()}
    for o in disclosed.values():
        people |= o.opened.context.recipient_identities
    identities = []
    for identity in sorted(people):
        history, receipts = await relay.lookup(Fingerprint.of(identity))
        by_digest = {r.entry.digest: r for r in receipts}
        records = []
        for record in history.records:
            receipt = by_digest.get(hashlib.sha256(record.to_bytes()).digest())
            if receipt is None:
                raise EvidenceError(f"The relay did not prove {history.name}'s records logged.")
            entry = b64u_decode(receipt.raw["entry"], what="log entry")
            records.append(IdentityRecord(record.to_json(), entry, await tlog_proof(receipt.index)))
        identities.append(tuple(records))

    seen = _load_seen(profile.home, checkpoint.origin)
    sizes = {s for s in prove_from if 0 < s < checkpoint.size}
    sizes |= {c.checkpoint.size for c in seen if c.checkpoint.size < checkpoint.size}
    consistency = []
    for s in sorted(sizes):
        hashes = tuple(await relay.consistency_proof(s, checkpoint.size))
        consistency.append(ConsistencyProof(s, hashes))
    manifest = sign_manifest(
        profile.signing_key(),
        thread=session.scene.thread_id,
        created_at=now,
        checkpoint=checkpoint,
        disclosed=[c.envelope.hash for c in items if c.envelope.hash in disclosed],
        withheld=[c.envelope.hash for c in items if c.envelope.hash not in disclosed],
    )
    bundle = Bundle(
        thread=session.scene.thread_id,
        manifest=manifest,
        log_key=verifier.key_string(),
        checkpoint=note,
        consistency=tuple(consistency),
        entries=tuple(entries),
        identities=tuple(identities),
    )
    # The exporter checks as counsel will, against what this profile saw before, so a relay
    # that rolled back or forked since the last export is caught before anything is sent.
    report = verify_bundle(
        bundle.to_bytes(),
        Policy(log_key=verifier.key_string()),
        kept_store.KeptLog(None, tuple(seen)),
        now=now,
    )
    if not report.verified:
        raise EvidenceError(f"The bundle does not verify: {report.failures[0].sentence}")
    _remember(profile.home, checkpoint, note)
    return bundle, report


def _load_seen(home: Path, origin: str) -> list[kept_store.KeptCheckpoint]:
    try:
        notes = json.loads((home / SEEN_FILE).read_bytes()).get(origin, [])
    except FileNotFoundError:
        return []
    seen = []
    for text in notes:
        try:
            seen.append(kept_store.KeptCheckpoint(Checkpoint.parse(split_note(text)[0]), text))
        except KeysError:
            continue
    return seen


def _remember(home: Path, checkpoint: Checkpoint, note: str) -> None:
    path = home / SEEN_FILE
    try:
        value = json.loads(path.read_bytes())
    except FileNotFoundError:
        value = {}
    notes = [n for n in value.get(checkpoint.origin, []) if n != note] + [note]
    value[checkpoint.origin] = notes[-MAX_SEEN:]
    write_private_file(path, json.dumps(value, sort_keys=True).encode("utf-8"))
