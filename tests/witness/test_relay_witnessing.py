"""The relay with a witness on a real socket: checkpoints get cosigned and served, a witness's
size is learned from a 409, and a second history under the same key is refused."""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from client.witness.core import Witness
from client.witness.http import create_witness_app
from keys.checkpoint import open_checkpoint
from keys.cosignature import CosignatureSigner
from keys.note import NoteSigner
from relay.app import create_app
from relay.config import ConfigError, load_config
from relay.keyfile import load_or_create_log_key
from relay.log.entry import RecordType
from relay.log.http import add_log_routes
from relay.log.sequencer import Sequencer
from relay.log.store import LogStore
from relay.witnessing import (
    WITNESSING,
    WitnessEndpoint,
    Witnessing,
    add_witnessing,
)
from tests.relay.conftest import DbTarget
from tests.witness.support import NOW, WITNESS_NAME, WITNESS_SEED

SIGNER = CosignatureSigner(WITNESS_NAME, WITNESS_SEED)
KEY = SIGNER.verifier().key_string()


@asynccontextmanager
async def serving(app: web.Application) -> AsyncIterator[str]:
    server = TestServer(app, port=0)
    await server.start_server()
    try:
        yield str(server.make_url("")).rstrip("/")
    finally:
        await server.close()


def witness_for(log_signer: NoteSigner) -> Witness:
    return Witness(SIGNER, {log_signer.name: [log_signer.verifier()]})


async def append(sequencer: Sequencer, *entries: bytes) -> None:
    for entry in entries:
        await sequencer.submit(RecordType.ENVELOPE, entry)


async def test_relay_gets_each_checkpoint_cosigned_and_serves_it(
    store: LogStore, log_signer: NoteSigner
) -> None:
    witness = witness_for(log_signer)
    sequencer = await Sequencer.start(store, log_signer)
    async with serving(create_witness_app(witness, clock=lambda: NOW)) as witness_url:
        app = web.Application()
        add_log_routes(app, store, log_signer.verifier().key_string())
        add_witnessing(app, [WitnessEndpoint(witness_url, KEY)])
        async with serving(app) as relay_url, aiohttp.ClientSession() as http:
            witnessing = app[WITNESSING]
            for count in (3, 5):
                await append(sequencer, *(b"entry %d %d" % (count, i) for i in range(count)))
                witnessing.notify()
                await witnessing.wait_cosigned(sequencer.tree_size, KEY)
                async with http.get(relay_url + "/log/checkpoint") as response:
                    note = await response.text()
                opened = open_checkpoint(
                    note, log_signer.verifier(), witnesses=[SIGNER.verifier()], min_witnesses=1
                )
                assert opened.checkpoint.size == sequencer.tree_size
                assert witness.latest(log_signer.name).checkpoint.size == sequencer.tree_size
    await sequencer.close()


async def test_relay_learns_the_witness_size_from_a_409(
    store: LogStore, log_signer: NoteSigner
) -> None:
    witness = witness_for(log_signer)
    sequencer = await Sequencer.start(store, log_signer)
    await append(sequencer, b"a", b"b", b"c")
    # The witness already cosigned size 3 (for another relay process, say).
    witness.add_checkpoint(0, [], (await store.latest_checkpoint()).note, NOW)
    await append(sequencer, b"d", b"e")
    async with serving(create_witness_app(witness, clock=lambda: NOW)) as witness_url:
        witnessing = Witnessing(store, log_signer.verifier(), [WitnessEndpoint(witness_url, KEY)])
        await witnessing.start()
        try:
            await witnessing.run_once()
        finally:
            await witnessing.close()
    latest = await store.latest_checkpoint()
    assert latest is not None and latest.size == 5
    note = await witnessing.cosignatures.cosigned_note(latest)
    open_checkpoint(note, log_signer.verifier(), witnesses=[SIGNER.verifier()], min_witnesses=1)
    await sequencer.close()


async def test_witness_refuses_a_second_history_under_the_same_key(
    store: LogStore,
    log_signer: NoteSigner,
    other_db: DbTarget,
    caplog: pytest.LogCaptureFixture,
) -> None:
    witness = witness_for(log_signer)
    honest = await Sequencer.start(store, log_signer)
    await append(honest, *(b"honest %d" % i for i in range(4)))
    other_store = LogStore(other_db.make_engine())
    dishonest = await Sequencer.start(other_store, log_signer)
    await append(dishonest, *(b"forged %d" % i for i in range(6)))
    try:
        async with serving(create_witness_app(witness, clock=lambda: NOW)) as witness_url:
            endpoint = [WitnessEndpoint(witness_url, KEY)]
            for log_store in (store, other_store):
                witnessing = Witnessing(log_store, log_signer.verifier(), endpoint)
                await witnessing.start()
                try:
                    await witnessing.run_once()
                finally:
                    await witnessing.close()
        first, second = await store.latest_checkpoint(), await other_store.latest_checkpoint()
        assert first is not None and second is not None
        assert await witnessing.cosignatures.lines(second) == []
        assert "refused size 6 with 422" in caplog.text
        assert (
            len(await Witnessing(store, log_signer.verifier(), []).cosignatures.lines(first)) == 1
        )
        assert witness.latest(log_signer.name).note == first.note
    finally:
        await honest.close()
        await dishonest.close()
        await other_store.engine.dispose()


async def test_relay_app_configured_with_a_witness_serves_cosigned_checkpoints(
    log_db: DbTarget, tmp_path: Path
) -> None:
    data_dir = tmp_path / "relay-data"
    base = load_config(None, {}, {"data_dir": str(data_dir)})
    log_signer = load_or_create_log_key(base.log_key_path, base.log_origin)[0]
    witness = witness_for(log_signer)
    async with serving(create_witness_app(witness, clock=lambda: NOW)) as witness_url:
        toml = f'[[witnesses]]\nurl = "{witness_url}"\nkey = "{KEY}"\n'
        config = load_config(toml, {}, {"data_dir": str(data_dir)})
        app = create_app(config, engine=log_db.make_engine())
        async with serving(app) as relay_url, aiohttp.ClientSession() as http:
            # The relay signed the empty tree at startup; the task submits it at once.
            await asyncio.wait_for(app[WITNESSING].wait_cosigned(0, KEY), 10)
            async with http.get(relay_url + "/log/checkpoint") as response:
                note = await response.text()
    opened = open_checkpoint(
        note, log_signer.verifier(), witnesses=[SIGNER.verifier()], min_witnesses=1
    )
    assert opened.witness_names == (WITNESS_NAME,)


@pytest.mark.parametrize(
    ("toml", "fragment"),
    [
        ('witnesses = "x"', "array of tables"),
        ('[[witnesses]]\nurl = "ftp://w"\nkey = "k"', "http(s) URL"),
        ('[[witnesses]]\nurl = "http://w"\nkey = "not+a+key"', "not a cosignature verifier key"),
        ('[[witnesses]]\nurl = "http://w"', "exactly the keys"),
    ],
)
def test_bad_witness_configuration_is_one_sentence(
    toml: str, fragment: str, tmp_path: Path
) -> None:
    with pytest.raises(ConfigError, match=re.escape(fragment)):
        load_config(toml, {}, {"data_dir": str(tmp_path)})
