"""``load_config`` is pure: TOML, then CLOSEDSET_* variables, then flags; bad keys are named."""

from __future__ import annotations

from pathlib import Path

import pytest

from relay.config import ConfigError, RateLimit, load_config

TOML = """
data_dir = "/srv/relay"
http = "0.0.0.0:9000"
public_url = "https://relay.example.org/"

[limits]
max_body_bytes = 65536
max_recipients = 16
per_identity = { rate = 5, burst = 20 }
"""


def test_defaults_need_only_a_data_directory() -> None:
    config = load_config(None, {}, {}, default_data_dir=Path("/d"))
    assert (config.http_host, config.http_port) == ("127.0.0.1", 8440)
    assert config.database_url == "sqlite+aiosqlite:////d/relay.db"
    assert config.log_origin == "closedset.localhost/log"
    assert config.smtp_host is None


def test_toml_then_environment_then_flags() -> None:
    config = load_config(TOML, {}, {})
    assert config.data_dir == Path("/srv/relay")
    assert (config.http_host, config.http_port) == ("0.0.0.0", 9000)
    assert config.public_url == "https://relay.example.org"
    assert config.log_origin == "relay.example.org/log"
    assert config.limits.max_recipients == 16
    assert config.limits.per_identity == RateLimit(5.0, 20)

    environ = {
        "CLOSEDSET_HTTP": "127.0.0.1:9100",
        "CLOSEDSET_DB": "postgresql+asyncpg://r@db/x",
        "CLOSEDSET_SMTP": "127.0.0.1:2525",
    }
    config = load_config(TOML, environ, {"http": "[::1]:9200", "data_dir": None})
    assert (config.http_host, config.http_port) == ("::1", 9200)
    assert config.database_url == "postgresql+asyncpg://r@db/x"
    assert (config.smtp_host, config.smtp_port) == ("127.0.0.1", 2525)
    assert config.data_dir == Path("/srv/relay")


@pytest.mark.parametrize(
    ("toml", "environ", "named"),
    [
        ("data_dir = '/d'\nlisten = 'x'\n", {}, "'listen'"),
        ("data_dir = '/d'\n[limits]\nmax_recipients = 65\n", {}, "'limits.max_recipients'"),
        (
            "data_dir = '/d'\n[limits]\nper_address = { rate = 0, burst = 1 }\n",
            {},
            "'limits.per_address.rate'",
        ),
        ("data_dir = '/d'\n[limits]\nspeed = 1\n", {}, "'limits.speed'"),
        ("data_dir = '/d'\n", {"CLOSEDSET_HTTP": "localhost"}, "'http'"),
        ("data_dir = '/d'\n", {"CLOSEDSET_DB": "mysql://x"}, "'database_url'"),
        ("data_dir = '/d'\n", {"CLOSEDSET_PUBLIC_URL": "ftp://x"}, "'public_url'"),
        ("data_dir = \n", {}, "not valid TOML"),
    ],
)
def test_a_bad_key_is_named_in_one_sentence(toml: str, environ: dict[str, str], named: str) -> None:
    with pytest.raises(ConfigError) as caught:
        load_config(toml, environ, {})
    assert named in str(caught.value)
    assert str(caught.value).count(". ") == 0


def test_without_any_data_directory_the_key_is_required() -> None:
    with pytest.raises(ConfigError, match="'data_dir'"):
        load_config(None, {}, {})
