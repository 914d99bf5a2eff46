"""Envelope ingest over HTTP: the relay against a no-op aiohttp handler, same generator, one run.

    .venv/bin/python -m bench.http [--seconds N] [--rate 500] [--json] [--db sqlite|postgres]
                                   [--latency-seconds N] [--connections 64]
                                   [--client aiohttp|raw] [--size BYTES] [--profile FILE]

Three processes: the real relay (``create_app`` served the way ``closedset relay serve``
serves it: ``asyncio.run``, ``web.AppRunner``, ``web.TCPSite``) on a free 127.0.0.1 port, with
a fresh data directory (SQLite, WAL, ``synchronous=FULL``, on disk) or a fresh PostgreSQL
database; a no-op aiohttp server (same aiohttp; the handler reads the body and answers 201 with
a small JSON body); and this process, which sets up the thread and then is the load generator.
The bench's relay configuration differs from the defaults only in roomy rate limits
(10^6/s per address and per identity, so the limiter never refuses the load; its bookkeeping
still runs), roomy caps on connections per address and requests in progress per identity (all
the load comes from 127.0.0.1; the counting still runs) and a one-hour clock skew (requests are
signed before the measurement starts). It is served by ``relay.http.server.RelayRunner``, as
``closedset relay serve`` serves it, and every signed request writes its nonce to the
database's replay cache (``relay.http.replay``), as in production.

Setup, through the relay's API: three people register (an IC and two performers), the IC opens
a thread and invites the other two, who join; the IC posts the thread's first envelope. Then,
before anything is measured, enough envelopes (``--size`` bytes of plaintext, sealed to the
three members' devices) and their signed requests (RFC 9421, a fresh nonce each) are made in
a pool of worker processes: sealing and signing are the client's cost, not the relay's. Every
envelope names the first envelope as ``prev`` (any envelope of the thread is accepted) and the
senders take turns. The no-op server receives exactly the same requests (byte for byte), first,
so the relay never sees a replay.

Phases, the no-op server first, then the relay, each with the same generator:

1. Saturation: ``--connections`` keep-alive connections, each sending its next request as soon
   as the previous answer is read (closed loop), 1 s of warm-up, then ``--seconds`` measured;
   requests/s counts answers completed inside the measured window.
2. Latency at a fixed offered rate (open loop): request ``i`` is due at ``t0 + i / rate`` and
   is sent then whether or not earlier ones were answered; its latency runs from its *due*
   time to its answer, so a stall in the server (or in the generator) shows up in the figures
   instead of being hidden by coordinated omission. 2 s of warm-up, then
   ``--latency-seconds`` measured; p50/p90/p99/max by nearest rank.

Any answer that is not 2xx, a connection error, or an unanswered request makes the run
invalid (exit status 1). CPU use of every process in every phase is read from /proc and
reported: on a 2-core machine the generator competes with the server for CPU, so the no-op
baseline is partly bounded by the generator itself. ``--client raw`` replaces the aiohttp
client by a minimal keep-alive HTTP/1.1 client (pre-serialized requests), which costs the
generator less CPU per request. ``--profile FILE`` runs cProfile in the relay's event-loop
thread during the relay's saturation phase, timed by that thread's CPU clock (so other
processes on the machine do not skew it), writes the stats to FILE and prints the top
functions (the figures of a profiled run are not the relay's speed).

Goals (issue 4): relay saturation >= 35% of the no-op's; relay p99 <= 100 ms at 500/s.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import functools
import io
import json
import math
import multiprocessing
import os
import pstats
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from contextlib import suppress
from dataclasses import asdict, dataclass, field, replace
from itertools import cycle
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

import aiohttp
import nacl.public
import nacl.signing
from aiohttp import web
from yarl import URL

from bench._process import ServerProcess

GOAL_RATIO = 0.35
GOAL_P99_MS = 100.0
PG_URL = "postgresql+asyncpg://postgres@127.0.0.1:5432/test"
PURPOSE = "closedset/bench/note/v1"
SATURATION_WARMUP = 1.0
LATENCY_WARMUP = 2.0
DRAIN_TIMEOUT = 120.0
ROOMY_RATE = 1_000_000.0
CLOCK_SKEW = 3600
SETUP_TIME = int(time.time()) - 60
CLK_TCK = os.sysconf("SC_CLK_TCK")
BUSY_MACHINE = 25.0
"""Percent of one core used by other processes above which a run is flagged as noisy."""

Request = tuple[str, bytes, dict[str, str]]
"""Path, body, signed headers: one pre-made POST."""


# --- the people and their requests -----------------------------------------------------------


@dataclass(frozen=True)
class Member:
    """A thread member, as seeds that cross process boundaries."""

    name: str
    role: str
    identity_seed: bytes
    device_seed: bytes

    @classmethod
    def new(cls, name: str, role: str) -> Member:
        return cls(name, role, os.urandom(32), os.urandom(32))

    @property
    def key(self) -> nacl.signing.SigningKey:
        return nacl.signing.SigningKey(self.identity_seed)

    @property
    def device_public(self) -> bytes:
        return bytes(nacl.public.PrivateKey(self.device_seed).public_key)

    def bundle(self) -> bytes:
        from keys.identity import certify_device, encode_history, make_identity_record

        key = self.key
        return encode_history(
            [
                make_identity_record(key, name=self.name, role=self.role, issued_at=SETUP_TIME),  # type: ignore[arg-type]
                certify_device(key, self.device_public, issued_at=SETUP_TIME),
            ]
        )


def sign(member: Member, method: str, target: str, body: bytes, base: str) -> dict[str, str]:
    from keys.httpsig import authority_of, sign_request

    headers = sign_request(
        member.key,
        method,
        target,
        body,
        authority=authority_of(base),
        created=int(time.time()),
        nonce=os.urandom(16),
    )
    return {"Content-Type": "application/json", **headers}


def seal_envelope(
    sender: Member, members: Sequence[Member], thread: bytes, prev: bytes | None, text: bytes
) -> bytes:
    from keys.envelope import Recipient, seal

    recipients = [Recipient(bytes(m.key.verify_key), m.device_public) for m in members]
    return seal(
        text, sender=sender.key, recipients=recipients, thread=thread, prev=prev, purpose=PURPOSE
    ).envelope.to_bytes()


def make_requests(
    members: Sequence[Member],
    thread: bytes,
    prev: bytes,
    first: int,
    count: int,
    size: int,
    base: str,
) -> list[Request]:
    """Sealed envelopes and their signed POSTs; senders take turns (runs in a worker)."""
    from keys.encoding import b64u_encode

    target = f"/v1/threads/{b64u_encode(thread)}/envelopes"
    keys = [(m, m.key) for m in members]
    out: list[Request] = []
    for i in range(first, first + count):
        sender = keys[i % len(keys)][0]
        body = seal_envelope(sender, members, thread, prev, os.urandom(size))
        out.append((target, body, sign(sender, "POST", target, body, base)))
    return out


def generate(
    members: Sequence[Member],
    thread: bytes,
    prev: bytes,
    count: int,
    size: int,
    workers: int,
    base: str,
) -> list[Request]:
    chunk = max(1, math.ceil(count / (workers * 4)))
    spans = [(i, min(chunk, count - i)) for i in range(0, count, chunk)]
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(workers, mp_context=context) as pool:
        parts = pool.map(
            make_requests,
            *zip(
                *[(members, thread, prev, first, n, size, base) for first, n in spans], strict=True
            ),
        )
        return [request for part in parts for request in part]


# --- the two servers, each in its own process ------------------------------------------------


async def _serve(
    app: web.Application,
    conn: Connection,
    profiler: cProfile.Profile | None,
    runner_class: Callable[..., web.AppRunner] = web.AppRunner,
) -> None:
    runner = runner_class(app, handle_signals=False)
    await runner.setup()
    try:
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        conn.send(("ready", runner.addresses[0][1]))
        commands: asyncio.Queue[Any] = asyncio.Queue()

        def readable() -> None:
            try:
                commands.put_nowait(conn.recv())
            except (EOFError, OSError):
                commands.put_nowait(("stop", None))

        loop = asyncio.get_running_loop()
        loop.add_reader(conn.fileno(), readable)
        try:
            while True:
                command, argument = await commands.get()
                if command == "stop":
                    break
                if command == "profile-start" and profiler is not None:
                    profiler.enable()
                elif command == "profile-stop" and profiler is not None:
                    profiler.disable()
                    profiler.dump_stats(argument)
                conn.send(("ok", command))
        finally:
            loop.remove_reader(conn.fileno())
    finally:
        await runner.cleanup()


def relay_process(
    conn: Connection, data_dir: str, database_url: str, profile: bool, replay_in_memory: bool
) -> None:
    from relay.app import create_app
    from relay.config import Limits, RateLimit, load_config
    from relay.http.server import RelayRunner

    config = load_config(
        None, {}, {"data_dir": data_dir, "database_url": database_url, "http": "127.0.0.1:0"}
    )
    roomy = RateLimit(ROOMY_RATE, int(ROOMY_RATE))
    # All of the load comes from one address (127.0.0.1): the per-address and per-identity
    # bounds are raised past it; every check still runs on every request.
    config = replace(
        config,
        limits=Limits(
            per_identity=roomy,
            per_address=roomy,
            clock_skew=CLOCK_SKEW,
            connections_per_address=100_000,
            requests_per_identity=100_000,
        ),
    )
    if replay_in_memory:
        # --replay-cache memory: only to measure what the database write per request costs.
        from relay.http.replay import ReplayGuard

        async def no_write(self: Any, batch: Any, now: float) -> set[tuple[bytes, bytes]]:
            return {(key, nonce) for key, nonce, _, _ in batch}

        ReplayGuard._commit = no_write  # type: ignore[method-assign]
    app = create_app(config)
    # The relay's own runner, as `closedset relay serve` uses (connection bounds included).
    runner = functools.partial(RelayRunner, limits=config.limits)
    asyncio.run(_serve(app, conn, cProfile.Profile(time.thread_time) if profile else None, runner))
    conn.send(("stopped", None))


async def noop_post(request: web.Request) -> web.Response:
    await request.read()
    return web.json_response({"hash": "0" * 64, "sequence": 1}, status=201)


def noop_process(conn: Connection) -> None:
    from relay.config import Limits

    app = web.Application(client_max_size=Limits().max_body_bytes)
    app.router.add_post("/v1/threads/{thread}/envelopes", noop_post)
    asyncio.run(_serve(app, conn, None))
    conn.send(("stopped", None))


class Server(ServerProcess):
    @property
    def port(self) -> int:
        return int(self.info)

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def command(self, command: str, argument: Any = None, timeout: float = 60) -> None:
        self.conn.send((command, argument))
        if not self.conn.poll(timeout):
            raise RuntimeError(f"The {self.name} server did not answer {command!r}.")
        self.conn.recv()


# --- CPU accounting from /proc ---------------------------------------------------------------


def _ticks(stat_path: str) -> tuple[str, float]:
    text = Path(stat_path).read_text()
    comm = text[text.index("(") + 1 : text.rindex(")")]
    fields = text[text.rindex(")") + 2 :].split()
    return comm, (int(fields[11]) + int(fields[12])) / CLK_TCK


def cpu_seconds(pid: int) -> float:
    return _ticks(f"/proc/{pid}/stat")[1]


def thread_seconds(pid: int) -> dict[str, float]:
    """CPU seconds per thread, keyed by "tid:name"."""
    out: dict[str, float] = {}
    for task in Path(f"/proc/{pid}/task").iterdir():
        with suppress(OSError, ValueError):
            comm, seconds = _ticks(str(task / "stat"))
            out[f"{task.name}:{comm}"] = seconds
    return out


def system_busy_seconds() -> float:
    """CPU seconds all processes of the machine have used (all cores), from /proc/stat."""
    fields = Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]
    user, nice, system, _idle, _iowait, irq, softirq, steal = map(int, fields[:8])
    return (user + nice + system + irq + softirq + steal) / CLK_TCK


@dataclass
class CpuWindow:
    """CPU use of our processes, and of everything else on the machine, over a window."""

    pids: dict[str, int]
    start: dict[str, float] = field(default_factory=dict)
    wall: float = 0.0

    def _now(self) -> dict[str, float]:
        figures = {name: cpu_seconds(pid) for name, pid in self.pids.items()}
        figures["machine"] = system_busy_seconds()
        return figures

    def begin(self) -> None:
        self.start = self._now()
        self.wall = time.monotonic()

    def end(self) -> dict[str, float]:
        """Per process, CPU use over the window in percent of one core; "others" is the rest
        of the machine (other processes, the kernel's own work outside our processes)."""
        wall = time.monotonic() - self.wall
        now = self._now()
        spent = {name: now[name] - self.start[name] for name in now}
        machine = spent.pop("machine")
        spent["others"] = max(0.0, machine - sum(spent.values()))
        return {name: round(100 * value / wall, 1) for name, value in spent.items()}


# --- the load generator ----------------------------------------------------------------------


class Client:
    """Sends one prepared request and returns the status; at most ``connections`` in flight."""

    async def prepare(self, requests: Sequence[Request]) -> list[Any]:
        raise NotImplementedError

    async def send(self, prepared: Any) -> tuple[int, bytes]:
        raise NotImplementedError

    async def close(self) -> None:
        raise NotImplementedError


class AiohttpClient(Client):
    def __init__(self, base: str, connections: int) -> None:
        self.base = base
        self.session = aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(limit=connections, force_close=False),
            timeout=aiohttp.ClientTimeout(total=DRAIN_TIMEOUT),
        )

    async def prepare(self, requests: Sequence[Request]) -> list[Any]:
        urls: dict[str, URL] = {}
        return [
            (urls.setdefault(path, URL(self.base + path)), body, headers)
            for path, body, headers in requests
        ]

    async def send(self, prepared: Any) -> tuple[int, bytes]:
        url, body, headers = prepared
        async with self.session.post(url, data=body, headers=headers) as response:
            return response.status, await response.read()

    async def close(self) -> None:
        await self.session.close()


