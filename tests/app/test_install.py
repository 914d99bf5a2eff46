"""What `pipx install` of the package brings: every template and static file of the app is
package data, and the runtime needs nothing from the test extra. And the profile lock the app
and the CLI share."""

from __future__ import annotations

import fnmatch
import threading
import tomllib
from pathlib import Path

from client import profile_lock
from client.cli.main import run

ROOT = Path(__file__).resolve().parents[2]
APP = ROOT / "client" / "app"


def test_every_app_file_ships_in_the_package() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())
    patterns = project["tool"]["setuptools"]["package-data"]["client.app"]
    files = [p.relative_to(APP).as_posix() for d in ("templates", "static")
             for p in (APP / d).rglob("*") if p.is_file()]  # fmt: skip
    assert files
    assert [f for f in files if not any(fnmatch.fnmatch(f, pat) for pat in patterns)] == []
    runtime = " ".join(project["project"]["dependencies"])
    for needed in ("jinja2", "aiohttp-jinja2", "zxcvbn", "segno"):
        assert needed in runtime
    for test_only in ("playwright", "axe"):
        assert test_only not in runtime


def test_a_cli_command_waits_for_the_apps_profile_lock(tmp_path: Path) -> None:
    home = tmp_path / "ana"
    env = {"CLOSEDSET_HOME": str(home), "CLOSEDSET_PASSPHRASE": "violet anchor pebble drizzle"}
    fd = profile_lock.acquire(home)  # the app is in the middle of a change
    done = threading.Event()
    codes: list[int] = []

    def cli() -> None:
        codes.append(run(["id", "new", "--name", "Ana Ruiz", "--role", "performer"], env))
        done.set()

    threading.Thread(target=cli, daemon=True).start()
    assert not done.wait(2)  # still waiting for the lock: nothing written yet
    assert not (home / "keystore.json").exists()
    profile_lock.release(fd)
    assert done.wait(30) and codes == [0]
    assert (home / "keystore.json").exists()
