"""The witness over a real socket: every status and body C2SP tlog-witness names."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest
from aiohttp.test_utils import TestServer

from client.witness.http import create_witness_app
from keys.checkpoint import open_checkpoint
from keys.note import NoteSigner, std_b64encode
from tests.witness.support import NOW, MemoryLog
from tests.witness.test_witness_core import SIGNER, grown, make_witness

Served = tuple[str, aiohttp.ClientSession, MemoryLog]


def body(old: int, proof: list[bytes], note: str) -> bytes:
    lines = [f"old {old}", *(std_b64encode(h) for h in proof)]
    return ("".join(line + "\n" for line in lines) + "\n" + note).encode()


@pytest.fixture
async def served(tmp_path: Path) -> AsyncIterator[Served]:
    log = grown(5)
    server = TestServer(create_witness_app(make_witness(log, tmp_path), clock=lambda: NOW), port=0)
    await server.start_server()
    try:
        async with aiohttp.ClientSession() as http:
            yield str(server.make_url("/add-checkpoint")), http, log
    finally:
        await server.close()


async def post(http: aiohttp.ClientSession, url: str, data: bytes) -> tuple[int, str, str]:
    async with http.post(url, data=data) as response:
        return response.status, response.headers["Content-Type"], await response.text()


async def test_cosignature_lines_then_growth_then_each_refusal(served: Served) -> None:
    url, http, log = served
    status, _, text = await post(http, url, body(0, [], log.checkpoint()))
    assert status == 200
    assert text.startswith(f"\u2014 {SIGNER.name} ") and text.endswith("\n")
    open_checkpoint(
        log.checkpoint() + text,
        log.signer.verifier(),
        witnesses=[SIGNER.verifier()],
        min_witnesses=1,
    )

    log.append(b"six", b"seven")
    assert (await post(http, url, body(5, log.proof(5, 7), log.checkpoint())))[0] == 200

    # Wrong old size: 409, body exactly the witness's size, text/x.tlog.size.
    status, content_type, text = await post(http, url, body(5, log.proof(5, 7), log.checkpoint()))
    assert (status, content_type, text) == (409, "text/x.tlog.size", "7\n")

    # Same size, different root under the same key: 409 too.
    forked = MemoryLog().append(*(b"other %d" % i for i in range(7)))
    status, content_type, text = await post(http, url, body(7, [], forked.checkpoint()))
    assert (status, content_type, text) == (409, "text/x.tlog.size", "7\n")

    # Growth that does not extend what was cosigned: 422.
    forked.append(b"eight")
    status, _, text = await post(http, url, body(7, forked.proof(7, 8), forked.checkpoint()))
    assert status == 422 and "does not verify" in text

    # Old larger than the checkpoint (a rollback with the true old size): 400.
    status, _, text = await post(http, url, body(7, [], log.checkpoint(5)))
    assert status == 400 and "larger than" in text


async def test_unknown_log_forged_signature_and_garbage(served: Served) -> None:
    url, http, _ = served
    stranger = MemoryLog(signer=NoteSigner("elsewhere.example/log", bytes(32))).append(b"x")
    assert (await post(http, url, body(0, [], stranger.checkpoint())))[0] == 404
    impostor = MemoryLog(signer=NoteSigner("relay.example.test/log", bytes(32))).append(b"x")
    assert (await post(http, url, body(0, [], impostor.checkpoint())))[0] == 403
    status, _, text = await post(http, url, b"hello")
    assert status == 400 and text.endswith(".\n")
    async with http.get(url) as response:
        assert response.status == 405