class RawClient(Client):
    """Keep-alive HTTP/1.1 over asyncio streams; enough for aiohttp servers' answers."""

    def __init__(self, port: int, connections: int) -> None:
        self.port = port
        self.connections = connections
        self.idle: asyncio.LifoQueue[tuple[asyncio.StreamReader, asyncio.StreamWriter]] = (
            asyncio.LifoQueue()
        )
        self.opened: list[asyncio.StreamWriter] = []

    async def _open(self) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        reader, writer = await asyncio.open_connection("127.0.0.1", self.port)
        self.opened.append(writer)
        return reader, writer

    async def prepare(self, requests: Sequence[Request]) -> list[Any]:
        while len(self.opened) < self.connections:
            self.idle.put_nowait(await self._open())
        host = f"127.0.0.1:{self.port}"
        out = []
        for path, body, headers in requests:
            lines = [f"POST {path} HTTP/1.1", f"Host: {host}", f"Content-Length: {len(body)}"]
            lines += [f"{name}: {value}" for name, value in headers.items()]
            out.append(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body)
        return out

    async def send(self, prepared: Any) -> tuple[int, bytes]:
        reader, writer = await self.idle.get()
        try:
            writer.write(prepared)
            head = await reader.readuntil(b"\r\n\r\n")
            status = int(head[9:12])
            lower = head.lower()
            at = lower.find(b"\r\ncontent-length:")
            if at < 0:
                raise ConnectionError("answer without Content-Length")
            length = int(lower[at + 17 : lower.index(b"\r\n", at + 2)])
            body = await reader.readexactly(length)
        except BaseException:
            writer.close()
            self.idle.put_nowait(await self._open())
            raise
        self.idle.put_nowait((reader, writer))
        return status, body

    async def close(self) -> None:
        for writer in self.opened:
            writer.close()
        for writer in self.opened:
            with suppress(Exception):
                await writer.wait_closed()


