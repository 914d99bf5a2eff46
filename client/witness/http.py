"""HTTP face of the witness (C2SP tlog-witness): ``POST /add-checkpoint`` and nothing else.

Request: ``old <size>\\n``, up to 63 base64 proof lines, an empty line, the signed checkpoint.
Answers: 200 with the cosignature line(s); 409 with ``<latest size>\\n`` as
``text/x.tlog.size``; 400, 403, 404 and 422 with one plain-text sentence; 500 when the state
cannot be saved (then nothing was cosigned). All checks live in ``client.witness.core``.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

from aiohttp import web

from client.witness.core import AddCheckpointError, AddCheckpointRequest, ConflictError, Witness
from client.witness.state import WitnessStateError

WITNESS = web.AppKey("closedset.witness", Witness)
CLOCK: web.AppKey[Callable[[], float]] = web.AppKey("closedset.witness.clock")

SIZE_CONTENT_TYPE = "text/x.tlog.size"
# An old line, 63 proof lines and a note with up to 100 signatures fit well inside this.
MAX_REQUEST_BYTES = 64 * 1024

_log = logging.getLogger(__name__)


def create_witness_app(witness: Witness, clock: Callable[[], float] = time.time) -> web.Application:
    """The witness's aiohttp application; ``clock`` gives the cosignatures' timestamps."""
    app = web.Application(client_max_size=MAX_REQUEST_BYTES)
    app[WITNESS] = witness
    app[CLOCK] = clock
    app.router.add_post("/add-checkpoint", post_add_checkpoint)
    return app


async def post_add_checkpoint(request: web.Request) -> web.Response:
    witness = request.app[WITNESS]
    try:
        body = await request.read()
        parsed = AddCheckpointRequest.parse(body)
        line = witness.add_checkpoint(
            parsed.old_size, parsed.proof, parsed.note, int(request.app[CLOCK]())
        )
    except ConflictError as exc:
        _log.info("add-checkpoint refused (409): %s", exc)
        # The body is exactly the witness's latest size, so the log can retry from it.
        return web.Response(
            body=f"{exc.current_size}\n".encode("ascii"),
            headers={"Content-Type": SIZE_CONTENT_TYPE},
            status=409,
        )
    except AddCheckpointError as exc:
        _log.info("add-checkpoint refused (%d): %s", exc.status, exc)
        return _text(exc.status, str(exc))
    except WitnessStateError as exc:
        _log.error("add-checkpoint failed: %s", exc)
        return _text(500, "The witness could not save its state; nothing was cosigned.")
    return _text(200, line, newline=False)


def _text(status: int, text: str, *, newline: bool = True) -> web.Response:
    return web.Response(
        status=status,
        text=text + ("\n" if newline else ""),
        content_type="text/plain",
        charset="utf-8",
    )
