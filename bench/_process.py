"""A server in a process of its own, for benchmarks that measure it from outside.

The child target gets one end of a pipe and sends ``(ready, info)`` once it listens (``info``
is what the parent needs: a port, or a dict of ports); it then answers commands on the pipe.
"""

from __future__ import annotations

import multiprocessing
from collections.abc import Callable
from contextlib import suppress
from dataclasses import dataclass
from multiprocessing.connection import Connection
from typing import Any, Self


@dataclass
class ServerProcess:
    name: str
    process: Any
    conn: Connection
    info: Any

    @classmethod
    def start(cls, name: str, target: Callable[..., None], *args: Any) -> Self:
        context = multiprocessing.get_context("spawn")
        parent, child = context.Pipe()
        process = context.Process(target=target, args=(child, *args), name=name, daemon=True)
        process.start()
        child.close()
        if not parent.poll(60):
            process.kill()
            raise RuntimeError(f"The {name} server did not start within 60 s.")
        _, info = parent.recv()
        return cls(name, process, parent, info)

    def stop(self, message: Any = ("stop", None)) -> None:
        with suppress(OSError):
            self.conn.send(message)
            if self.conn.poll(60):
                self.conn.recv()
        self.process.join(30)
        if self.process.is_alive():
            self.process.kill()
            self.process.join()
