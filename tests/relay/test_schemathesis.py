"""Schemathesis against a running relay: the OpenAPI document describes exactly what it accepts.

For every operation in ``/openapi.json``, a bounded, derandomized run of schema-valid
(positive) and schema-violating (negative) requests, each signed like a client signs:
``requests`` prepares the request, and the signature is made over the prepared request's
method, path and final body bytes, so the Content-Digest covers exactly what goes on the wire.
Checks: no 5xx, every status and content type documented, every response body valid against
its schema, and negative data refused. Runs on SQLite and PostgreSQL, with a relay on a real
socket in a thread of its own (``requests`` blocks).
"""

from __future__ import annotations

import asyncio
import os
import threading
import time
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.checks import (
    content_type_conformance,
    negative_data_rejection,
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)

from keys.httpsig import authority_of, sign_request
from relay.app import create_app
from relay.config import Limits, load_config
from relay.http.server import RelayRunner
from tests.relay.api_support import ROOMY, Person
from tests.relay.conftest import drop_target, make_target

EXAMPLES = 12
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]


class ThreadedRelay:
    """The relay on 127.0.0.1:<free port>, served by an event loop in a thread of its own."""

    def __init__(self, backend: str, tmp_path: Path) -> None:
        self.target = make_target(backend, tmp_path)
        config = load_config(
            None, {}, {"data_dir": str(tmp_path / "relay-data"), "http": "127.0.0.1:0"}
        )
        limits = Limits(
            per_identity=ROOMY,
            per_address=ROOMY,
            registrations_per_address=ROOMY,
            registrations_per_identity=ROOMY,
            identities_per_address_hour=10_000,
            # Some generated requests are not HTTP at all; the relay waits this long for more.
            header_timeout=2.0,
        )
        self.config = replace(config, limits=limits)
        self.loop = asyncio.new_event_loop()
        self.ready = threading.Event()
        self.port = 0
        self._stop: asyncio.Event | None = None
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        asyncio.set_event_loop(self.loop)
        self.loop.run_until_complete(self._serve())

    async def _serve(self) -> None:
        from aiohttp import web

        app = create_app(self.config, engine=self.target.make_engine())
        runner = RelayRunner(app, limits=self.config.limits, handle_signals=False)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        self.port = runner.addresses[0][1]
        self._stop = asyncio.Event()
        self.ready.set()
        try:
            await self._stop.wait()
        finally:
            await runner.cleanup()

    def __enter__(self) -> ThreadedRelay:
        self.thread.start()
        assert self.ready.wait(60), "the relay did not start"
        return self

    def __exit__(self, *exc: object) -> None:
        if self._stop is not None:
            self.loop.call_soon_threadsafe(self._stop.set)
        self.thread.join(60)
        self.loop.close()
        drop_target(self.target)

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"


@pytest.fixture(params=["sqlite", "postgresql"], scope="module")
def relay(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Any]:
    with ThreadedRelay(request.param, tmp_path_factory.mktemp("schemathesis")) as relay:
        yield relay


def _send(relay: ThreadedRelay, session: requests.Session, who: Person, case: Any) -> Any:
    kwargs = case.as_transport_kwargs(base_url=relay.base)
    kwargs.pop("timeout", None)
    prepared = session.prepare_request(requests.Request(**kwargs))
    body = prepared.body or b""
    if isinstance(body, str):
        body = body.encode("utf-8")
        prepared.body = body
    # Signed last, over the prepared request: the digest covers the bytes that are sent.
    target = prepared.path_url
    prepared.headers.update(
        sign_request(
            who.key,
            prepared.method or "GET",
            target,
            body,
            authority=authority_of(relay.base),
            created=int(time.time()),
            nonce=os.urandom(16),
        )
    )
    return session.send(prepared, timeout=30, allow_redirects=False)


def _fuzz(
    relay: ThreadedRelay, session: requests.Session, who: Person, operation: Any, mode: Any
) -> str | None:
    """Run one operation in one generation mode; the first failure's text, or None."""
    checks = CHECKS + ([negative_data_rejection] if mode.is_negative else [])

    @settings(
        derandomize=True,
        max_examples=EXAMPLES,
        deadline=None,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(case=operation.as_strategy(generation_mode=mode))
    def run(case: Any) -> None:
        response = _send(relay, session, who, case)
        case.validate_response(response, checks=checks)

    started = time.perf_counter()
    try:
        run()
    except Unsatisfiable:
        return None  # nothing to negate: an operation without parameters or body
    except (Exception, BaseExceptionGroup) as exc:  # AssertionError, or a FailureGroup
        return str(exc)[:1500]
    finally:
        if os.environ.get("CLOSEDSET_SCHEMATHESIS_TIMES"):
            print(
                f"{operation.method} {operation.path} {mode.value}: "
                f"{time.perf_counter() - started:.2f}s"
            )
    return None


def test_the_relay_accepts_exactly_what_its_openapi_document_says(relay: ThreadedRelay) -> None:
    who = Person.new("Ines", "ic")
    with requests.Session() as session:
        registered = session.post(
            relay.base + "/v1/identities",
            data=who.bundle(),
            headers={
                "Content-Type": "application/json",
                **sign_request(
                    who.key,
                    "POST",
                    "/v1/identities",
                    who.bundle(),
                    authority=authority_of(relay.base),
                    created=int(time.time()),
                    nonce=os.urandom(16),
                ),
            },
            timeout=30,
        )
        assert registered.status_code == 201, registered.text
        document = session.get(relay.base + "/openapi.json", timeout=30).json()
        schema = schemathesis.openapi.from_dict(document)
        # The signature is the hook's to make (over the final bytes), not a generated header.
        schema.config.generation.update(with_security_parameters=False)
        failures: list[str] = []
        for result in schema.get_all_operations():
            operation = result.ok()
            for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
                failure = _fuzz(relay, session, who, operation, mode)
                if failure is not None:
                    failures.append(
                        f"{operation.method.upper()} {operation.path} ({mode}): {failure}"
                    )
        assert not failures, "\n\n".join(failures)
