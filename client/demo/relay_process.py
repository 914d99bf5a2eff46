"""The demo's embedded relay: ``closedset relay serve`` in a child process on free ports, with
SQLite in a temporary directory. ``client`` never imports ``relay``; it only starts it."""

from __future__ import annotations

import subprocess
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from client.errors import ClientError

READY = "listening on "
START_TIMEOUT = 30.0


@contextmanager
def embedded_relay(data_dir: Path) -> Iterator[str]:
    """Start a relay; yield its base URL once it says it is listening; stop it afterwards."""
    argv = [
        sys.executable,
        "-m",
        "client",
        "relay",
        "serve",
        "--data-dir",
        str(data_dir),
        "--http",
        "127.0.0.1:0",
        "--smtp",
        "127.0.0.1:0",
    ]
    data_dir.mkdir(parents=True, exist_ok=True)
    log = data_dir / "relay.log"
    # stderr goes to a file: a pipe nobody reads could fill up and stall the relay.
    with log.open("w") as errors:
        process = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=errors, text=True)
    try:
        yield _wait_until_listening(process, log)
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _wait_until_listening(process: subprocess.Popen[str], log: Path) -> str:
    """Read the relay's stdout up to its ``listening on URL`` line (or its early exit)."""
    found: list[str] = []
    ready = threading.Event()

    def read() -> None:
        assert process.stdout is not None
        for line in process.stdout:
            if line.startswith(READY) and not found:
                found.append(line[len(READY) :].strip())
                ready.set()
        ready.set()  # end of output: the relay stopped

    threading.Thread(target=read, daemon=True).start()
    if not ready.wait(START_TIMEOUT) or not found:
        process.kill()
        process.wait()
        error = log.read_text().strip().splitlines()[-1:] or ["no output"]
        raise ClientError(f"The embedded relay did not start: {error[0]}.")
    return found[0]
