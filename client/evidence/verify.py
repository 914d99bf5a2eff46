"""The offline verifier: bundle bytes and counsel's policy in, a structured report out.

Pure: no network, no clock (``now`` is passed in), no files (the kept checkpoints are passed
in and the checkpoint to keep is handed back). The order of the checks follows the trust
chain: log key, checkpoint and witnesses, earlier checkpoints, each entry's log proof, the
disclosed envelopes, the identities, the manifest, the chain of previous hashes.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from client.evidence import kept as kept_store
from client.evidence.bundle import Bundle, read_bundle
from client.evidence.entries import check_chain, check_entries
from client.evidence.failures import BundleError, Failure
from client.evidence.findings import Findings
from client.evidence.identities import check_identities, check_validity
from client.evidence.logcheck import LogView, Policy, check_log
from client.evidence.manifest import check_manifest
from client.evidence.story import SceneStory, tell, utc
from keys.identity import Fingerprint


@dataclass
class Report:
    """Everything counsel is told; ``verified`` is True only when nothing failed."""

    checked_at: int
    failures: list[Failure]
    warnings: list[str] = field(default_factory=list)
    trace: list[str] = field(default_factory=list)
    log: LogView | None = None
    exporter: dict[str, Any] | None = None
    story: SceneStory | None = None
    bundle: Bundle | None = None
    counts: dict[str, int] = field(default_factory=dict)

    @property
    def verified(self) -> bool:
        return not self.failures

    def to_json(self) -> dict[str, Any]:
        log = self.log
        checkpoint = None if log is None or log.checkpoint is None else log.checkpoint
        return {
            "verified": self.verified,
            "checked_at": utc(self.checked_at),
            "failures": [f.to_json() for f in self.failures],
            "warnings": self.warnings,
            "log": None
            if log is None
            else {
                "key": log.key,
                "key_from_bundle": log.key_from_bundle,
                "origin": None if checkpoint is None else checkpoint.origin,
                "size": None if checkpoint is None else checkpoint.size,
                "root_hash": None if checkpoint is None else checkpoint.root_hash.hex(),
                "cosigned_by": log.cosigned_by,
            },
            "exporter": self.exporter,
            "counts": self.counts,
            "scene": None if self.story is None else self.story.to_json(),
        }


def verify_bundle(
    data: bytes, policy: Policy, kept: kept_store.KeptLog | None, *, now: int
) -> Report:
    f = Findings()
    try:
        bundle = read_bundle(data)
    except BundleError as exc:
        return Report(now, [exc.failure], trace=[f"FAILED [{exc.failure.code}] {exc}"])
    view = check_log(bundle, policy, f)
    proofs = {p.from_size: p.hashes for p in bundle.consistency}
    if view.checkpoint is not None and kept is not None:
        if kept.key is not None and view.key is not None and kept.key != view.key:
            f.fail(
                "log-key-changed",
                f"Checkpoints you kept for {view.checkpoint.origin} were signed by another log "
                "key; a log never changes its key, so ask the relay operator why.",
            )
        kept_store.compare(view.checkpoint, proofs, kept.checkpoints, f)
    entries = check_entries(bundle, view, f)
    people = check_identities(bundle, view, f)
    check_validity(entries, people, f)
    manifest = check_manifest(bundle, view.checkpoint, entries, people, f)
    check_chain(entries, f)
    if not policy.witnesses:
        f.warn(
            "No witness keys were given, so nobody independent vouches that the relay showed "
            "everyone this same log; your kept checkpoints are the only check on that."
        )
    exporter = None
    if manifest is not None:
        known = people.get(manifest.signer)
        exporter = {
            "name": known.history.name if known else "an unknown key",
            "fingerprint": Fingerprint.of(manifest.signer).grouped(),
            "exported_at": utc(int(manifest.body["created_at"])),
        }
    disclosed = sum(1 for c in entries if c.disclosed)
    return Report(
        checked_at=now,
        failures=f.failures,
        warnings=f.warnings,
        trace=f.trace,
        log=view,
        exporter=exporter,
        story=tell(entries, people),
        bundle=bundle,
        counts={
            "entries": len(entries),
            "disclosed": disclosed,
            "withheld": len(entries) - disclosed,
            "identities": len(people),
        },
    )


def keep_after(report: Report) -> tuple[str, Any, str, dict[int, tuple[bytes, ...]]] | None:
    """What to keep from a verified bundle: (key, checkpoint, note, proofs), else None."""
    if not report.verified or report.log is None or report.bundle is None:
        return None
    if report.log.checkpoint is None or report.log.key is None:
        return None
    proofs = {p.from_size: p.hashes for p in report.bundle.consistency}
    return report.log.key, report.log.checkpoint, report.bundle.checkpoint, proofs
