"""``closedset evidence export`` (a party writes a bundle) and ``closedset verify`` (counsel
checks one, offline). Thin: the library in client/evidence/ does the work.
"""

from __future__ import annotations

import argparse
import asyncio
import json
from pathlib import Path

# The demo's counsel step rides on this module: loading the command loads the step.
import client.demo.counsel  # noqa: F401
from client.cli.context import Context
from client.cli.registry import Command, add_command
from client.errors import UsageError
from client.evidence import kept as kept_store
from client.evidence.export import Selection, export_bundle
from client.evidence.logcheck import Policy
from client.evidence.report import render
from client.evidence.verify import keep_after, verify_bundle
from client.negotiate import SceneSession, relay_client
from client.scenes import SceneBook
from keys.cosignature import CosignatureVerifier
from keys.errors import KeysError
from keys.keystore import write_private_file
from keys.note import NoteVerifier

KEPT_DIR = "kept-checkpoints"


def export_command(ctx: Context, args: argparse.Namespace) -> int:
    profile = ctx.unlocked_profile()
    scene = SceneBook(ctx.home).find(args.scene)
    choice = Selection(args.version, tuple(args.include), tuple(args.exclude))

    async def run() -> tuple[bytes, str]:
        async with relay_client(profile, scene.relay, ctx.clock) as relay:
            session = SceneSession(profile, scene, relay, ctx.clock)
            try:
                bundle, report = await export_bundle(
                    session, choice, prove_from=args.prove_from, now=ctx.now()
                )
            finally:
                ctx.skipped(session.unreadable)
        data = bundle.to_bytes() if ctx.json else bundle.armored().encode("ascii")
        counts = report.counts
        return data, (
            f"Wrote {args.out}: {counts['disclosed']} envelopes disclosed, "
            f"{counts['withheld']} withheld, {counts['identities']} identities; "
            "it verifies. Send it to counsel as an attachment."
        )

    data, summary = asyncio.run(run())
    write_private_file(Path(args.out), data)
    ctx.emit({"out": args.out, "bytes": len(data)}, summary)
    return 0


def verify_command(ctx: Context, args: argparse.Namespace) -> int:
    try:
        data = Path(args.file).read_bytes()
    except OSError as exc:
        raise UsageError(f"Cannot read {args.file}: {exc.strerror}.") from exc
    policy = _policy(args)
    keep = Path(args.keep) if args.keep else ctx.home / KEPT_DIR
    origin = _origin(data)
    kept = kept_store.load(keep, origin) if origin else None
    report = verify_bundle(data, policy, kept, now=ctx.now())
    kept_note = None
    to_keep = keep_after(report)
    if to_keep is not None:
        key, checkpoint, note, proofs = to_keep
        kept_store.store(keep, key, checkpoint, note, proofs)
        kept_note = f"This bundle's checkpoint ({checkpoint.size} entries) is kept in {keep}."
    if ctx.json:
        ctx.stdout.write(json.dumps(report.to_json(), indent=2, ensure_ascii=False) + "\n")
    else:
        ctx.stdout.write(render(report, verbose=args.verbose, kept_note=kept_note))
    return 0 if report.verified else 1


def _policy(args: argparse.Namespace) -> Policy:
    try:
        if args.log_key:
            NoteVerifier.from_key_string(args.log_key.strip())
        witnesses = tuple(CosignatureVerifier.from_key_string(w.strip()) for w in args.witness)
    except KeysError as exc:
        raise UsageError(f"A key you gave is not a verifier key: {exc}") from exc
    required = len(witnesses) if args.witnesses_required is None else args.witnesses_required
    if not 0 <= required <= len(witnesses):
        raise UsageError(
            f"You require {required} witnesses but gave {len(witnesses)} witness keys."
        )
    return Policy(args.log_key.strip() if args.log_key else None, witnesses, required)


def _origin(data: bytes) -> str | None:
    # Only to find the kept checkpoints; the verifier reads the bundle properly.
    from client.evidence.bundle import read_bundle
    from client.evidence.failures import BundleError

    try:
        return read_bundle(data).checkpoint.split("\n", 1)[0]
    except BundleError:
        return None


def _export_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("scene", help="the scene's alias (see `closedset scenes`)")
    parser.add_argument("--version", type=int, help="disclose rider versions up to N only")
    parser.add_argument(
        "--include", nargs="+", default=[], metavar="ITEM",
        help="also disclose: a kind (counter, check-in, report, message, close, sheet: your "
        "own only), index:N, or the start of an envelope hash",
    )  # fmt: skip
    parser.add_argument("--exclude", nargs="+", default=[], metavar="ITEM", help="do not disclose")
    parser.add_argument(
        "--prove-from", nargs="+", type=int, default=[], metavar="SIZE",
        help="add consistency proofs from these log sizes (counsel's kept checkpoints)",
    )  # fmt: skip
    parser.add_argument(
        "--out", required=True, help="the bundle file to write (armored for email; with --json, "
        "canonical JSON)",
    )  # fmt: skip


def _verify_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("file", help="the evidence bundle you were sent")
    parser.add_argument("--log-key", help="the log key the relay operator publishes")
    parser.add_argument(
        "--witness", action="append", default=[], metavar="KEY", help="a witness's public key"
    )
    parser.add_argument(
        "--witnesses-required", type=int, metavar="K", help="how many must cosign (default: all)"
    )
    parser.add_argument("--keep", help=f"where to keep checkpoints (default <home>/{KEPT_DIR})")


add_command(
    Command(
        ("evidence", "export"),
        export_command,
        "Write an evidence bundle for counsel: what you disclose, with its log proofs.",
        "closedset evidence export lighthouse --version 2 --out lighthouse-evidence.asc",
        _export_arguments,
    )
)
add_command(
    Command(
        ("verify",),
        verify_command,
        "Verify an evidence bundle offline and print a report a lawyer can read.",
        "closedset verify lighthouse-evidence.asc --log-key 'relay.example.org/log+...'",
        _verify_arguments,
    )
)
