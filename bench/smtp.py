"""SMTP ingest: valid envelopes into the relay's ingress against a no-op aiosmtpd handler.

    .venv/bin/python -m bench.smtp [--messages N] [--clients K] [--rounds R] [--json]

Both servers run in one event loop of this process and are driven by the same client: K
threads, each with one persistent smtplib connection, sending pre-built messages (the armored
envelope attached, as ``closedset send`` makes them). The relay stores and logs every envelope
(SQLite in a temp directory, durable commits) before its 250; the no-op handler answers 250 at
once. Rounds alternate between the two and the median rate is reported. Goal: >= 60%.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import smtplib
import statistics
import sys
import tempfile
import threading
import time
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import nacl.signing
from aiohttp.test_utils import TestServer
from aiosmtpd.smtp import SMTP

from client.mail.compose import compose
from client.relay_client import RelayClient
from keys.encoding import b64u_encode
from keys.envelope import Recipient, seal
from keys.identity import DeviceKeyPair, KeyHistory, certify_device, make_identity_record
from keys.invite import invite_id, join_proof
from relay.app import create_app
from relay.config import Limits, RateLimit, load_config
from relay.mail.config import load_mail_config
from relay.mail.runtime import MAIL

GOAL = 0.60
DOMAIN = "bench.closedset.test"
ROOMY = RateLimit(1e9, 10**9)


@dataclass
class Row:
    server: str
    messages_per_second: float
    ratio: float


class NoOp:
    async def handle_DATA(self, server: SMTP, session: object, envelope: object) -> str:
        return "250 2.0.0 OK"


def person(role: str) -> tuple[nacl.signing.SigningKey, KeyHistory, bytes]:
    key, device = nacl.signing.SigningKey.generate(), DeviceKeyPair.generate()
    records = [
        make_identity_record(key, name=role, role=role, issued_at=int(time.time()) - 60),  # type: ignore[arg-type]
        certify_device(key, device.public, issued_at=int(time.time()) - 60),
    ]
    return key, KeyHistory.from_records(records), device.public


def drive(port: int, batches: list[list[bytes]], to: str) -> float:
    """Send every batch over its own connection, all at once; seconds from first to last."""
    start = threading.Barrier(len(batches) + 1)
    errors: list[str] = []

    def client(batch: list[bytes]) -> None:
        with smtplib.SMTP("127.0.0.1", port, timeout=60) as smtp:
            smtp.ehlo("bench.test")
            start.wait()
            for data in batch:
                smtp.mail("bench@client.test")
                smtp.rcpt(to)
                code, text = smtp.data(data)
                if code != 250:
                    errors.append(f"{code} {text.decode()}")

    threads = [threading.Thread(target=client, args=(b,)) for b in batches]
    for t in threads:
        t.start()
    start.wait()
    began = time.perf_counter()
    for t in threads:
        t.join()
    if errors:
        raise RuntimeError(f"{len(errors)} messages refused, first: {errors[0]}")
    return time.perf_counter() - began


async def run(messages: int, clients: int, rounds: int) -> list[Row]:
    data_dir = Path(tempfile.mkdtemp(prefix="closedset-bench-smtp-"))
    config = load_config(None, {}, {"data_dir": str(data_dir), "http": "127.0.0.1:0"})
    config = replace(
        config,
        smtp_host="127.0.0.1",
        smtp_port=0,
        limits=Limits(per_identity=ROOMY, per_address=ROOMY),
        mail=load_mail_config({"domain": DOMAIN}, {}),
    )
    app = create_app(config)
    server = TestServer(app, port=0)
    await server.start_server()
    noop = await asyncio.get_running_loop().create_server(
        lambda: SMTP(NoOp(), hostname="noop.test"), "127.0.0.1", 0
    )
    try:
        relay_port = app[MAIL].smtp_address[1]  # type: ignore[index]
        noop_port = noop.sockets[0].getsockname()[1]
        (ic_key, ic, ic_dev), (ana_key, ana, ana_dev) = person("ic"), person("performer")
        thread = bytes(range(16))
        base = str(server.make_url("")).rstrip("/")
        async with RelayClient(base, ic_key) as c_ic, RelayClient(base, ana_key) as c_ana:
            await c_ic.register(ic)
            await c_ana.register(ana)
            await c_ic.create_thread(thread)
            secret = bytes(32)
            await c_ic.create_invite(thread, invite_id(secret), int(time.time()) + 600)
            await c_ana.join(
                thread, invite_id(secret), join_proof(secret, thread, ana.identity_key)
            )
        recipients = [Recipient(ic.identity_key, ic_dev), Recipient(ana.identity_key, ana_dev)]
        to = f"{b64u_encode(thread)}@{DOMAIN}"

        def envelope(prev: bytes | None, n: int) -> bytes:
            sealed = seal(
                f"statement {n}".encode(),
                sender=ana_key,
                recipients=recipients,
                thread=thread,
                prev=prev,
                purpose="closedset/bench/v1",
            ).envelope
            return compose(sealed, from_address="ana@client.test", to_address=to)

        first = seal(
            b"first",
            sender=ana_key,
            recipients=recipients,
            thread=thread,
            prev=None,
            purpose="closedset/bench/v1",
        ).envelope
        await asyncio.to_thread(
            drive, relay_port, [[compose(first, from_address="a@c.test", to_address=to)]], to
        )
        rates: dict[str, list[float]] = {"no-op aiosmtpd": [], "relay ingress": []}
        for r in range(rounds):
            # Fresh envelopes each round (the relay would answer a resend as a duplicate);
            # every one names the first as previous, so concurrent clients never conflict.
            built = [envelope(first.hash, r * messages + i) for i in range(messages)]
            batches = [built[i::clients] for i in range(clients)]
            for name, port in (("no-op aiosmtpd", noop_port), ("relay ingress", relay_port)):
                seconds = await asyncio.to_thread(drive, port, batches, to)
                rates[name].append(messages / seconds)
    finally:
        noop.close()
        await server.close()
    baseline = statistics.median(rates["no-op aiosmtpd"])
    return [
        Row(name, round(statistics.median(v), 1), round(statistics.median(v) / baseline, 3))
        for name, v in rates.items()
    ]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="SMTP ingest vs a no-op aiosmtpd handler.")
    parser.add_argument("--messages", type=int, default=400, help="messages per round")
    parser.add_argument("--clients", type=int, default=4, help="concurrent SMTP connections")
    parser.add_argument("--rounds", type=int, default=3, help="alternating rounds")
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")
    args = parser.parse_args(argv)
    rows = asyncio.run(run(args.messages, args.clients, args.rounds))
    ratio = rows[1].ratio
    if args.json:
        print(
            json.dumps(
                {
                    "rows": [asdict(r) for r in rows],
                    "goal": GOAL,
                    "clients": args.clients,
                    "messages": args.messages,
                    "met": ratio >= GOAL,
                },
                indent=2,
            )
        )
    else:
        print(f"{'server':<16} {'msg/s':>9} {'ratio':>7}")
        for row in rows:
            print(f"{row.server:<16} {row.messages_per_second:>9.1f} {row.ratio:>7.3f}")
        print(
            f"goal: relay ingress >= {GOAL:.0%} of the no-op rate: "
            f"{'met' if ratio >= GOAL else 'NOT met'}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
