"""The served OpenAPI document describes exactly the routes the relay registers."""

from __future__ import annotations

import re
from pathlib import Path

from relay.app import create_app
from tests.relay.api_support import small_config


def test_every_route_is_documented_and_nothing_else(tmp_path: Path) -> None:
    app = create_app(small_config(tmp_path))
    routes = set()
    for route in app.router.routes():
        if route.method == "HEAD":
            continue
        info = route.resource.get_info() if route.resource is not None else {}
        path = info.get("path") or info.get("formatter") or ""
        routes.add((route.method.lower(), re.sub(r"\{(\w+):[^}]+\}", r"{\1}", path)))
    from relay.http.openapi import openapi_document

    document = openapi_document("http://127.0.0.1:8440")
    documented = {(m, p) for p, ops in document["paths"].items() for m in ops}
    assert routes == documented
    for operations in document["paths"].values():
        for operation in operations.values():
            assert operation["responses"], operation["summary"]
