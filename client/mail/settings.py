"""The person's mail settings: ``[smtp]`` and ``[imap]`` tables of ``<home>/config.toml``.

Passwords are never in the file: ``CLOSEDSET_SMTP_PASSWORD`` / ``CLOSEDSET_IMAP_PASSWORD``, else
a prompt on a terminal. Example (docs/email.md, "Client")::

    [smtp]
    host = "smtp.example.org"     # your provider's submission server
    port = 587
    security = "starttls"         # starttls, tls or none
    user = "ana@example.org"
    from = "ana@example.org"
    relay_domain = "relay.example.org"   # the relay's mail domain (thread addresses)

    [imap]
    host = "imap.example.org"
    port = 993
    security = "tls"              # tls or none (aioimaplib has no STARTTLS)
    user = "ana@example.org"
    folder = "INBOX"
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from client.errors import UsageError

CONFIG_FILE = "config.toml"
SMTP_PASSWORD_ENV = "CLOSEDSET_SMTP_PASSWORD"
IMAP_PASSWORD_ENV = "CLOSEDSET_IMAP_PASSWORD"


@dataclass(frozen=True, slots=True)
class SmtpSettings:
    host: str
    port: int = 587
    security: str = "starttls"
    user: str | None = None
    from_address: str | None = None
    relay_domain: str | None = None


@dataclass(frozen=True, slots=True)
class ImapSettings:
    host: str
    port: int = 993
    security: str = "tls"
    user: str = ""
    folder: str = "INBOX"

    @property
    def key(self) -> str:
        """Names this mailbox in the sync state, so two accounts never share a position."""
        return f"{self.user}@{self.host}:{self.port}/{self.folder}"


def read_config(home: Path) -> dict[str, Any]:
    path = home / CONFIG_FILE
    try:
        return tomllib.loads(path.read_text("utf-8"))
    except FileNotFoundError:
        return {}
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise UsageError(f"Cannot read {path}: {exc}.") from exc


def smtp_settings(home: Path) -> SmtpSettings | None:
    table = _table(read_config(home), "smtp")
    if table is None:
        return None
    security = _choice(table, "smtp", "security", ("starttls", "tls", "none"), "starttls")
    return SmtpSettings(
        host=_text(table, "smtp", "host", required=True) or "",
        port=_port(table, "smtp", 465 if security == "tls" else 587),
        security=security,
        user=_text(table, "smtp", "user"),
        from_address=_text(table, "smtp", "from"),
        relay_domain=_text(table, "smtp", "relay_domain"),
    )


def imap_settings(home: Path) -> ImapSettings:
    table = _table(read_config(home), "imap")
    if table is None:
        raise UsageError(
            f"Add an [imap] table (host, port, security, user, folder) to {home / CONFIG_FILE}."
        )
    return ImapSettings(
        host=_text(table, "imap", "host", required=True) or "",
        port=_port(table, "imap", 993),
        security=_choice(table, "imap", "security", ("tls", "none"), "tls"),
        user=_text(table, "imap", "user", required=True) or "",
        folder=_text(table, "imap", "folder") or "INBOX",
    )


def _table(config: dict[str, Any], name: str) -> dict[str, Any] | None:
    table = config.get(name)
    if table is not None and not isinstance(table, dict):
        raise UsageError(f"The key '{name}' in {CONFIG_FILE} must be a table.")
    return table


def _text(table: dict[str, Any], name: str, key: str, required: bool = False) -> str | None:
    value = table.get(key)
    if value is None and required:
        raise UsageError(f"The key '{name}.{key}' is missing from {CONFIG_FILE}.")
    if value is not None and not isinstance(value, str):
        raise UsageError(f"The key '{name}.{key}' in {CONFIG_FILE} must be text.")
    return value


def _port(table: dict[str, Any], name: str, default: int) -> int:
    value = table.get("port", default)
    if isinstance(value, bool) or not isinstance(value, int) or not 0 < value < 65536:
        raise UsageError(f"The key '{name}.port' in {CONFIG_FILE} must be a port number.")
    return value


def _choice(
    table: dict[str, Any], name: str, key: str, choices: tuple[str, ...], default: str
) -> str:
    value = str(table.get(key, default)).lower()
    if value not in choices:
        raise UsageError(f"The key '{name}.{key}' must be one of {', '.join(choices)}.")
    return value
