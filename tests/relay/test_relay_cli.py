"""``closedset relay serve`` as an operator runs it: a subprocess on a free port, a fresh data
directory, its verifier key printed, health and checkpoint answered, a clean exit on SIGTERM.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import urllib.request
from pathlib import Path

from alembic.script import ScriptDirectory

from keys.checkpoint import open_checkpoint
from keys.note import NoteVerifier
from relay.migrations import alembic_config

CLOSEDSET = Path(sys.executable).with_name("closedset")


def _read_until_listening(process: subprocess.Popen[str]) -> list[str]:
    lines = []
    assert process.stdout is not None
    for line in process.stdout:
        lines.append(line.rstrip("\n"))
        if line.startswith("listening on "):
            return lines
    raise AssertionError(f"the relay exited before listening: {lines}")


def test_serve_starts_prints_its_key_answers_and_stops_on_sigterm(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CLOSEDSET_")}
    command = [
        str(CLOSEDSET),
        "relay",
        "serve",
        "--data-dir",
        str(tmp_path / "relay"),
        "--http",
        "127.0.0.1:0",
    ]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, text=True, env=env)
    try:
        lines = _read_until_listening(process)
        key_line = next(line for line in lines if line.startswith("log verifier key: "))
        verifier = NoteVerifier.from_key_string(key_line.removeprefix("log verifier key: "))
        base = lines[-1].removeprefix("listening on ")
        with urllib.request.urlopen(base + "/healthz", timeout=10) as response:
            assert response.status == 200
        with urllib.request.urlopen(base + "/log/checkpoint", timeout=10) as response:
            checkpoint = open_checkpoint(response.read().decode(), verifier).checkpoint
        assert checkpoint.size == 0
        key_file = tmp_path / "relay" / "log-signing.key"
        assert key_file.stat().st_mode & 0o777 == 0o600
    finally:
        process.send_signal(signal.SIGTERM)
        rest, _ = process.communicate(timeout=30)
    assert process.returncode == 0
    assert "shutting down" in rest


def test_migrate_brings_a_fresh_database_to_the_latest_revision(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CLOSEDSET_")}
    url = f"sqlite+aiosqlite:///{tmp_path / 'relay.db'}"
    result = subprocess.run(
        [str(CLOSEDSET), "relay", "migrate", "--data-dir", str(tmp_path), "--db", url],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    assert result.stdout.strip() == f"database is at revision {head}"


def test_a_bad_configuration_is_one_sentence_and_exit_1(tmp_path: Path) -> None:
    config = tmp_path / "relay.toml"
    config.write_text('http = "nowhere"\n')
    result = subprocess.run(
        [str(CLOSEDSET), "relay", "serve", "--config", str(config), "--data-dir", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 1
    assert "'http'" in result.stderr and "Traceback" not in result.stderr
