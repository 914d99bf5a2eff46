"""The relay's mail settings: the ``[mail]`` table of the relay's TOML file, then ``CLOSEDSET_*``.

:func:`load_mail_config` is pure and raises ``relay.config.ConfigError`` naming the bad key.
The SMTP listener's HOST:PORT itself is ``smtp`` in :class:`relay.config.RelayConfig`.
Every key is listed in docs/email.md, "Configuration".
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, fields, replace
from pathlib import Path
from typing import Any

from relay.config import ConfigError

SECURITY_CHOICES = ("starttls", "tls", "none")

# Environment variable -> key. The smarthost password is read from the environment only,
# so it never sits in a file that gets copied around with the rest of the configuration.
ENVIRONMENT: dict[str, str] = {
    "CLOSEDSET_MAIL_DOMAIN": "domain",
    "CLOSEDSET_MAIL_FROM": "from_address",
    "CLOSEDSET_SMTP_TLS_CERT": "tls_cert",
    "CLOSEDSET_SMTP_TLS_KEY": "tls_key",
    "CLOSEDSET_SMTP_REQUIRE_TLS": "require_tls",
    "CLOSEDSET_SMTP_MAX_BYTES": "max_message_bytes",
    "CLOSEDSET_SMARTHOST": "smarthost",
    "CLOSEDSET_SMARTHOST_SECURITY": "smarthost_security",
    "CLOSEDSET_SMARTHOST_USER": "smarthost_user",
    "CLOSEDSET_SMARTHOST_PASSWORD": "smarthost_password",
    "CLOSEDSET_SMARTHOST_TIMEOUT": "smarthost_timeout",
    "CLOSEDSET_MAIL_RETRY_FIRST": "retry_first",
    "CLOSEDSET_MAIL_RETRY_MAX": "retry_max",
    "CLOSEDSET_MAIL_GIVE_UP_AFTER": "give_up_after",
    "CLOSEDSET_MAIL_POLL": "poll_interval",
}


@dataclass(frozen=True, slots=True)
class MailConfig:
    """Ingress (thread addresses, TLS, size) and egress (smarthost, retry policy)."""

    domain: str = "closedset.localhost"
    from_address: str = ""
    """The relay's own address, From of every outgoing message (default closedset@<domain>)."""
    tls_cert: Path | None = None
    tls_key: Path | None = None
    require_tls: bool = False
    """Refuse MAIL before STARTTLS (needs tls_cert and tls_key)."""
    max_message_bytes: int = 2 * 1024 * 1024
    max_rcpt_commands: int = 20
    smarthost_host: str | None = None
    smarthost_port: int = 587
    smarthost_security: str = "starttls"
    smarthost_user: str | None = None
    smarthost_password: str | None = None
    smarthost_timeout: float = 30.0
    """Seconds to wait for the smarthost; a crashed sender's lease lapses after 2x this + 5."""
    retry_first: float = 60.0
    """Seconds before the first retry; each later retry waits twice as long, up to retry_max."""
    retry_max: float = 3600.0
    give_up_after: float = 5 * 24 * 3600.0
    poll_interval: float = 5.0
    """How often the outbox looks for due mail when nothing woke it."""

    @property
    def egress_enabled(self) -> bool:
        return self.smarthost_host is not None

    def __repr__(self) -> str:  # the password must never reach a log line
        shown = {f.name: getattr(self, f.name) for f in fields(self)}
        if shown["smarthost_password"]:
            shown["smarthost_password"] = "***"
        return "MailConfig(" + ", ".join(f"{k}={v!r}" for k, v in shown.items()) + ")"


def load_mail_config(table: Mapping[str, Any] | None, environ: Mapping[str, str]) -> MailConfig:
    """Merge the ``[mail]`` TOML table with ``CLOSEDSET_*`` variables into a MailConfig."""
    raw: dict[str, Any] = dict(table or {})
    unknown = set(raw) - set(ENVIRONMENT.values()) - {"max_rcpt_commands"}
    if unknown:
        raise ConfigError(f"The configuration key 'mail.{sorted(unknown)[0]}' is not known.")
    for variable, key in ENVIRONMENT.items():
        if environ.get(variable):
            raw[key] = environ[variable]
    config = MailConfig()
    values: dict[str, Any] = {}
    if "domain" in raw:
        values["domain"] = _domain(raw["domain"])
    domain = values.get("domain", config.domain)
    values["from_address"] = _text(raw.get("from_address") or f"closedset@{domain}", "from_address")
    if "@" not in values["from_address"]:
        raise ConfigError("The key 'mail.from_address' must be an email address.")
    for key in ("tls_cert", "tls_key"):
        if raw.get(key):
            values[key] = Path(_text(raw[key], key)).expanduser()
    if ("tls_cert" in values) != ("tls_key" in values):
        raise ConfigError("The keys 'mail.tls_cert' and 'mail.tls_key' go together; set both.")
    if "require_tls" in raw:
        values["require_tls"] = _bool(raw["require_tls"], "require_tls")
        if values["require_tls"] and "tls_cert" not in values:
            raise ConfigError(
                "The key 'mail.require_tls' needs 'mail.tls_cert' and 'mail.tls_key'."
            )
    for key in ("max_message_bytes", "max_rcpt_commands"):
        if key in raw:
            values[key] = _positive_int(raw[key], key)
    if raw.get("smarthost"):
        values["smarthost_host"], values["smarthost_port"] = _host_port(raw["smarthost"])
    if "smarthost_security" in raw:
        security = _text(raw["smarthost_security"], "smarthost_security").lower()
        if security not in SECURITY_CHOICES:
            raise ConfigError("The key 'mail.smarthost_security' must be starttls, tls or none.")
        values["smarthost_security"] = security
    for key in ("smarthost_user", "smarthost_password"):
        if raw.get(key):
            values[key] = _text(raw[key], key)
    for key in ("retry_first", "retry_max", "give_up_after", "poll_interval", "smarthost_timeout"):
        if key in raw:
            values[key] = _seconds(raw[key], key)
    return replace(config, **values)


def _text(value: Any, key: str) -> str:
    if not isinstance(value, str):
        raise ConfigError(f"The key 'mail.{key}' must be text.")
    return value


def _domain(value: Any) -> str:
    domain = _text(value, "domain").strip().lower().rstrip(".")
    if not domain or "@" in domain or any(c.isspace() for c in domain):
        raise ConfigError("The key 'mail.domain' must be a domain name such as relay.example.org.")
    return domain


def _bool(value: Any, key: str) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in ("1", "true", "yes", "0", "false", "no"):
        return value.lower() in ("1", "true", "yes")
    raise ConfigError(f"The key 'mail.{key}' must be true or false.")


def _positive_int(value: Any, key: str) -> int:
    if isinstance(value, str) and value.isdigit():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ConfigError(f"The key 'mail.{key}' must be a whole number of at least 1.")
    return value


def _seconds(value: Any, key: str) -> float:
    try:
        seconds = float(value) if not isinstance(value, bool) else -1.0
    except (TypeError, ValueError):
        seconds = -1.0
    if not seconds > 0:
        raise ConfigError(f"The key 'mail.{key}' must be a positive number of seconds.")
    return seconds


def _host_port(value: Any) -> tuple[str, int]:
    host, sep, port = _text(value, "smarthost").rpartition(":")
    host = host.strip("[]")
    if not sep or not host or not port.isdigit() or not 0 < int(port) <= 65535:
        raise ConfigError(
            "The key 'mail.smarthost' must be HOST:PORT, such as smtp.example.org:587."
        )
    return host, int(port)