def make_client(kind: str, server: Server, connections: int) -> Client:
    if kind == "raw":
        return RawClient(server.port, connections)
    return AiohttpClient(server.base, connections)


@dataclass
class Errors:
    count: int = 0
    samples: list[str] = field(default_factory=list)

    def add(self, what: str) -> None:
        self.count += 1
        if len(self.samples) < 5:
            self.samples.append(what[:300])


def _check(status: int, body: bytes, errors: Errors) -> bool:
    if 200 <= status < 300:
        return True
    errors.add(f"{status} {body.decode('utf-8', 'replace')}")
    return False


@dataclass
class Saturation:
    requests_per_s: float
    completed: int
    seconds: float
    errors: int
    error_samples: list[str]
    exhausted: bool
    cpu_percent: dict[str, float]
    threads_cpu_s: dict[str, float] = field(default_factory=dict)


async def saturate(
    client: Client,
    requests: Sequence[Any],
    *,
    reuse: bool,
    connections: int,
    seconds: float,
    cpu: CpuWindow,
    on_start: Callable[[], None] = lambda: None,
    on_end: Callable[[], None] = lambda: None,
) -> Saturation:
    source: Iterator[Any] = cycle(requests) if reuse else iter(requests)
    errors = Errors()
    completed = 0
    exhausted = False
    last_done = 0.0
    window = [math.inf, math.inf]

    async def worker() -> None:
        nonlocal completed, exhausted, last_done
        while time.monotonic() < window[1]:
            try:
                prepared = next(source)
            except StopIteration:
                exhausted = True
                return
            try:
                status, body = await client.send(prepared)
            except Exception as exc:  # every failure is counted, none is fatal
                errors.add(f"{type(exc).__name__}: {exc}")
                continue
            done = time.monotonic()
            if _check(status, body, errors) and window[0] <= done <= window[1]:
                completed += 1
                last_done = done

    tasks = [asyncio.create_task(worker()) for _ in range(connections)]
    await asyncio.sleep(SATURATION_WARMUP)
    on_start()
    cpu.begin()
    window[0] = time.monotonic()
    window[1] = window[0] + seconds
    await asyncio.wait(tasks, timeout=seconds)
    usage = cpu.end()
    on_end()
    await asyncio.gather(*tasks)
    elapsed = (last_done if exhausted else window[1]) - window[0]
    return Saturation(
        round(completed / elapsed, 1) if elapsed > 0 else 0.0,
        completed,
        round(elapsed, 3),
        errors.count,
        errors.samples,
        exhausted,
        usage,
    )


