"""Envelope cost: seal and open for 1, 3 and 10 recipients against the raw PyNaCl calls.

    .venv/bin/python -m bench.envelope [--size BYTES] [--rounds N] [--json]

The baseline for each operation is the sequence of PyNaCl calls ``keys.envelope`` makes, on
inputs of the same sizes: for sealing, two Ed25519 signatures, the random draws, one
XChaCha20-Poly1305 encryption and, per recipient, ``crypto_box_seed_keypair``, BLAKE2b and
``crypto_box``; for opening, two Ed25519 verifications, ``crypto_box_seal_open`` and one
decryption. The implementation and its baseline are timed alternately, several rounds each, and
the median per-call time of the rounds is reported. The goal is a ratio of at most 1.5.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass

import nacl.bindings as sodium
import nacl.public
import nacl.signing
import nacl.utils

from keys import statement as sig
from keys.encoding import canonical_json
from keys.envelope import Envelope, Recipient, open_envelope, seal

GOAL = 1.5
PURPOSE = "closedset/scene/boundary-sheet/v1"
THREAD = bytes(16)


@dataclass
class Row:
    recipients: int
    operation: str
    closedset_us: float
    raw_us: float

    @property
    def ratio(self) -> float:
        return self.closedset_us / self.raw_us


def _people(n: int) -> tuple[nacl.signing.SigningKey, nacl.public.PrivateKey, list[Recipient]]:
    keys = [
        (
            nacl.signing.SigningKey(hashlib.sha256(b"bench/identity/%d" % i).digest()),
            nacl.public.PrivateKey(hashlib.sha256(b"bench/device/%d" % i).digest()),
        )
        for i in range(n)
    ]
    recipients = [Recipient(bytes(s.verify_key), bytes(d.public_key)) for s, d in keys]
    return keys[0][0], keys[0][1], recipients


def _calibrate(fn: Callable[[], object], target: float = 0.04) -> int:
    """Calls per timed batch so that one batch takes about ``target`` seconds."""
    reps = 1
    while True:
        start = time.perf_counter()
        for _ in range(reps):
            fn()
        if time.perf_counter() - start >= target / 4 or reps >= 1 << 16:
            elapsed = time.perf_counter() - start
            return max(1, int(reps * target / max(elapsed, 1e-9)))
        reps *= 2


def _per_call(fn: Callable[[], object], reps: int) -> float:
    start = time.perf_counter()
    for _ in range(reps):
        fn()
    return (time.perf_counter() - start) / reps


def compare(
    ours: Callable[[], object], raw: Callable[[], object], rounds: int
) -> tuple[float, float]:
    """Median per-call seconds of ``ours`` and ``raw``, timed alternately to share the noise."""
    ours(), raw()  # warm up
    reps_ours, reps_raw = _calibrate(ours), _calibrate(raw)
    times_ours, times_raw = [], []
    for i in range(rounds):
        # Alternate which goes first so drift in machine load does not favour either.
        pair = [(ours, reps_ours, times_ours), (raw, reps_raw, times_raw)]
        for fn, reps, out in pair if i % 2 == 0 else reversed(pair):
            out.append(_per_call(fn, reps))
    return statistics.median(times_ours), statistics.median(times_raw)


def bench_recipients(n: int, size: int, rounds: int) -> list[Row]:
    sender, device, recipients = _people(n)
    plaintext = bytes(range(256)) * (size // 256) + bytes(size % 256)

    def ours_seal() -> object:
        return seal(
            plaintext,
            sender=sender,
            recipients=recipients,
            thread=THREAD,
            prev=None,
            purpose=PURPOSE,
        )

    opened = ours_seal()  # type: ignore[assignment]
    envelope: Envelope = opened.envelope  # type: ignore[attr-defined]
    context_bytes = envelope.context.to_bytes()
    outer_message = canonical_json(envelope._unsigned_json())
    inner_message = hashlib.sha256(context_bytes).digest() + plaintext
    devices = [r.device for r in envelope.context.recipients]
    data = envelope.to_bytes()
    public = bytes(device.public_key)
    wrapped = envelope.wrapped_keys[devices.index(public)]

    def raw_seal() -> object:
        inner = sender.sign(sig.signing_input(sig.ENVELOPE_INNER, inner_message)).signature
        key = nacl.utils.random(32)
        nonce = nacl.utils.random(24)
        ct = sodium.crypto_aead_xchacha20poly1305_ietf_encrypt(
            inner + plaintext, context_bytes, nonce, key
        )
        for pk in devices:
            epk, esk = sodium.crypto_box_seed_keypair(nacl.utils.random(32))
            box_nonce = sodium.crypto_generichash_blake2b_salt_personal(epk + pk, digest_size=24)
            sodium.crypto_box(key, box_nonce, pk, esk)
        return ct, sender.sign(sig.signing_input(sig.ENVELOPE_OUTER, outer_message))

    inner_sig = sender.sign(sig.signing_input(sig.ENVELOPE_INNER, inner_message)).signature
    outer_sig = envelope.signature
    sender_key = bytes(sender.verify_key)

    def ours_open() -> object:
        return open_envelope(Envelope.from_bytes(data), device)

    def ours_open_parsed() -> object:
        return open_envelope(envelope, device)

    def raw_open() -> object:
        nacl.signing.VerifyKey(sender_key).verify(
            sig.signing_input(sig.ENVELOPE_OUTER, outer_message), outer_sig
        )
        key = sodium.crypto_box_seal_open(wrapped, public, bytes(device))
        out = sodium.crypto_aead_xchacha20poly1305_ietf_decrypt(
            envelope.ciphertext, context_bytes, envelope.nonce, key
        )
        nacl.signing.VerifyKey(sender_key).verify(
            sig.signing_input(sig.ENVELOPE_INNER, inner_message), inner_sig
        )
        return out

    rows = []
    for name, ours, raw in (
        ("seal", ours_seal, raw_seal),
        ("open (from bytes)", ours_open, raw_open),
        ("open (parsed)", ours_open_parsed, raw_open),
    ):
        t_ours, t_raw = compare(ours, raw, rounds)
        rows.append(Row(n, name, t_ours * 1e6, t_raw * 1e6))
    return rows


def render(rows: list[Row], size: int) -> str:
    lines = [
        f"Envelope cost, {size}-byte plaintext (median per call; goal ratio <= {GOAL}x)",
        "",
        f"{'recipients':>10}  {'operation':<18} {'closedset':>11} {'raw PyNaCl':>11} {'ratio':>6}",
    ]
    for r in rows:
        flag = "" if r.ratio <= GOAL else "  over goal"
        lines.append(
            f"{r.recipients:>10}  {r.operation:<18} {r.closedset_us:>9.1f}us {r.raw_us:>9.1f}us"
            f" {r.ratio:>5.2f}x{flag}"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Envelope seal/open cost vs raw PyNaCl calls.")
    parser.add_argument("--size", type=int, default=1024, help="plaintext bytes (default 1024)")
    parser.add_argument("--rounds", type=int, default=9, help="timed rounds per figure")
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")
    args = parser.parse_args(argv)
    rows = [row for n in (1, 3, 10) for row in bench_recipients(n, args.size, args.rounds)]
    if args.json:
        print(
            json.dumps(
                {
                    "plaintext_bytes": args.size,
                    "goal_ratio": GOAL,
                    "rows": [{**asdict(r), "ratio": round(r.ratio, 3)} for r in rows],
                },
                indent=2,
            )
        )
    else:
        print(render(rows, args.size))
    return 0


if __name__ == "__main__":
    sys.exit(main())
