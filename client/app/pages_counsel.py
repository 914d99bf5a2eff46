"""Counsel's page, in verify-only mode: no identity or keystore needed. The same calls as
`closedset verify`: ``verify_bundle`` on the bundle's bytes, the report ``render`` prints,
checkpoints kept in ``<home>/kept-checkpoints`` as the CLI keeps them."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from aiohttp import web

from client.app.common import form_text, page, state_of
from client.cli.evidence import KEPT_DIR, _origin, _policy
from client.errors import UsageError
from client.evidence import kept as kept_store
from client.evidence.report import render
from client.evidence.verify import keep_after, verify_bundle
from keys.keystore import write_private_file

KEYS_FILE = "counsel-keys.json"  # public verifier keys only, remembered per case


def routes(app: web.Application) -> None:
    app.router.add_get("/counsel", counsel)
    app.router.add_post("/counsel", counsel_post)


def _cases(home: Path) -> dict[str, Any]:
    try:
        return dict(json.loads((home / KEYS_FILE).read_bytes()))
    except (FileNotFoundError, ValueError):
        return {}


async def counsel(request: web.Request) -> web.StreamResponse:
    home = state_of(request).home
    cases = _cases(home)
    case = request.query.get("case", "")
    remembered = cases.get(case) or {}
    return page(
        request,
        "counsel.html",
        {
            "values": {
                "case": case,
                "log_key": remembered.get("log_key", ""),
                "witnesses": "\n".join(remembered.get("witnesses", [])),
            },
            "cases": sorted(cases),
            "result": None,
        },
    )


class _Args:
    def __init__(self, log_key: str, witnesses: list[str]) -> None:
        self.log_key = log_key or None
        self.witness = witnesses
        self.witnesses_required = None


async def counsel_post(request: web.Request) -> web.StreamResponse:
    state = state_of(request)
    form = await request.post()
    values = {
        "case": form_text(form, "case", 200).strip(),
        "log_key": form_text(form, "log_key", 2000).strip(),
        "witnesses": form_text(form, "witnesses", 20000),
        "pasted": form_text(form, "pasted", 50_000_000),
    }
    upload = form.get("bundle")
    data = b""
    if upload is not None and not isinstance(upload, str | bytes):
        data = upload.file.read()  # type: ignore[union-attr]
    if not data and values["pasted"].strip():
        data = values["pasted"].encode("utf-8")
    errors = []
    if not data:
        errors.append({"field": "bundle", "text": "Choose the bundle file, or paste its text."})
    witnesses = [w.strip() for w in values["witnesses"].splitlines() if w.strip()]
    policy = None
    try:
        policy = _policy(_Args(values["log_key"], witnesses))  # type: ignore[arg-type]
    except UsageError as exc:
        errors.append({"field": "log_key", "text": str(exc)})
    ctx: dict[str, Any] = {"values": values, "cases": sorted(_cases(state.home)), "result": None}
    if errors or policy is None:
        return page(request, "counsel.html", ctx | {"errors": errors}, status=400)
    keep = state.home / KEPT_DIR
    origin = _origin(data)
    kept = kept_store.load(keep, origin) if origin else None
    report = verify_bundle(data, policy, kept, now=int(state.clock()))
    kept_note = None
    to_keep = keep_after(report)
    if to_keep is not None:
        key, checkpoint, note, proofs = to_keep
        kept_store.store(keep, key, checkpoint, note, proofs)
        kept_note = f"This bundle's checkpoint ({checkpoint.size} entries) is kept in {keep}."
    if values["case"]:
        cases = _cases(state.home)
        cases[values["case"]] = {"log_key": values["log_key"], "witnesses": witnesses}
        write_private_file(state.home / KEYS_FILE, json.dumps(cases, indent=1).encode())
    kept_list = []
    if origin:
        kept_list = [
            {"size": k.checkpoint.size, "origin": k.checkpoint.origin}
            for k in kept_store.load(keep, origin).checkpoints
        ]
    ctx["result"] = {
        "verified": report.verified,
        "failures": [f.sentence for f in report.failures],
        "warnings": report.warnings,
        "text": render(report, kept_note=kept_note),
        "kept": kept_list,
    }
    return page(request, "counsel.html", ctx)