@dataclass
class Latency:
    offered_per_s: float
    measured: int
    p50_ms: float
    p90_ms: float
    p99_ms: float
    max_ms: float
    send_lag_p99_ms: float
    """How late the generator itself sent requests (its own stalls), p99."""
    errors: int
    error_samples: list[str]
    cpu_percent: dict[str, float]


def quantile(sorted_values: Sequence[float], q: float) -> float:
    if not sorted_values:
        return math.nan
    return sorted_values[max(0, math.ceil(q * len(sorted_values)) - 1)]


async def open_loop(
    client: Client, requests: Sequence[Any], *, rate: float, seconds: float, cpu: CpuWindow
) -> Latency:
    warm = int(rate * LATENCY_WARMUP)
    total = warm + int(rate * seconds)
    if len(requests) < total:
        raise ValueError(f"{total} requests needed, {len(requests)} made")
    errors = Errors()
    latencies: list[float] = []
    lags: list[float] = []

    async def one(index: int, due: float) -> None:
        try:
            status, body = await client.send(requests[index])
        except Exception as exc:  # counted
            errors.add(f"{type(exc).__name__}: {exc}")
            return
        if _check(status, body, errors) and index >= warm:
            latencies.append(time.monotonic() - due)

    tasks: list[asyncio.Task[None]] = []
    start = time.monotonic() + 0.05
    for index in range(total):
        if index == warm:
            cpu.begin()
        due = start + index / rate
        delay = due - time.monotonic()
        if delay > 0:
            await asyncio.sleep(delay)
        if index >= warm:
            lags.append(time.monotonic() - due)
        tasks.append(asyncio.create_task(one(index, due)))
    usage = cpu.end()
    _, pending = await asyncio.wait(tasks, timeout=DRAIN_TIMEOUT)
    for task in pending:
        task.cancel()
        errors.add("unanswered after the drain timeout")
    latencies.sort()
    lags.sort()
    ms = [value * 1000 for value in latencies]
    return Latency(
        rate,
        len(ms),
        round(quantile(ms, 0.50), 2),
        round(quantile(ms, 0.90), 2),
        round(quantile(ms, 0.99), 2),
        round(ms[-1], 2) if ms else math.nan,
        round(quantile(lags, 0.99) * 1000, 2),
        errors.count,
        errors.samples,
        usage,
    )


