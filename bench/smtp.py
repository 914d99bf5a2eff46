"""SMTP ingest: valid envelopes into the relay's ingress against a no-op aiosmtpd handler.

    .venv/bin/python -m bench.smtp [--messages N] [--clients K] [--rounds R] [--json]

Three processes, as in ``bench.http``: the relay (``create_app`` with its SMTP ingress, served
by ``web.AppRunner``; SQLite in a fresh temporary directory, durable commits, roomy rate limits)
on free 127.0.0.1 ports; a no-op aiosmtpd server (aiosmtpd's ``SMTP`` whose handler answers 250
at once); and this process, which sets up the relay (two members registered, a thread, its
first envelope) and then is the client. The client is the same for both servers: K threads,
each with one persistent smtplib connection (opened and EHLO'd before the round starts), sending
pre-built messages (the envelope sealed to the relay's ingress key and attached, as
``closedset send`` makes them). Every message of every round is sealed and composed before
anything is measured; each round's messages go to the no-op server first, then to the relay
(which would refuse a resend as a duplicate). The relay stores and logs every envelope before
its 250: after each relay round the bench checks that the log grew by exactly the round's
messages, and at the end that the database holds one envelope per message sent (plus the
thread's first).

Reported: the median msg/s of each server over the rounds, the ratio (goal: >= 60%), and CPU
per message of each server process and of the client (utime+stime from /proc over each round,
summed over rounds; /proc counts in clock ticks, hence rounds of a second or more by default).
On a 2-core machine the client and the server share the cores.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import smtplib
import sqlite3
import statistics
import sys
import tempfile
import threading
import time
import urllib.request
from dataclasses import asdict, dataclass, field
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

import nacl.signing

from bench._process import ServerProcess
from bench.http import cpu_seconds, system_busy_seconds

GOAL = 0.60
DOMAIN = "bench.closedset.test"
NOOP, RELAY = "no-op aiosmtpd", "relay ingress"


# --- the two servers, each in its own process ------------------------------------------------


async def _until_stopped(conn: Connection) -> None:
    """Wait for "stop" (or the parent's end) on the pipe without a thread."""
    loop = asyncio.get_running_loop()
    stopped = asyncio.Event()

    def readable() -> None:
        try:
            command = conn.recv()
        except (EOFError, OSError):
            command = "stop"
        if command == "stop":
            stopped.set()

    loop.add_reader(conn.fileno(), readable)
    try:
        await stopped.wait()
    finally:
        loop.remove_reader(conn.fileno())


async def _serve_relay(conn: Connection, data_dir: str) -> None:
    from dataclasses import replace

    from aiohttp import web

    from relay.app import create_app
    from relay.config import Limits, RateLimit, load_config
    from relay.mail.config import load_mail_config
    from relay.mail.runtime import MAIL

    roomy = RateLimit(1e9, 10**9)
    config = load_config(None, {}, {"data_dir": data_dir, "http": "127.0.0.1:0"})
    config = replace(
        config,
        smtp_host="127.0.0.1",
        smtp_port=0,
        limits=Limits(per_identity=roomy, per_address=roomy, smtp_sessions_per_address=10_000),
        mail=load_mail_config({"domain": DOMAIN}, {}),
    )
    app = create_app(config)
    runner = web.AppRunner(app, handle_signals=False)
    await runner.setup()
    try:
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        smtp = app[MAIL].smtp_address
        assert smtp is not None
        conn.send(("ready", {"http": runner.addresses[0][1], "smtp": smtp[1]}))
        await _until_stopped(conn)
    finally:
        await runner.cleanup()


def relay_process(conn: Connection, data_dir: str) -> None:
    asyncio.run(_serve_relay(conn, data_dir))
    conn.send(("stopped", None))


class NoOp:
    async def handle_DATA(self, server: Any, session: object, envelope: object) -> str:
        return "250 2.0.0 OK"


async def _serve_noop(conn: Connection) -> None:
    from aiosmtpd.smtp import SMTP

    server = await asyncio.get_running_loop().create_server(
        lambda: SMTP(NoOp(), hostname="noop.test"), "127.0.0.1", 0
    )
    try:
        conn.send(("ready", {"smtp": server.sockets[0].getsockname()[1]}))
        await _until_stopped(conn)
    finally:
        server.close()
        await server.wait_closed()


def noop_process(conn: Connection) -> None:
    asyncio.run(_serve_noop(conn))
    conn.send(("stopped", None))


class Server(ServerProcess):
    @property
    def ports(self) -> dict[str, int]:
        return dict(self.info)

    def stop(self, message: object = "stop") -> None:
        super().stop(message)


# --- setup and messages (in this process, before measuring) ----------------------------------


def person(role: str) -> tuple[nacl.signing.SigningKey, Any, bytes]:
    from keys.identity import DeviceKeyPair, KeyHistory, certify_device, make_identity_record

    key, device = nacl.signing.SigningKey.generate(), DeviceKeyPair.generate()
    records = [
        make_identity_record(key, name=role, role=role, issued_at=int(time.time()) - 60),  # type: ignore[arg-type]
        certify_device(key, device.public, issued_at=int(time.time()) - 60),
    ]
    return key, KeyHistory.from_records(records), device.public


async def setup_thread(base: str) -> tuple[nacl.signing.SigningKey, list[Any], bytes]:
    """Two members and a thread, through the relay's HTTP API."""
    from client.relay_client import RelayClient
    from keys.envelope import Recipient
    from keys.invite import invite_id, join_proof

    (ic_key, ic, ic_dev), (ana_key, ana, ana_dev) = person("ic"), person("performer")
    thread = bytes(range(16))
    async with RelayClient(base, ic_key) as c_ic, RelayClient(base, ana_key) as c_ana:
        await c_ic.register(ic)
        await c_ana.register(ana)
        await c_ic.create_thread(thread)
        secret = bytes(32)
        await c_ic.create_invite(thread, invite_id(secret), int(time.time()) + 600)
        await c_ana.join(thread, invite_id(secret), join_proof(secret, thread, ana.identity_key))
    recipients = [Recipient(ic.identity_key, ic_dev), Recipient(ana.identity_key, ana_dev)]
    return ana_key, recipients, thread


def tree_size(http_port: int) -> int:
    with urllib.request.urlopen(f"http://127.0.0.1:{http_port}/healthz", timeout=30) as answer:
        return int(json.load(answer)["tree_size"])


def count_envelopes(data_dir: Path) -> int:
    with sqlite3.connect(data_dir / "relay.db") as db:
        return int(db.execute("SELECT count(*) FROM envelopes").fetchone()[0])


# --- the client --------------------------------------------------------------------------------


def drive(port: int, batches: list[list[bytes]], to: str) -> float:
    """Send every batch over its own connection, all at once; seconds from first to last."""
    start = threading.Barrier(len(batches) + 1)
    errors: list[str] = []

    def client(batch: list[bytes]) -> None:
        try:
            smtp = smtplib.SMTP("127.0.0.1", port, timeout=60)
            smtp.ehlo("bench.test")
        except BaseException:
            start.abort()
            raise
        with smtp:
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
    elapsed = time.perf_counter() - began
    if errors:
        raise RuntimeError(f"{len(errors)} messages refused, first: {errors[0]}")
    return elapsed


# --- the run -----------------------------------------------------------------------------------


@dataclass
class Row:
    server: str
    messages_per_second: float
    ratio: float
    rates: list[float]
    server_cpu_ms_per_message: float
    client_cpu_ms_per_message: float
    server_cpu_percent: float
    client_cpu_percent: float
    others_cpu_percent: float


@dataclass
class Tally:
    rates: list[float] = field(default_factory=list)
    seconds: float = 0.0
    messages: int = 0
    server_cpu: float = 0.0
    client_cpu: float = 0.0
    others_cpu: float = 0.0


def run(messages: int, clients: int, rounds: int) -> tuple[list[Row], dict[str, int]]:
    from client.mail.compose import compose
    from keys.encoding import b64u_decode
    from keys.envelope import seal
    from keys.mailparts import thread_local_part

    with tempfile.TemporaryDirectory(prefix="closedset-bench-smtp-") as tmp:
        data_dir = Path(tmp)
        relay = Server.start("relay", relay_process, str(data_dir))
        noop = Server.start("noop", noop_process)
        try:
            base = f"http://127.0.0.1:{relay.ports['http']}"
            ana_key, recipients, thread = asyncio.run(setup_thread(base))
            to = f"{thread_local_part(thread)}@{DOMAIN}"
            # Mail travels sealed to the relay's ingress key, as `closedset send` seals it.
            with urllib.request.urlopen(f"{base}/v1/mail/ingress-key") as answer:
                ingress = b64u_decode(json.loads(answer.read())["key"], length=32)

            def sealed(text: bytes, prev: bytes | None) -> Any:
                return seal(
                    text,
                    sender=ana_key,
                    recipients=recipients,
                    thread=thread,
                    prev=prev,
                    purpose="closedset/bench/v1",
                ).envelope

            first = sealed(b"first", None)
            drive(
                relay.ports["smtp"],
                [[compose(first, ingress_key=ingress, from_address="a@c.test", to_address=to)]],
                to,
            )
            # Every message names the first as previous, so concurrent clients never conflict.
            built = [
                [
                    compose(
                        sealed(f"statement {r * messages + i}".encode(), first.hash),
                        ingress_key=ingress,
                        from_address="ana@client.test",
                        to_address=to,
                    )
                    for i in range(messages)
                ]
                for r in range(rounds)
            ]
            tallies = {NOOP: Tally(), RELAY: Tally()}
            logged = 0
            me = os.getpid()
            for r in range(rounds):
                batches = [built[r][i::clients] for i in range(clients)]
                for name, server in ((NOOP, noop), (RELAY, relay)):
                    size = tree_size(relay.ports["http"]) if server is relay else 0
                    pid = server.process.pid
                    s0, c0, m0 = cpu_seconds(pid), cpu_seconds(me), system_busy_seconds()
                    seconds = drive(server.ports["smtp"], batches, to)
                    s1, c1, m1 = cpu_seconds(pid), cpu_seconds(me), system_busy_seconds()
                    tally = tallies[name]
                    tally.rates.append(messages / seconds)
                    tally.seconds += seconds
                    tally.messages += messages
                    tally.server_cpu += s1 - s0
                    tally.client_cpu += c1 - c0
                    tally.others_cpu += max(0.0, (m1 - m0) - (s1 - s0) - (c1 - c0))
                    if server is relay:
                        grown = tree_size(relay.ports["http"]) - size
                        if grown != messages:
                            raise RuntimeError(
                                f"round {r}: the relay answered 250 to {messages} messages "
                                f"but its log grew by {grown}"
                            )
                        logged += grown
        finally:
            relay.stop()
            noop.stop()
        stored = count_envelopes(data_dir) - 1  # the thread's first envelope
    sent = tallies[RELAY].messages
    if stored != sent:
        raise RuntimeError(f"{sent} messages sent to the relay but {stored} envelopes stored")
    baseline = statistics.median(tallies[NOOP].rates)
    rows = []
    for name, t in tallies.items():
        rate = statistics.median(t.rates)
        rows.append(
            Row(
                name,
                round(rate, 1),
                round(rate / baseline, 3),
                [round(x, 1) for x in t.rates],
                round(1000 * t.server_cpu / t.messages, 3),
                round(1000 * t.client_cpu / t.messages, 3),
                round(100 * t.server_cpu / t.seconds, 1),
                round(100 * t.client_cpu / t.seconds, 1),
                round(100 * t.others_cpu / t.seconds, 1),
            )
        )
    return rows, {"sent_to_relay": sent, "relay_log_grew": logged, "relay_envelopes": stored}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="SMTP ingest vs a no-op aiosmtpd handler.")
    parser.add_argument("--messages", type=int, default=2000, help="messages per round (2000)")
    parser.add_argument("--clients", type=int, default=4, help="concurrent SMTP connections (4)")
    parser.add_argument("--rounds", type=int, default=5, help="alternating rounds (5)")
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")
    args = parser.parse_args(argv)
    rows, check = run(args.messages, args.clients, args.rounds)
    ratio = rows[1].ratio
    if args.json:
        print(
            json.dumps(
                {
                    "rows": [asdict(r) for r in rows],
                    "goal": GOAL,
                    "clients": args.clients,
                    "messages": args.messages,
                    "rounds": args.rounds,
                    "check": check,
                    "met": ratio >= GOAL,
                },
                indent=2,
            )
        )
        return 0
    print(
        f"{'server':<16} {'msg/s':>9} {'ratio':>7} {'server CPU':>11} {'client CPU':>11}"
        f"   rounds (msg/s)"
    )
    for row in rows:
        print(
            f"{row.server:<16} {row.messages_per_second:>9.1f} {row.ratio:>7.3f}"
            f" {row.server_cpu_ms_per_message:>8.3f} ms {row.client_cpu_ms_per_message:>8.3f} ms"
            f"   {', '.join(f'{x:.0f}' for x in row.rates)}"
        )
    print(
        f"{args.clients} client threads in this process, {args.messages} messages per round, "
        f"{args.rounds} rounds; CPU per message from /proc (utime+stime) over the rounds"
    )
    for row in rows:
        print(
            f"  {row.server} rounds, % of one core: server {row.server_cpu_percent}, "
            f"client {row.client_cpu_percent}, rest of the machine {row.others_cpu_percent}"
        )
    print(
        f"relay: {check['sent_to_relay']} messages sent, log grew by {check['relay_log_grew']}, "
        f"{check['relay_envelopes']} envelopes stored (besides the thread's first)"
    )
    print(
        f"goal: relay ingress >= {GOAL:.0%} of the no-op rate: "
        f"{'met' if ratio >= GOAL else 'NOT met'}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
