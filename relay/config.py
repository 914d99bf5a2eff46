"""The relay's typed configuration: a TOML file, then ``CLOSEDSET_*`` variables, then flags.

:func:`load_config` is pure (text, environment and overrides in; a frozen
:class:`RelayConfig` out) and raises :class:`ConfigError` with one sentence naming the bad key.
Every key, its default and its environment variable are listed in docs/api.md, "Running".
"""

from __future__ import annotations

import contextlib
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from keys.envelope import MAX_RECIPIENTS
from keys.note import is_valid_key_name

if TYPE_CHECKING:
    from relay.mail.config import MailConfig
    from relay.witnessing import WitnessEndpoint

DEFAULT_HTTP_HOST = "127.0.0.1"
DEFAULT_HTTP_PORT = 8440


class ConfigError(ValueError):
    """The configuration cannot be used; the message names the key and what is wrong."""


@dataclass(frozen=True, slots=True)
class RateLimit:
    """A token bucket: ``rate`` requests per second on average, bursts up to ``burst``."""

    rate: float
    burst: int


@dataclass(frozen=True, slots=True)
class Limits:
    """What one request, and one caller, may do."""

    max_body_bytes: int = 1024 * 1024
    max_recipients: int = MAX_RECIPIENTS
    per_identity: RateLimit = field(default_factory=lambda: RateLimit(50.0, 200))
    per_address: RateLimit = field(default_factory=lambda: RateLimit(100.0, 400))
    invite_ttl_max: int = 14 * 24 * 3600
    clock_skew: int = 300
    page_max: int = 500
    # Connections (relay.http.server, relay.http.stream, relay.mail.server). An "address" is
    # the peer's IP address as the socket sees it: behind a proxy, the proxy's; over SMTP, the
    # sending mail server's, so all the mail of one provider shares that provider's limits.
    keepalive_timeout: float = 15.0
    """Seconds an idle HTTP connection is kept open between requests (aiohttp: 3630)."""
    header_timeout: float = 10.0
    """Seconds the head of a request (request line and headers) may take from its first byte."""
    body_timeout: float = 30.0
    """Seconds a request body may take to arrive once its head is in."""
    connections_per_address: int = 64
    requests_per_identity: int = 32
    """Requests one identity may have in progress at once, over all its connections."""
    streams_per_address: int = 16
    streams_per_identity: int = 4
    smtp_idle_timeout: float = 120.0
    """Seconds an SMTP session may wait for the client's next command (RFC 5321 4.5.3.2)."""
    smtp_session_timeout: float = 600.0
    """Seconds one SMTP session may last in all, however busy."""
    smtp_sessions_per_address: int = 20
    # Identity registration (relay.http.identities): what a stranger can add to the public log.
    registrations_per_address: RateLimit = field(default_factory=lambda: RateLimit(0.1, 10))
    registrations_per_identity: RateLimit = field(default_factory=lambda: RateLimit(0.05, 5))
    identities_per_address_hour: int = 10
    """New identities one address may register in any hour."""
    threads_per_day: int = 20
    """Threads one identity may create in 24 hours."""
    removed_post_budget: int = 16
    """Envelopes a removed member may still send a thread's coordinators (withdraw, check in,
    report): their own budget, which nobody else's action can spend."""


@dataclass(frozen=True, slots=True)
class RelayConfig:
    """Everything ``create_app`` and ``closedset relay serve`` need to know."""

    data_dir: Path
    http_host: str = DEFAULT_HTTP_HOST
    http_port: int = DEFAULT_HTTP_PORT
    smtp_host: str | None = None
    smtp_port: int | None = None
    database_url: str = ""
    public_url: str = ""
    log_origin: str = ""
    limits: Limits = field(default_factory=Limits)
    mail: MailConfig = field(default_factory=lambda: _mail_config(None, {}))
    """The ``[mail]`` table: thread addresses, STARTTLS, smarthost (docs/email.md)."""
    database_timeout: float = 10.0
    """Seconds a database connection, statement or lock wait may take before it fails (503)."""
    checkpoint_interval: float = 10.0
    """Seconds between checkpoints the sequencer signs and writes even when idle; /healthz
    fails when none succeeded within twice this."""
    witnesses: tuple[WitnessEndpoint, ...] = ()
    """The ``[[witnesses]]`` tables: tlog-witnesses that cosign checkpoints (docs/witness.md)."""

    @property
    def log_key_path(self) -> Path:
        return self.data_dir / "log-signing.key"