# --- setup through the relay's API -----------------------------------------------------------


async def setup_thread(base: str) -> tuple[list[Member], bytes, bytes]:
    """Register three people, open a thread with all three, post its first envelope."""
    from keys.encoding import b64u_encode
    from keys.invite import invite_id, join_proof

    ic = Member.new("Ines", "ic")
    members = [ic, Member.new("Ana", "performer"), Member.new("Ben", "performer")]
    thread = os.urandom(16)
    tid = b64u_encode(thread)
    async with aiohttp.ClientSession() as http:

        async def call(who: Member, target: str, body: bytes | dict[str, Any]) -> Any:
            data = json.dumps(body).encode() if isinstance(body, dict) else body
            async with http.post(
                base + target, data=data, headers=sign(who, "POST", target, data, base)
            ) as r:
                answer = await r.read()
                if r.status not in (200, 201):
                    raise RuntimeError(f"setup: {target} answered {r.status}: {answer!r}")
                return json.loads(answer) if answer else None

        for member in members:
            await call(member, "/v1/identities", member.bundle())
        await call(ic, "/v1/threads", {"thread": tid})
        for joiner in members[1:]:
            secret = os.urandom(32)
            await call(
                ic,
                f"/v1/threads/{tid}/invites",
                {
                    "invite_id": b64u_encode(invite_id(secret)),
                    "expires_at": int(time.time()) + 3600,
                    "role": "performer",
                },
            )
            await call(
                joiner,
                f"/v1/threads/{tid}/join",
                {
                    "invite_id": b64u_encode(invite_id(secret)),
                    "proof": b64u_encode(join_proof(secret, thread, bytes(joiner.key.verify_key))),
                },
            )
        first = seal_envelope(ic, members, thread, None, b"first")
        answer = await call(ic, f"/v1/threads/{tid}/envelopes", first)
    return members, thread, bytes.fromhex(answer["hash"])


