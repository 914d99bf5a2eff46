"""Every way an evidence bundle can fail to verify: a stable code and one sentence each.

The code is what ``closedset verify --json`` prints and what scripts and tests match; the
sentence is what a lawyer reads. The catalogue below is also the table in docs/protocol.md.
"""

from __future__ import annotations

from dataclasses import dataclass

# code -> what it means, in the words the report uses for the whole class of failure.
CATALOGUE: dict[str, str] = {
    # the file itself
    "bundle-armor": "the armored text is damaged",
    "bundle-malformed": "the file is not an evidence bundle (truncated or missing parts)",
    "bundle-not-canonical": "the file is not in its one canonical encoding",
    "bundle-unknown-format": "the file is an evidence format this version does not know",
    # the exporter's signed manifest
    "manifest-signature": "the exporter's signature over the list of entries does not verify",
    "manifest-mismatch": "the exporter's signed list does not match the bundle",
    "disclosure-missing": "an envelope the exporter's list says is disclosed is not in the bundle",
    # the log: key, checkpoint, witnesses, earlier checkpoints
    "log-key-malformed": "the log key is not a log verifier key",
    "log-key-mismatch": "the bundle names another log key than the one you gave",
    "log-key-changed": "the log key differs from the one kept for this log",
    "checkpoint-malformed": "the checkpoint is not a signed checkpoint",
    "checkpoint-signature": "the checkpoint is not signed by the log key",
    "cosignature-invalid": "a listed witness's cosignature does not verify",
    "witness-missing": "fewer witnesses cosigned the checkpoint than required",
    "witness-unknown": "the checkpoint is cosigned only by witnesses you did not list",
    "split-view": "the log showed two different trees of the same size",
    "consistency-invalid": "a consistency proof with an earlier checkpoint does not verify",
    "consistency-unproven": "the bundle carries no proof that it extends a kept checkpoint",
    "rollback": "the checkpoint is older than one kept, and nothing proves it a prefix of it",
    # log proofs of single entries
    "proof-malformed": "a tlog-proof is not in the c2sp.org/tlog-proof@v1 format",
    "proof-checkpoint-differs": "a tlog-proof leads to another checkpoint than the bundle's",
    "index-out-of-range": "a log index lies beyond the checkpoint",
    "inclusion-malformed": "an inclusion proof has the wrong number of hashes",
    "inclusion-mismatch": "an inclusion proof does not lead to the checkpoint's root",
    "entry-malformed": "a log entry is not a 42-byte entry",
    "entry-wrong-type": "a log entry has the wrong record type",
    "entry-digest-mismatch": "a log entry names other bytes than those disclosed",
    "entries-out-of-order": "the thread's entries are not in log order",
    "entry-duplicate": "the same log entry is listed twice",
    # disclosed envelopes
    "disclosure-misplaced": "a disclosed envelope is attached to another entry than its own",
    "envelope-malformed": "a disclosed envelope is not in its canonical form",
    "envelope-signature": "the outer signature of a disclosed envelope does not verify",
    "message-key-wrong": "a message key does not open its envelope",
    "envelope-inner-signature": "the inner signature over the content does not verify",
    "wrong-thread": "a disclosed envelope belongs to another thread",
    # the thread's chain of previous hashes
    "chain-gap": "an envelope names a previous envelope the bundle does not list",
    "chain-order": "an envelope names as previous an entry logged after it",
    "chain-two-starts": "more than one envelope starts the thread",
    "chain-start-not-first": "the envelope that starts the thread is not its first entry",
    # identities
    "identity-missing": "the identity history of a signer or recipient is missing",
    "identity-signature": "an identity record's signature does not verify",
    "identity-history-invalid": "an identity history is inconsistent",
    "identity-entry-mismatch": "an identity record's log entry names other bytes",
    "signer-not-logged": "a signer's identity was not yet logged when they signed",
    "signer-revoked": "a signer's identity was revoked before they signed",
    "device-not-certified": "an envelope was encrypted to a device key nobody certified",
    "device-certified-late": "a device key was certified only after it was used",
    "device-revoked": "an envelope was encrypted to a device key already revoked",
}


@dataclass(frozen=True)
class Failure:
    """One thing that does not verify: its code and one sentence a lawyer can read."""

    code: str
    sentence: str

    def __post_init__(self) -> None:
        if self.code not in CATALOGUE:
            raise ValueError(f"{self.code!r} is not a failure code in the catalogue.")

    def to_json(self) -> dict[str, str]:
        return {"code": self.code, "sentence": self.sentence}


class BundleError(Exception):
    """The bundle cannot be read at all; nothing else can be checked."""

    def __init__(self, code: str, sentence: str) -> None:
        super().__init__(sentence)
        self.failure = Failure(code, sentence)