# The environment variables, each overriding one key (documented in docs/api.md).
ENVIRONMENT: dict[str, str] = {
    "CLOSEDSET_DATA_DIR": "data_dir",
    "CLOSEDSET_HTTP": "http",
    "CLOSEDSET_SMTP": "smtp",
    "CLOSEDSET_DB": "database_url",
    "CLOSEDSET_PUBLIC_URL": "public_url",
    "CLOSEDSET_LOG_ORIGIN": "log_origin",
    "CLOSEDSET_DB_TIMEOUT": "database_timeout",
    "CLOSEDSET_CHECKPOINT_INTERVAL": "checkpoint_interval",
}
_TOP_KEYS = frozenset(
    {
        "data_dir",
        "http",
        "smtp",
        "database_url",
        "public_url",
        "log_origin",
        "database_timeout",
        "checkpoint_interval",
    }
)
_RATE_KEYS = frozenset({"rate", "burst"})


def load_config(
    toml_text: str | None,
    environ: Mapping[str, str],
    overrides: Mapping[str, Any],
    *,
    default_data_dir: Path | None = None,
) -> RelayConfig:
    """Merge TOML, then ``CLOSEDSET_*`` variables, then ``overrides`` (command-line flags).

    ``overrides`` use the TOML key names (``data_dir``, ``http``, ``smtp``, ``database_url``);
    None values are ignored. Without any data directory, ``default_data_dir`` is used.
    """
    raw: dict[str, Any] = {}
    if toml_text:
        try:
            raw = tomllib.loads(toml_text)
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"The configuration file is not valid TOML: {exc}.") from exc
    unknown = set(raw) - _TOP_KEYS - {"limits", "mail", "witnesses"}
    if unknown:
        raise ConfigError(f"The configuration key {sorted(unknown)[0]!r} is not known.")
    settings = {k: v for k, v in raw.items() if k not in ("limits", "mail", "witnesses")}
    for variable, key in ENVIRONMENT.items():
        if environ.get(variable):
            settings[key] = environ[variable]
    settings.update({k: v for k, v in overrides.items() if v is not None})

    data_dir = settings.get("data_dir") or default_data_dir
    if data_dir is None:
        raise ConfigError("The key 'data_dir' is required: where the relay keeps its files.")
    config = RelayConfig(data_dir=Path(_text(data_dir, "data_dir")).expanduser())
    if "http" in settings:
        host, port = _host_port(settings["http"], "http")
        config = replace(config, http_host=host, http_port=port)
    if settings.get("smtp"):
        host, port = _host_port(settings["smtp"], "smtp")
        config = replace(config, smtp_host=host, smtp_port=port)
    database_url = _text(settings.get("database_url", ""), "database_url")
    if not database_url:
        database_url = f"sqlite+aiosqlite:///{config.data_dir / 'relay.db'}"
    elif not database_url.startswith(("sqlite+aiosqlite://", "postgresql+asyncpg://")):
        raise ConfigError(
            "The key 'database_url' must start with sqlite+aiosqlite:// or postgresql+asyncpg://."
        )
    public_url = _text(settings.get("public_url", ""), "public_url").rstrip("/")
    if not public_url:
        public_url = f"http://{_url_host(config.http_host)}:{config.http_port}"
    parts = urlsplit(public_url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ConfigError("The key 'public_url' must be an http:// or https:// URL.")
    log_origin = _text(settings.get("log_origin", ""), "log_origin")
    if not log_origin:
        # C2SP origins are schema-less URLs; a loopback relay gets a name that says so.
        host = (
            parts.hostname if parts.hostname not in ("127.0.0.1", "::1") else "closedset.localhost"
        )
        log_origin = f"{host}{parts.path}/log"
    if not is_valid_key_name(log_origin):
        raise ConfigError(f"The key 'log_origin' ({log_origin!r}) is not a valid log name.")
    if "database_timeout" in settings:
        config = replace(
            config, database_timeout=_top_seconds(settings["database_timeout"], "database_timeout")
        )
    if "checkpoint_interval" in settings:
        interval = _top_seconds(settings["checkpoint_interval"], "checkpoint_interval")
        config = replace(config, checkpoint_interval=interval)
    return replace(
        config,
        database_url=database_url,
        public_url=public_url,
        log_origin=log_origin,
        limits=_limits(raw.get("limits", {})),
        mail=_mail_config(raw.get("mail"), environ),
        witnesses=_witnesses(raw.get("witnesses")),
    )


def _mail_config(raw: Any, environ: Mapping[str, str]) -> MailConfig:
    # Imported here: relay.mail.config raises this module's ConfigError.
    from relay.mail.config import load_mail_config

    if raw is not None and not isinstance(raw, dict):
        raise ConfigError("The key 'mail' must be a table.")
    return load_mail_config(raw, environ)


def _witnesses(raw: Any) -> tuple[WitnessEndpoint, ...]:
    # Imported here, like mail: the parser lives beside the code that uses the witnesses.
    from relay.witnessing import WitnessConfigError, load_witness_config

    try:
        return load_witness_config(raw)
    except WitnessConfigError as exc:
        raise ConfigError(str(exc)) from exc


def _limits(raw: Any) -> Limits:
    if not isinstance(raw, dict):
        raise ConfigError("The key 'limits' must be a table.")
    known = {f.name for f in fields(Limits)}
    unknown = set(raw) - known
    if unknown:
        raise ConfigError(f"The configuration key 'limits.{sorted(unknown)[0]}' is not known.")
    values: dict[str, Any] = {}
    for name in (
        "max_body_bytes",
        "invite_ttl_max",
        "clock_skew",
        "page_max",
        "connections_per_address",
        "requests_per_identity",
        "streams_per_address",
        "streams_per_identity",
        "smtp_sessions_per_address",
        "identities_per_address_hour",
        "threads_per_day",
        "removed_post_budget",
    ):
        if name in raw:
            values[name] = _positive_int(raw[name], f"limits.{name}")
    for name in (
        "keepalive_timeout",
        "header_timeout",
        "body_timeout",
        "smtp_idle_timeout",
        "smtp_session_timeout",
    ):
        if name in raw:
            values[name] = _seconds(raw[name], f"limits.{name}")
    if "max_recipients" in raw:
        count = _positive_int(raw["max_recipients"], "limits.max_recipients")
        if count > MAX_RECIPIENTS:
            raise ConfigError(
                f"The key 'limits.max_recipients' may be at most {MAX_RECIPIENTS}, "
                "the envelope format's own cap."
            )
        values["max_recipients"] = count
    for name in (
        "per_identity",
        "per_address",
        "registrations_per_address",
        "registrations_per_identity",
    ):
        if name in raw:
            values[name] = _rate(raw[name], f"limits.{name}")
    return Limits(**values)


def _rate(raw: Any, key: str) -> RateLimit:
    if not isinstance(raw, dict) or set(raw) != _RATE_KEYS:
        raise ConfigError(f"The key {key!r} must be a table with exactly 'rate' and 'burst'.")
    rate = raw["rate"]
    if isinstance(rate, bool) or not isinstance(rate, int | float) or not rate > 0:
        raise ConfigError(f"The key '{key}.rate' must be a positive number (per second).")
    return RateLimit(float(rate), _positive_int(raw["burst"], f"{key}.burst"))


def _seconds(value: Any, key: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 < value <= 86400:
        raise ConfigError(f"The key {key!r} must be a number of seconds above 0, up to 86400.")
    return float(value)


def _positive_int(value: Any, key: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ConfigError(f"The key {key!r} must be a whole number of at least 1.")
    return value


def _top_seconds(value: Any, key: str) -> float:
    """Seconds for a top-level key, which may come from the environment as text."""
    if isinstance(value, str):
        with contextlib.suppress(ValueError):
            value = float(value)
    return _seconds(value, key)


def _text(value: Any, key: str) -> str:
    if isinstance(value, Path):
        return str(value)
    if not isinstance(value, str):
        raise ConfigError(f"The key {key!r} must be text.")
    return value


def _host_port(value: Any, key: str) -> tuple[str, int]:
    text = _text(value, key)
    host, sep, port_text = text.rpartition(":")
    host = host.strip("[]")
    if not sep or not host or not port_text.isdigit() or not 0 <= int(port_text) <= 65535:
        raise ConfigError(f"The key {key!r} must be HOST:PORT, such as 127.0.0.1:8440.")
    return host, int(port_text)


def _url_host(host: str) -> str:
    return f"[{host}]" if ":" in host else host