async def relay_log_shape(base: str) -> int:
    async with aiohttp.ClientSession() as http, http.get(base + "/healthz") as r:
        return int((await r.json())["tree_size"])


async def count_checkpoints(database_url: str) -> int:
    from sqlalchemy import text

    from relay.db.engine import create_engine

    engine = create_engine(database_url)
    try:
        async with engine.connect() as conn:
            return int(
                (await conn.execute(text("SELECT count(*) FROM log_checkpoints"))).scalar_one()
            )
    finally:
        await engine.dispose()


# --- PostgreSQL: a fresh database per run ----------------------------------------------------


def _asyncpg_dsn(url: str) -> str:
    from sqlalchemy.engine import make_url

    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


async def _pg_admin(url: str, statement: str) -> None:
    import asyncpg

    conn = await asyncpg.connect(_asyncpg_dsn(url), timeout=10)
    try:
        await conn.execute(statement)
    finally:
        await conn.close()


def fresh_pg_database(url: str) -> tuple[str, str]:
    from sqlalchemy.engine import make_url

    name = f"closedset_bench_{uuid.uuid4().hex[:12]}"
    asyncio.run(_pg_admin(url, f'CREATE DATABASE "{name}"'))
    return name, make_url(url).set(database=name).render_as_string(hide_password=False)


