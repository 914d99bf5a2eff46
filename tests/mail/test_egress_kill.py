"""Kill test: mail queued toward a smarthost that is down survives SIGKILL of the relay; after
a restart and the smarthost coming up, every queued message is delivered exactly once, each
with the Message-ID it was queued with. The relay runs as ``closedset relay serve``.
"""

from __future__ import annotations

import json
import os
import signal
import smtplib
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from tests.mail.dovecot import Dovecot, free_port
from tests.mail.smarthost import start_smarthost
from tests.mail.support import DOMAIN, address, attached, person
from tests.relay.api_support import Person, seal_to

ROOT = Path(__file__).resolve().parents[2]
CLI = [sys.executable, "-m", "client"]
WATCHDOG = 60.0


class RelayProcess:
    """``closedset relay serve`` as a child; its first lines say where it listens."""

    def __init__(self, data_dir: Path, config: Path, http_port: int) -> None:
        self.process = subprocess.Popen(
            [
                *CLI,
                "relay",
                "serve",
                "--data-dir",
                str(data_dir),
                "--config",
                str(config),
                "--http",
                f"127.0.0.1:{http_port}",
                "--smtp",
                "127.0.0.1:0",
            ],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        self.watchdog = threading.Timer(WATCHDOG, self.process.kill)
        self.watchdog.start()
        self.smtp_port = 0
        assert self.process.stdout is not None
        for line in self.process.stdout:
            if line.startswith("smtp: listening on "):
                self.smtp_port = int(line.split()[3].rpartition(":")[2])
            if line.startswith("listening on http://"):
                break
        else:
            self.process.wait()
            err = self.process.stderr.read() if self.process.stderr else ""
            pytest.fail(f"the relay did not start ({self.process.returncode}): {err}")
        assert self.smtp_port

    def kill(self) -> None:
        self.process.send_signal(signal.SIGKILL)
        self.process.wait()
        self.watchdog.cancel()
        for stream in (self.process.stdout, self.process.stderr):
            if stream is not None:
                stream.close()


def mail_status(data_dir: Path, config: Path) -> dict[str, Any]:
    out = subprocess.run(
        [
            *CLI,
            "relay",
            "mail",
            "status",
            "--all",
            "--json",
            "--data-dir",
            str(data_dir),
            "--config",
            str(config),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    )
    return dict(json.loads(out.stdout))


def poll(condition: Any, timeout: float = 20.0, what: str = "condition") -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.1)  # polling interval of a condition, with a deadline
    raise TimeoutError(f"{what} not reached within {timeout} s")


async def _setup(base: str, ic: Person, ana: Person, ben: Person) -> bytes:
    import aiohttp

    from tests.relay.api_support import Api, open_thread

    async with aiohttp.ClientSession() as http:
        api = Api(http, base, time.time)  # type: ignore[arg-type]
        await api.register(ic, ana, ben)
        return await open_thread(api, ic, ana, ben)


@pytest.mark.slow
def test_sigkill_with_mail_queued_loses_nothing_and_sends_once(
    tmp_path: Path, dovecot: Dovecot
) -> None:
    import asyncio

    smarthost_port, http_port = free_port(), free_port()
    data_dir, config = tmp_path / "relay", tmp_path / "relay.toml"
    config.write_text(
        f'[mail]\ndomain = "{DOMAIN}"\nsmarthost = "127.0.0.1:{smarthost_port}"\n'
        'smarthost_security = "none"\nsmarthost_timeout = 1\nretry_first = 0.2\nretry_max = 0.5\n'
        "poll_interval = 0.2\n"
    )
    ic = person("Ines", "ic", "ines@mail.test")
    ana = person("Ana", "performer", "ana@mail.test")
    ben = person("Ben", "performer", "ben@mail.test")
    relay = RelayProcess(data_dir, config, http_port)
    try:
        thread = asyncio.run(_setup(f"http://127.0.0.1:{http_port}", ic, ana, ben))
        head = None
        for sender in (ic, ana, ben):
            others = [p for p in (ic, ana, ben) if p is not sender]
            envelope = seal_to(sender, thread, others, head, os.urandom(8))
            with smtplib.SMTP("127.0.0.1", relay.smtp_port, timeout=30) as smtp:
                smtp.sendmail(
                    "x@sender.test", [address(thread)], attached(envelope, address(thread))
                )
            head = envelope.hash
        # Two members with an address per envelope: six messages, each tried and failed.
        queued = poll(
            lambda: (
                (s := mail_status(data_dir, config))["counts"]["queued"] == 6
                and all(m["attempts"] >= 1 for m in s["mail"])
                and s
            ),
            what="six queued messages, each attempted",
        )
        message_ids = {(m["address"], m["message_id"]) for m in queued["mail"]}
    finally:
        relay.kill()

    controller, delivered = start_smarthost(dovecot.lmtp_port, smarthost_port)
    relay = RelayProcess(data_dir, config, http_port)
    try:
        accepted = delivered.wait_for(6)
        poll(lambda: mail_status(data_dir, config)["counts"]["sent"] == 6, what="six sent")
        final = mail_status(data_dir, config)
    finally:
        relay.kill()
        controller.stop()
    assert final["counts"] == {"queued": 0, "sent": 6, "failed": 0}
    # Exactly once, and each with the Message-ID it was queued with.
    assert sorted(delivered.accepted) == sorted(accepted) and len(delivered.accepted) == 6
    assert set(delivered.accepted) == message_ids
