"""The log over real sockets: C2SP tlog-tiles to the byte, proofs, and clear 400s."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from keys.checkpoint import open_checkpoint
from keys.encoding import b64u_decode
from keys.merkle import hash_leaf, verify_consistency, verify_inclusion
from keys.note import NoteSigner, NoteVerifier
from keys.tlogproof import TlogProof, verify_tlog_proof_of_entry
from relay.log.entry import RecordType
from relay.log.http import add_log_routes, encode_tile_index, tile_path
from relay.log.sequencer import Sequencer
from relay.log.store import LogStore
from tests.relay.reference import NaiveTree

SIZE = 2 * 256 + 70  # two full level-0 tiles, a partial one of 70, a level-1 tile of 2


@dataclass
class Served:
    base: str
    http: aiohttp.ClientSession
    tree: NaiveTree
    entries: list[bytes]
    signer: NoteSigner


@pytest.fixture
async def served(store: LogStore, log_signer: NoteSigner) -> AsyncIterator[Served]:
    sequencer = await Sequencer.start(store, log_signer)
    receipts = await asyncio.gather(
        *(sequencer.submit(RecordType.ENVELOPE, b"entry %d" % i) for i in range(SIZE))
    )
    await sequencer.close()
    receipts.sort(key=lambda r: r.index)
    app = web.Application()
    add_log_routes(app, store, log_signer.verifier().key_string())
    server = TestServer(app, port=0)
    await server.start_server()
    try:
        async with aiohttp.ClientSession() as http:
            yield Served(
                str(server.make_url("/log")),
                http,
                NaiveTree([r.leaf_hash for r in receipts]),
                [r.entry for r in receipts],
                log_signer,
            )
    finally:
        await server.close()


async def _get(served: Served, path: str) -> tuple[int, dict[str, str], bytes]:
    async with served.http.get(served.base + path) as response:
        return response.status, dict(response.headers), await response.read()


def test_tile_indices_are_encoded_as_the_spec_shows() -> None:
    assert encode_tile_index(1234067) == "x001/x234/067"
    assert encode_tile_index(0) == "000"
    assert encode_tile_index(1000) == "x001/000"
    assert tile_path(1, 5, 17) == "1/005.p/17"
    assert tile_path("entries", 1_000_000) == "entries/x001/x000/000"


async def test_key_and_checkpoint(served: Served) -> None:
    status, headers, body = await _get(served, "/key")
    assert status == 200 and headers["Content-Type"] == "text/plain; charset=utf-8"
    verifier = NoteVerifier.from_key_string(body.decode().rstrip("\n"))
    status, headers, body = await _get(served, "/checkpoint")
    assert status == 200 and headers["Content-Type"] == "text/plain; charset=utf-8"
    assert headers["Cache-Control"] == "public, max-age=2"
    checkpoint = open_checkpoint(body.decode(), verifier).checkpoint
    assert (checkpoint.origin, checkpoint.size) == (served.signer.name, SIZE)
    assert checkpoint.root_hash == served.tree.root(SIZE)


async def test_level_0_tiles_hold_leaf_hashes(served: Served) -> None:
    for n, width in ((0, 256), (1, 256), (2, 70)):
        status, headers, body = await _get(served, f"/tile/{tile_path(0, n, width)}")
        assert status == 200
        assert headers["Content-Type"] == "application/octet-stream"
        assert body == b"".join(served.tree.leaves[n * 256 : n * 256 + width])
        if width == 256:
            assert headers["Cache-Control"] == "public, max-age=31536000, immutable"
    # A narrower partial tile is a prefix of the wider one.
    status, _, body = await _get(served, "/tile/0/002.p/5")
    assert status == 200 and body == b"".join(served.tree.leaves[512:517])


async def test_level_1_tile_holds_the_roots_of_full_level_0_tiles(served: Served) -> None:
    status, _, body = await _get(served, "/tile/1/000.p/2")
    assert status == 200
    assert body == served.tree.mth(0, 256) + served.tree.mth(256, 512)


async def test_entry_bundles_hash_to_their_level_0_tiles(served: Served) -> None:
    for n, width in ((0, 256), (2, 70)):
        status, _, body = await _get(served, f"/tile/{tile_path('entries', n, width)}")
        assert status == 200
        entries, offset = [], 0
        while offset < len(body):
            length = int.from_bytes(body[offset : offset + 2], "big")
            entries.append(body[offset + 2 : offset + 2 + length])
            offset += 2 + length
        assert entries == served.entries[n * 256 : n * 256 + width]
        assert [hash_leaf(e) for e in entries] == served.tree.leaves[n * 256 : n * 256 + width]


@pytest.mark.parametrize(
    "path",
    [
        "/tile/0/002",  # not full yet
        "/tile/0/002.p/71",  # wider than the tree
        "/tile/0/003.p/1",
        "/tile/1/000",
        "/tile/2/000.p/1",
        "/tile/entries/002",
        "/tile/entries/x001/000",
    ],
)
async def test_tiles_beyond_the_tree_are_404(served: Served, path: str) -> None:
    status, headers, body = await _get(served, path)
    assert status == 404
    assert headers["Content-Type"].startswith("application/problem+json")
    assert json.loads(body)["status"] == 404


@pytest.mark.parametrize(
    ("path", "words"),
    [
        ("/tile/0/2", "not a C2SP tlog-tiles index path"),
        ("/tile/0/x000/005", "not in canonical form"),
        ("/tile/0/000.p/256", "not between 1 and 255"),
        ("/tile/0/000.p/0", "not a C2SP tlog-tiles index path"),
        ("/tile/0/000.p/07", "not a C2SP tlog-tiles index path"),
        ("/tile/64/000", "not a number from 0 to 63"),
        ("/tile/01/000", "not a number from 0 to 63"),
        ("/proof/inclusion?index=1", "'size' is required"),
        ("/proof/inclusion?index=01&size=5", "without leading zeroes"),
        ("/proof/inclusion?index=5&size=5", "not inside a tree of size 5"),
        ("/proof/inclusion?index=0&size=100000", "larger than the log's current size"),
        ("/proof/consistency?from=0&to=5", "first size must be at least 1"),
        ("/proof/consistency?from=6&to=5", "at most the second"),
        ("/proof/consistency?from=-1&to=5", "without leading zeroes"),
        ("/proof/tlog/abc", "without leading zeroes"),
    ],
)
async def test_bad_parameters_get_one_clear_sentence(served: Served, path: str, words: str) -> None:
    status, headers, body = await _get(served, path)
    assert status == 400
    assert headers["Content-Type"] == "application/problem+json; charset=utf-8"
    problem = json.loads(body)
    assert problem["type"] == "about:blank" and problem["title"] == "Bad Request"
    assert words in problem["detail"] and problem["detail"].endswith(".")


async def test_proof_endpoints_serve_verifiable_proofs(served: Served) -> None:
    tree = served.tree
    status, _, body = await _get(served, "/proof/inclusion?index=300&size=513")
    proof = [b64u_decode(h) for h in json.loads(body)["hashes"]]
    assert status == 200 and proof == tree.path(300, 513)
    verify_inclusion(tree.leaves[300], 300, 513, proof, tree.root(513))

    status, _, body = await _get(served, f"/proof/consistency?from=7&to={SIZE}")
    proof = [b64u_decode(h) for h in json.loads(body)["hashes"]]
    assert status == 200
    verify_consistency(7, SIZE, proof, tree.root(7), tree.root(SIZE))

    status, headers, body = await _get(served, "/proof/tlog/581")
    assert status == 200 and headers["Cache-Control"] == "no-store"
    tlog_proof = TlogProof.parse(body.decode())
    assert body.decode().startswith("c2sp.org/tlog-proof@v1\nindex 581\n")
    signed = verify_tlog_proof_of_entry(tlog_proof, served.entries[581], served.signer.verifier())
    assert signed.checkpoint.size == SIZE

    status, _, _ = await _get(served, f"/proof/tlog/{SIZE}")
    assert status == 404
