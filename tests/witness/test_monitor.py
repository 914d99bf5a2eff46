"""The monitor against an in-memory log: growth is proven, and every kind of split view
(rollback, two roots for one size, a proof that fails) is caught with both checkpoints."""

from __future__ import annotations

from pathlib import Path

import pytest

from client.monitor import Monitor, MonitorError, MonitorState, Observation, SplitViewError
from keys.note import NoteSigner
from tests.witness.support import LOG_NAME, MemoryLog

RELAY = "http://relay.example.test"


class MemorySource:
    """A LogSource over a MemoryLog, so a test can switch the history it shows."""

    def __init__(self, log: MemoryLog) -> None:
        self.log = log

    async def log_key(self) -> str:
        return self.log.signer.verifier().key_string()

    async def checkpoint(self) -> str:
        return self.log.checkpoint()

    async def consistency_proof(self, first: int, second: int) -> list[bytes]:
        return self.log.proof(first, second)


def monitor(home: Path, log: MemoryLog, **options: object) -> Monitor:
    return Monitor(RELAY, MemorySource(log), MonitorState.load(home), clock=lambda: 1, **options)


def grown(prefix: bytes, size: int) -> MemoryLog:
    return MemoryLog().append(*(prefix + b" %d" % i for i in range(size)))


async def test_first_then_unchanged_then_grew_and_kept_across_restarts(tmp_path: Path) -> None:
    log = grown(b"e", 3)
    assert (await monitor(tmp_path, log).check()).status == "first"
    assert (await monitor(tmp_path, log).check()).status == "unchanged"
    log.append(b"four", b"five")
    seen = await monitor(tmp_path, log).check()
    assert (seen.status, seen.previous_size, seen.checkpoint.size) == ("grew", 3, 5)


@pytest.mark.parametrize(
    ("second", "fragment"),
    [
        (grown(b"e", 2), "rollback"),
        (grown(b"forged", 4), "two different trees of size 4"),
        (grown(b"forged", 7), "does not extend"),
    ],
)
async def test_split_view_is_caught_with_both_checkpoints(
    tmp_path: Path, second: MemoryLog, fragment: str
) -> None:
    first = grown(b"e", 4)
    await monitor(tmp_path, first).check()
    with pytest.raises(SplitViewError, match=fragment) as caught:
        await monitor(tmp_path, second).check()
    assert (caught.value.kept, caught.value.conflicting) == (
        first.checkpoint(),
        second.checkpoint(),
    )
    # The evidence stays in the state, and the kept checkpoint is not replaced.
    state = MonitorState.load(tmp_path)
    key = first.signer.verifier().key_string()
    assert state.kept(key)["checkpoint"] == first.checkpoint()
    assert state.document["logs"][key]["split_views"][0]["conflicting"] == second.checkpoint()


async def test_checkpoint_under_another_key_is_an_error_not_kept(tmp_path: Path) -> None:
    await monitor(tmp_path, grown(b"e", 2)).check()
    impostor = MemoryLog(signer=NoteSigner(LOG_NAME, bytes(32))).append(b"x")
    pinned = MonitorState.load(tmp_path).pinned_key(RELAY)
    with pytest.raises(MonitorError, match="pinned log key"):
        await monitor(tmp_path, impostor).check()
    assert MonitorState.load(tmp_path).pinned_key(RELAY) == pinned


async def test_watch_loop_reports_growth_and_stops_at_a_split_view(tmp_path: Path) -> None:
    log = grown(b"e", 2)
    source = MemorySource(log)
    seen: list[Observation] = []
    waits: list[float] = []

    async def sleep(seconds: float) -> None:
        waits.append(seconds)
        if len(waits) == 1:
            log.append(b"more")
        else:
            source.log = grown(b"forged", 5)

    watcher = Monitor(RELAY, source, MonitorState.load(tmp_path), clock=lambda: 1)
    with pytest.raises(SplitViewError):
        await watcher.watch(7.0, report=seen.append, sleep=sleep)
    assert [o.status for o in seen] == ["first", "grew"]
    assert waits == [7.0, 7.0]