def drop_pg_database(url: str, name: str) -> None:
    asyncio.run(_pg_admin(url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


# --- the run ---------------------------------------------------------------------------------


@dataclass
class Result:
    db: str
    client: str
    connections: int
    seconds: float
    latency_seconds: float
    envelope_bytes: int
    plaintext_bytes: int
    generated: int
    generation_s: float
    saturation: dict[str, Saturation]
    latency: dict[str, Latency]
    relay_entries: int = 0
    relay_checkpoints: int = 0
    profile: list[str] = field(default_factory=list)

    @property
    def errors(self) -> int:
        return sum(s.errors for s in self.saturation.values()) + sum(
            s.errors for s in self.latency.values()
        )

    @property
    def ratio(self) -> float:
        noop = self.saturation["noop"].requests_per_s
        return self.saturation["relay"].requests_per_s / noop if noop else math.nan

    @property
    def valid(self) -> bool:
        return self.errors == 0 and not any(s.exhausted for s in self.saturation.values())

    def goals(self) -> dict[str, bool]:
        return {
            "saturation_ratio": self.ratio >= GOAL_RATIO,
            "p99_at_rate": self.latency["relay"].p99_ms <= GOAL_P99_MS,
        }


@dataclass
class Watch:
    """Per-thread CPU of a server over the measured window, and the relay's profiler."""

    server: Server
    profile_path: str | None
    threads: dict[str, float] = field(default_factory=dict)

    def begin(self) -> None:
        self.threads = thread_seconds(self.server.process.pid)
        if self.profile_path:
            self.server.command("profile-start")

    def end(self) -> None:
        if self.profile_path:
            self.server.command("profile-stop", self.profile_path)
        after = thread_seconds(self.server.process.pid)
        spent = {k: round(v - self.threads.get(k, 0.0), 2) for k, v in after.items()}
        self.threads = {k: v for k, v in spent.items() if v > 0.05}


async def run(args: argparse.Namespace, data_dir: Path, database_url: str) -> Result:
    relay = Server.start(
        "relay",
        relay_process,
        str(data_dir),
        database_url,
        bool(args.profile),
        args.replay_cache == "memory",
    )
    noop = Server.start("noop", noop_process)
    try:
        members, thread, prev = await setup_thread(relay.base)
        before = await relay_log_shape(relay.base)
        checkpoints_before = await count_checkpoints(database_url)
        latency_count = int(args.rate * (LATENCY_WARMUP + args.latency_seconds))
        saturation_count = args.pool or int(args.max_rate * (SATURATION_WARMUP + args.seconds))
        started = time.perf_counter()
        made = generate(
            members,
            thread,
            prev,
            saturation_count + latency_count,
            args.size,
            os.cpu_count() or 2,
            relay.base,
        )
        generation_s = time.perf_counter() - started
        saturation_pool, latency_pool = made[:saturation_count], made[saturation_count:]
        pids = {"relay": relay.process.pid, "noop": noop.process.pid, "generator": os.getpid()}
        saturation: dict[str, Saturation] = {}
        latency: dict[str, Latency] = {}
        profile_path = str(args.profile) if args.profile else None
        for name, server in (("noop", noop), ("relay", relay)):
            client = make_client(args.client, server, args.connections)
            try:
                prepared = await client.prepare(saturation_pool)
                watch = Watch(server, profile_path if server is relay else None)
                saturation[name] = await saturate(
                    client,
                    prepared,
                    reuse=server is noop,
                    connections=args.connections,
                    seconds=args.seconds,
                    cpu=CpuWindow(pids),
                    on_start=watch.begin,
                    on_end=watch.end,
                )
                saturation[name].threads_cpu_s = watch.threads
            finally:
                await client.close()
            await asyncio.sleep(1)
        for name, server in (("noop", noop), ("relay", relay)):
            client = make_client(args.client, server, args.connections)
            try:
                prepared = await client.prepare(latency_pool)
                latency[name] = await open_loop(
                    client,
                    prepared,
                    rate=args.rate,
                    seconds=args.latency_seconds,
                    cpu=CpuWindow(pids),
                )
            finally:
                await client.close()
            await asyncio.sleep(1)
        after = await relay_log_shape(relay.base)
        checkpoints_after = await count_checkpoints(database_url)
    finally:
        relay.stop()
        noop.stop()
    result = Result(
        args.db,
        args.client,
        args.connections,
        args.seconds,
        args.latency_seconds,
        len(made[0][1]),
        args.size,
        len(made),
        round(generation_s, 2),
        saturation,
        latency,
    )
    result.relay_entries = after - before
    # Rounds committed by the sequencer during the phases (one checkpoint per round).
    result.relay_checkpoints = checkpoints_after - checkpoints_before
    if profile_path:
        result.profile = profile_summary(profile_path)
    return result


def profile_summary(path: str, top: int = 30) -> list[str]:
    lines = []
    for key in ("tottime", "cumulative"):
        out = io.StringIO()
        pstats.Stats(path, stream=out).strip_dirs().sort_stats(key).print_stats(top)
        lines.append(f"--- relay event-loop thread, by {key} ---")
        lines.extend(out.getvalue().splitlines())
    return lines


# --- output ----------------------------------------------------------------------------------


def per_answer_ms(phase: Saturation, name: str) -> float:
    """CPU milliseconds the server spent per answer (less sensitive to a busy machine)."""
    if not phase.completed:
        return math.nan
    return phase.cpu_percent[name] / 100 * phase.seconds * 1000 / phase.completed


def table(result: Result) -> str:
    sat, lat = result.saturation, result.latency
    r, n = lat["relay"], lat["noop"]

    def ratio(a: float, b: float) -> str:
        return f"{a / b:.2f}" if b else "-"

    goals = result.goals()
    rows = [
        ("metric", "relay", "no-op", "ratio", "goal", "met?"),
        (
            "saturation (req/s)",
            f"{sat['relay'].requests_per_s:.0f}",
            f"{sat['noop'].requests_per_s:.0f}",
            f"{result.ratio:.2f}",
            f">= {GOAL_RATIO:.2f}",
            "yes" if goals["saturation_ratio"] else "NO",
        ),
    ]
    for label, attr in (("p50", "p50_ms"), ("p90", "p90_ms"), ("p99", "p99_ms"), ("max", "max_ms")):
        a, b = getattr(r, attr), getattr(n, attr)
        is_p99 = attr == "p99_ms"
        rows.append(
            (
                f"{label} @ {r.offered_per_s:.0f}/s (ms)",
                f"{a:.1f}",
                f"{b:.1f}",
                ratio(a, b),
                f"<= {GOAL_P99_MS:.0f} ms" if is_p99 else "",
                ("yes" if goals["p99_at_rate"] else "NO") if is_p99 else "",
            )
        )
    errors_relay = sat["relay"].errors + r.errors
    errors_noop = sat["noop"].errors + n.errors
    rows.append(
        (
            "errors (non-2xx)",
            str(errors_relay),
            str(errors_noop),
            "",
            "0",
            "yes" if result.errors == 0 else "NO",
        )
    )
    widths = [max(len(row[i]) for row in rows) for i in range(6)]
    lines = [
        "  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip() for row in rows
    ]
    lines.insert(1, "  ".join("-" * w for w in widths))
    rounds = result.relay_checkpoints
    lines += [
        "",
        f"database {result.db}; client {result.client}, {result.connections} connections; "
        f"envelope {result.envelope_bytes} bytes ({result.plaintext_bytes} plaintext, "
        f"3 recipients); {result.generated} requests made in {result.generation_s} s before "
        "measuring",
        f"saturation: {result.seconds:.0f} s measured after {SATURATION_WARMUP:.0f} s warm-up; "
        f"relay {sat['relay'].completed} answers, no-op {sat['noop'].completed}",
        f"latency: open loop, {result.latency_seconds:.0f} s measured after "
        f"{LATENCY_WARMUP:.0f} s warm-up; generator send lag p99: relay run "
        f"{r.send_lag_p99_ms} ms, no-op run {n.send_lag_p99_ms} ms",
        "server CPU per answer at saturation: "
        + ", ".join(
            f"{name} {per_answer_ms(sat[name], name):.3f} ms" for name in ("relay", "noop")
        ),
        f"relay log: {result.relay_entries} entries in {rounds} rounds"
        + (f" (mean round {result.relay_entries / rounds:.1f})" if rounds > 0 else ""),
        "CPU, % of one core (2 cores in all):",
    ]
    for phase, figures in (
        ("saturation, relay run", sat["relay"].cpu_percent),
        ("saturation, no-op run", sat["noop"].cpu_percent),
        ("latency, relay run", r.cpu_percent),
        ("latency, no-op run", n.cpu_percent),
    ):
        lines.append(f"  {phase}: " + ", ".join(f"{k} {v}" for k, v in figures.items()))
    lines.append(
        "  relay threads in saturation (CPU s): "
        + ", ".join(f"{k} {v}" for k, v in sorted(sat["relay"].threads_cpu_s.items()))
    )
    for name, phase in [(f"saturation {k}", v) for k, v in sat.items()] + [
        (f"latency {k}", v) for k, v in lat.items()
    ]:
        for sample in phase.error_samples:
            lines.append(f"  error sample ({name}): {sample}")
    busiest = max(phase.cpu_percent.get("others", 0.0) for phase in [*sat.values(), *lat.values()])
    if busiest > BUSY_MACHINE:
        lines.append(
            f"WARNING: other work on the machine used up to {busiest:.0f}% of a core during a "
            "phase; the figures are depressed and noisy (run again on a quiet machine)"
        )
    if any(s.exhausted for s in sat.values()):
        lines.append("INVALID: the pre-made requests ran out during saturation; raise --max-rate")
    if result.errors:
        lines.append(f"INVALID: {result.errors} errors; the figures are not a measurement")
    if result.profile:
        lines.append("PROFILED RUN: cProfile slows the relay; its figures are not its speed")
        lines += result.profile
    return "\n".join(lines)


def as_json(result: Result) -> str:
    data = asdict(result)
    data.update(ratio=result.ratio, valid=result.valid, goals=result.goals(), errors=result.errors)
    data["goal_values"] = {"saturation_ratio": GOAL_RATIO, "p99_ms": GOAL_P99_MS}
    return json.dumps(data, indent=2)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.http", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--seconds", type=float, default=10.0, help="saturation window (10)")
    parser.add_argument("--latency-seconds", type=float, default=15.0, help="latency window (15)")
    parser.add_argument("--rate", type=float, default=500.0, help="offered rate for latency (500)")
    parser.add_argument("--connections", type=int, default=64, help="client connections (64)")
    parser.add_argument("--client", choices=("aiohttp", "raw"), default="aiohttp")
    parser.add_argument("--size", type=int, default=1024, help="plaintext bytes (1024)")
    parser.add_argument("--db", choices=("sqlite", "postgres"), default="sqlite")
    parser.add_argument("--pg-url", default=PG_URL, help="server for --db postgres")
    parser.add_argument(
        "--max-rate",
        type=float,
        default=5000.0,
        help="requests/s the relay could reach, to size the pre-made pool (5000)",
    )
    parser.add_argument("--pool", type=int, default=0, help="saturation requests to make")
    parser.add_argument("--profile", metavar="FILE", help="cProfile the relay's saturation")
    parser.add_argument(
        "--replay-cache",
        choices=("database", "memory"),
        default="database",
        help="memory: skip the replay cache's database write, to measure its cost (database)",
    )
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)

    with tempfile.TemporaryDirectory(prefix="closedset-bench-http-", dir="/var/tmp") as tmp:
        data_dir = Path(tmp) / "relay-data"
        pg_name = None
        if args.db == "postgres":
            pg_name, database_url = fresh_pg_database(args.pg_url)
        else:
            database_url = f"sqlite+aiosqlite:///{data_dir / 'relay.db'}"
        try:
            result = asyncio.run(run(args, data_dir, database_url))
        finally:
            if pg_name is not None:
                drop_pg_database(args.pg_url, pg_name)
    print(as_json(result) if args.json else table(result))
    return 0 if result.valid else 1


if __name__ == "__main__":
    sys.exit(main())
