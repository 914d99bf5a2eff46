"""The commands as a person runs them (``python -m client``): ``log watch`` catches a relay
that shows two histories under one key, and ``witness serve`` cosigns over its socket."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import aiohttp
from aiohttp import web
from aiohttp.test_utils import TestServer

from keys.checkpoint import open_checkpoint
from keys.cosignature import CosignatureVerifier
from keys.note import NoteSigner
from relay.log.entry import RecordType
from relay.log.http import add_log_routes
from relay.log.sequencer import Sequencer
from relay.log.store import LogStore
from tests.relay.conftest import DbTarget
from tests.witness.support import MemoryLog

CLOSEDSET = [sys.executable, "-m", "client"]


def environment(home: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CLOSEDSET_")}
    env["CLOSEDSET_HOME"] = str(home)
    return env


async def closedset(home: Path, *args: str) -> tuple[int, str, str]:
    process = await asyncio.create_subprocess_exec(
        *CLOSEDSET,
        *args,
        env=environment(home),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(process.communicate(), 60)
    assert process.returncode is not None
    return process.returncode, out.decode(), err.decode()


@asynccontextmanager
async def relay_log(store: LogStore, signer: NoteSigner, *entries: bytes) -> AsyncIterator[str]:
    """Only the log's read API, over a real socket, after appending ``entries``."""
    sequencer = await Sequencer.start(store, signer)
    for entry in entries:
        await sequencer.submit(RecordType.ENVELOPE, entry)
    await sequencer.close()
    app = web.Application()
    add_log_routes(app, store, signer.verifier().key_string())
    server = TestServer(app, port=0)
    await server.start_server()
    try:
        yield str(server.make_url("")).rstrip("/")
    finally:
        await server.close()


async def test_log_watch_catches_a_relay_with_two_histories(
    store: LogStore, log_signer: NoteSigner, other_db: DbTarget, tmp_path: Path
) -> None:
    home = tmp_path / "counsel"
    other_store = LogStore(other_db.make_engine())
    honest_entries = [b"honest %d" % i for i in range(5)]
    forged_entries = [b"forged %d" % i for i in range(8)]
    try:
        async with (
            relay_log(store, log_signer, *honest_entries) as first,
            relay_log(other_store, log_signer, *forged_entries) as second,
        ):
            code, out, err = await closedset(home, "log", "watch", first, "--once")
            assert code == 0, err
            assert "size 5: first checkpoint kept" in out and "Pinned the log key" in err
            honest_note = (await store.latest_checkpoint()).note

            # The same log key, another address, another history: exit 3, both printed.
            key = log_signer.verifier().key_string()
            code, out, err = await closedset(
                home, "log", "watch", second, "--once", "--log-key", key
            )
            forged_note = (await other_store.latest_checkpoint()).note
            assert code == 3, err
            assert honest_note in out and forged_note in out
            assert err.count("\n") == 1 and "Split view" in err and "does not extend" in err

            # The honest relay is still consistent with what was kept.
            assert (await closedset(home, "log", "watch", first, "--once", "--json"))[0] == 0
    finally:
        await other_store.engine.dispose()


async def test_log_watch_refuses_a_checkpoint_not_signed_by_the_given_key(
    store: LogStore, log_signer: NoteSigner, tmp_path: Path
) -> None:
    other_key = NoteSigner(log_signer.name, bytes(32)).verifier().key_string()
    async with relay_log(store, log_signer, b"one") as url:
        code, _, err = await closedset(
            tmp_path, "log", "watch", url, "--once", "--log-key", other_key
        )
    assert code == 1 and "does not verify with the pinned log key" in err


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


async def test_witness_serve_cosigns_over_its_socket_and_stops_on_sigterm(tmp_path: Path) -> None:
    log = MemoryLog().append(b"a", b"b", b"c")
    port = free_port()
    process = await asyncio.create_subprocess_exec(
        *CLOSEDSET,
        "witness",
        "serve",
        "--listen",
        f"127.0.0.1:{port}",
        "--name",
        "witness.test/w",
        "--log",
        f"{log.signer.name}={log.signer.verifier().key_string()}",
        env=environment(tmp_path),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        assert process.stdout is not None
        banner = (await asyncio.wait_for(process.stdout.readline(), 30)).decode()
        assert f"listening on http://127.0.0.1:{port}/add-checkpoint" in banner
        key = (await process.stdout.readline()).decode().split(": ", 1)[1].strip()
        body = f"old 0\n\n{log.checkpoint()}".encode()
        async with (
            aiohttp.ClientSession() as http,
            http.post(f"http://127.0.0.1:{port}/add-checkpoint", data=body) as response,
        ):
            assert response.status == 200
            line = await response.text()
        verifier = CosignatureVerifier.from_key_string(key)
        open_checkpoint(
            log.checkpoint() + line, log.signer.verifier(), witnesses=[verifier], min_witnesses=1
        )
    finally:
        process.send_signal(signal.SIGTERM)
        assert await asyncio.wait_for(process.wait(), 30) == 0
    assert (tmp_path / "witness-state.json").exists()
