"""The demo's last act: Ana exports an evidence bundle, and counsel verifies it offline.

Appended to the story through ``client.demo.scenario.EXTRA_STEPS`` when client/cli/evidence.py
is loaded. Counsel's check runs with this process's sockets refused, so the demo shows that
verifying needs nothing but the file and the log key the relay operator publishes.
"""

from __future__ import annotations

import io
import json
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from client.demo.scenario import EXTRA_STEPS, LIGHTHOUSE, Cast
from client.scenes import RelayPins


@contextmanager
def no_network() -> Iterator[None]:
    """Refuse every outgoing connection from this process while counsel verifies."""

    def refuse(*args: Any, **kwargs: Any) -> Any:
        raise OSError("counsel's verification must not use the network")

    saved = socket.socket.connect, socket.create_connection, socket.getaddrinfo
    socket.socket.connect = refuse  # type: ignore[method-assign]
    socket.create_connection = refuse
    socket.getaddrinfo = refuse
    try:
        yield
    finally:
        socket.socket.connect, socket.create_connection, socket.getaddrinfo = saved  # type: ignore[method-assign]


def export_for_counsel(c: Cast) -> str:
    out = c.workdir / "lighthouse-evidence.json"
    done = c.ana.cli("evidence", "export", LIGHTHOUSE, "--out", str(out))
    c.facts["evidence"] = out
    return f"Ana writes {out.name} ({done['bytes']} bytes): what she can open and a court needs."


def counsel_verifies(c: Cast) -> str:
    from client.cli.main import run

    key = RelayPins(c.ana.home).get(c.relay)
    assert key is not None, "Ana's profile has no pinned log key"
    args = ["verify", str(c.facts["evidence"]), "--log-key", key, "--json"]
    args += ["--home", str(c.workdir / "counsel")]
    c.transcript.append(f"counsel$ closedset verify lighthouse-evidence.json --log-key {key}")
    stdout, stderr = io.StringIO(), io.StringIO()
    with no_network():
        code = run(args, {}, stdout=stdout, stderr=stderr)
    report = json.loads(stdout.getvalue())
    assert code == 0 and report["verified"], report["failures"] or stderr.getvalue()
    scene = report["scene"]
    lines = [
        f"VERIFIED offline: {scene['scene']['title']}, {report['counts']['disclosed']} envelopes "
        f"disclosed, {report['counts']['withheld']} withheld (counted, not read)."
    ]
    lines += [
        f"{a['name']} accepted version {a['version']} on {a['at']}" for a in scene["acceptances"]
    ]
    lines += [f"{w['name']} withdrew {w['what']} on {w['at']}" for w in scene["withdrawals"]]
    return "\n".join(lines)


EXTRA_STEPS.append(("Ana exports an evidence bundle for counsel", export_for_counsel))
EXTRA_STEPS.append(("Counsel verifies it offline, trusting only the log key", counsel_verifies))
