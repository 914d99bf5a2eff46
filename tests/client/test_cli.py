"""The first CLI commands, run as a person runs them: the real console script, real profiles."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from client.cli.main import build_parser
from client.cli.registry import commands

PASSPHRASE = "correct horse battery staple"
CLOSEDSET = [sys.executable, "-m", "client"]


def run(
    *args: str,
    home: Path | None = None,
    stdin: str = "",
    env: dict[str, str] | None = None,
    ok: bool = True,
) -> subprocess.CompletedProcess[str]:
    environ = {k: v for k, v in os.environ.items() if not k.startswith("CLOSEDSET_")}
    environ["CLOSEDSET_PASSPHRASE"] = PASSPHRASE
    environ.update(env or {})
    argv = [*CLOSEDSET, *args]
    if home is not None:
        argv += ["--home", str(home)]
    result = subprocess.run(
        argv, input=stdin, capture_output=True, text=True, env=environ, timeout=60
    )
    if ok:
        assert result.returncode == 0, result.stderr
    return result


@pytest.fixture
def pair(tmp_path: Path) -> tuple[Path, Path]:
    """An IC and a performer who have exchanged identities."""
    ic, ana = tmp_path / "ic", tmp_path / "ana"
    run("id", "new", "--name", "Ines", "--role", "ic", home=ic)
    run("id", "new", "--name", "Ana", "--role", "performer", "--email", "ana@example.org", home=ana)
    run("contacts", "add", "-", home=ic, stdin=run("id", "export", home=ana).stdout)
    run("contacts", "add", "-", home=ana, stdin=run("id", "export", home=ic).stdout)
    return ic, ana


def test_sealed_note_opens_for_its_recipient_and_names_the_signer(pair: tuple[Path, Path]) -> None:
    ic, ana = pair
    armored = run("seal", "--to", "Ana", home=ic, stdin="Call time is 09:00\n").stdout
    assert armored.startswith("-----BEGIN CLOSEDSET ENVELOPE-----")
    opened = json.loads(run("open", "--json", home=ana, stdin=armored).stdout)
    assert opened["plaintext"] == "Call time is 09:00\n"
    assert opened["sender"]["name"] == "Ines"
    assert opened["sender"]["verified"] is False


def test_quoted_reply_still_opens(pair: tuple[Path, Path]) -> None:
    ic, ana = pair
    armored = run("seal", "--to", "Ana", home=ic, stdin="x").stdout
    quoted = "On Monday Ines wrote:\n" + "".join(
        "> " + line + "\n" for line in armored.splitlines()
    )
    assert json.loads(run("open", "--json", home=ana, stdin=quoted).stdout)["plaintext"] == "x"


def test_wrong_passphrase_is_one_sentence_and_exit_1(pair: tuple[Path, Path]) -> None:
    ic, ana = pair
    armored = run("seal", "--to", "Ana", home=ic, stdin="x").stdout
    result = run(
        "open", home=ana, stdin=armored, env={"CLOSEDSET_PASSPHRASE": "not the one!"}, ok=False
    )
    assert result.returncode == 1
    assert result.stderr == "closedset: The passphrase does not open this keystore.\n"
    assert result.stdout == ""


def test_passphrase_file_works_without_the_environment(
    pair: tuple[Path, Path], tmp_path: Path
) -> None:
    ic, _ = pair
    secret = tmp_path / "pass.txt"
    secret.write_text(PASSPHRASE + "\n")
    result = run(
        "seal",
        "--to",
        "Ana",
        "--passphrase-file",
        str(secret),
        home=ic,
        stdin="x",
        env={"CLOSEDSET_PASSPHRASE": ""},
    )
    assert "BEGIN CLOSEDSET ENVELOPE" in result.stdout


def test_missing_passphrase_says_how_to_give_one(pair: tuple[Path, Path]) -> None:
    ic, _ = pair
    result = run(
        "seal", "--to", "Ana", home=ic, stdin="x", env={"CLOSEDSET_PASSPHRASE": ""}, ok=False
    )
    assert result.returncode == 2
    assert "CLOSEDSET_PASSPHRASE" in result.stderr and "Traceback" not in result.stderr


def test_outsider_cannot_open_and_gets_one_sentence(
    pair: tuple[Path, Path], tmp_path: Path
) -> None:
    ic, _ = pair
    olga = tmp_path / "olga"
    run("id", "new", "--name", "Olga", "--role", "counsel", home=olga)
    armored = run("seal", "--to", "Ana", home=ic, stdin="x").stdout
    result = run("open", home=olga, stdin=armored, ok=False)
    assert result.returncode == 1
    assert result.stderr.count("\n") == 1 and "not encrypted to you" in result.stderr


def test_tampered_envelope_is_refused(pair: tuple[Path, Path]) -> None:
    ic, ana = pair
    lines = run("seal", "--to", "Ana", home=ic, stdin="x").stdout.splitlines()
    body = lines[5]
    lines[5] = body[:10] + ("A" if body[10] != "A" else "B") + body[11:]
    result = run("open", home=ana, stdin="\n".join(lines) + "\n", ok=False)
    assert result.returncode == 1 and "Traceback" not in result.stderr


def test_contact_named_by_fingerprint_in_any_grouping(pair: tuple[Path, Path]) -> None:
    ic, ana = pair
    fingerprint = json.loads(run("id", "show", "--json", home=ana).stdout)["fingerprint"]
    odd = fingerprint.replace(" ", "").lower()
    odd = "-".join(odd[i : i + 8] for i in range(0, len(odd), 8))
    armored = run("seal", "--to", odd, home=ic, stdin="x").stdout
    assert json.loads(run("open", "--json", home=ana, stdin=armored).stdout)["plaintext"] == "x"


def test_verify_marks_a_contact_verified_and_key_change_resets_it(
    pair: tuple[Path, Path], tmp_path: Path
) -> None:
    ic, _ana = pair
    run("contacts", "verify", "Ana", "--yes", home=ic)
    listed = json.loads(run("contacts", "list", "--json", home=ic).stdout)
    assert [c["verified"] for c in listed] == [True]
    impostor = tmp_path / "impostor"
    run(
        "id",
        "new",
        "--name",
        "Ana",
        "--role",
        "performer",
        "--email",
        "ana@example.org",
        home=impostor,
    )
    added = run("contacts", "add", "-", home=ic, stdin=run("id", "export", home=impostor).stdout)
    assert "WARNING" in added.stdout and "NOT verified" in added.stdout
    listed = json.loads(run("contacts", "list", "--json", home=ic).stdout)
    assert [c["verified"] for c in listed] == [False, False]


def test_verify_without_confirmation_refuses_in_scripts(pair: tuple[Path, Path]) -> None:
    ic, _ = pair
    result = run("contacts", "verify", "Ana", home=ic, ok=False)
    assert result.returncode == 2 and "--yes" in result.stderr


def test_creating_twice_in_one_profile_is_refused(pair: tuple[Path, Path]) -> None:
    ic, _ = pair
    result = run("id", "new", "--name", "X", "--role", "ic", home=ic, ok=False)
    assert result.returncode == 1 and "already holds an identity" in result.stderr


def test_backup_restores_a_whole_profile(pair: tuple[Path, Path], tmp_path: Path) -> None:
    ic, ana = pair
    backup = tmp_path / "backup.asc"
    run("id", "backup", "--out", str(backup), home=ana)
    assert (backup.stat().st_mode & 0o777) == 0o600
    restored = tmp_path / "restored"
    run("id", "restore", str(backup), home=restored)
    armored = run("seal", "--to", "Ana", home=ic, stdin="still me").stdout
    assert (
        json.loads(run("open", "--json", home=restored, stdin=armored).stdout)["plaintext"]
        == "still me"
    )


def test_profile_files_are_private(pair: tuple[Path, Path]) -> None:
    _, ana = pair
    assert (ana.stat().st_mode & 0o777) == 0o700
    for path in ana.iterdir():
        assert (path.stat().st_mode & 0o777) == 0o600, path


def test_every_command_has_help_with_an_example() -> None:
    parser = build_parser()
    assert commands()
    for command in commands():
        sub = parser
        for word in command.path:
            action = next(a for a in sub._actions if a.__class__.__name__ == "_SubParsersAction")
            sub = action.choices[word]  # type: ignore[attr-defined]
        text = sub.format_help()
        assert "example:" in text and command.example in text, command.path


def test_demo_passes() -> None:
    result = run("demo", "--json")
    report = json.loads(result.stdout)
    assert report["passed"] is True
    assert len(report["steps"]) >= 8


def test_console_script_is_installed() -> None:
    script = Path(sys.prefix, "bin", "closedset")
    assert subprocess.run([str(script), "--help"], capture_output=True, timeout=30).returncode == 0


def test_no_private_key_is_ever_written_in_the_clear(pair: tuple[Path, Path]) -> None:
    import base64

    from keys.keystore import Keystore

    _, ana = pair
    run("id", "backup", "--out", str(ana / "backup.asc"), home=ana)
    secrets = Keystore.open(ana / "keystore.json", PASSPHRASE.encode()).secrets
    private = [v for name, v in secrets.items() if name == "identity" or name.startswith("device:")]
    assert len(private) == 2
    spellings = [
        form
        for key in private
        for form in (
            key,
            key.hex().encode(),
            base64.b64encode(key).rstrip(b"="),
            base64.urlsafe_b64encode(key).rstrip(b"="),
        )
    ]
    for path in ana.rglob("*"):
        if path.is_file():
            data = path.read_bytes()
            assert not any(s in data for s in spellings), path
