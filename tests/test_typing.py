"""The trust core stays strictly typed: ``mypy --strict`` on keys/ is part of the suite."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_keys_passes_mypy_strict() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "mypy", "--strict", "keys"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_keys_imports_neither_client_nor_relay() -> None:
    offenders = [
        f"{path.relative_to(ROOT)}: {line.strip()}"
        for path in sorted((ROOT / "keys").rglob("*.py"))
        for line in path.read_text(encoding="utf-8").splitlines()
        if line.lstrip().startswith(("import ", "from "))
        and any(
            f"{verb} {pkg}" in line for verb in ("import", "from") for pkg in ("client", "relay")
        )
    ]
    assert offenders == []


def test_client_and_relay_do_not_import_each_other() -> None:
    def imports(package: str, other: str) -> list[str]:
        return [
            f"{path.relative_to(ROOT)}: {line.strip()}"
            for path in sorted((ROOT / package).rglob("*.py"))
            for line in path.read_text(encoding="utf-8").splitlines()
            if line.lstrip().startswith((f"import {other}", f"from {other}"))
        ]

    assert imports("client", "relay") == []
    assert imports("relay", "client") == []
