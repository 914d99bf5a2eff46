"""Where each key of a TOML document is: ``tomllib`` parses values but reports no positions.

We scan the text line by line, tracking the current ``[table]`` or ``[[array]]`` (arrays get
their index as a path part) and skipping multi-line strings, and record the line of every
``key =`` and header. Good enough for the documents our templates produce and for the edits
people make to them; a key we cannot place is reported against the whole file (line 0).
"""

from __future__ import annotations

import re
import tomllib

from client.negotiation.errors import FormError, Problem

_PART = r"""(?:[A-Za-z0-9_-]+|"[^"\\]*"|'[^']*')"""
_DOTTED = rf"{_PART}(?:\s*\.\s*{_PART})*"
_HEADER = re.compile(rf"^\s*(\[\[?)\s*({_DOTTED})\s*\]\]?\s*(?:#.*)?$")
_KEY = re.compile(rf"^\s*({_DOTTED})\s*=")
_SPLIT = re.compile(_PART)
_TOML_ERROR = re.compile(r"^(.*) \(at line (\d+), column (\d+)\)$")

Path = tuple[str, ...]


def _split(dotted: str) -> Path:
    return tuple(p.strip("\"'") for p in _SPLIT.findall(dotted))


class Positions:
    """Line numbers (1-based) of keys and table headers, by path."""

    def __init__(self, text: str) -> None:
        self.lines: dict[Path, int] = {}
        table: Path = ()
        arrays: dict[Path, int] = {}
        closing: str | None = None
        for number, line in enumerate(text.splitlines(), 1):
            if closing is not None:
                if closing in line:
                    closing = None
                continue
            header = _HEADER.match(line)
            if header:
                path = _split(header.group(2))
                if header.group(1) == "[[":
                    arrays[path] = arrays.get(path, -1) + 1
                    path = (*path, str(arrays[path]))
                table = path
                self.lines.setdefault(table, number)
                continue
            key = _KEY.match(line)
            if key:
                self.lines.setdefault((*table, *_split(key.group(1))), number)
                rest = line[key.end() :]
                for quote in ('"""', "'''"):
                    if rest.count(quote) == 1:
                        closing = quote

    def line(self, *path: str) -> int:
        """The line of ``path``, else of its nearest enclosing table, else 0."""
        for end in range(len(path), 0, -1):
            if path[:end] in self.lines:
                return self.lines[path[:end]]
        return 0


def load(text: str, filename: str) -> dict[str, object]:
    """``tomllib.loads`` with its syntax errors turned into a line-numbered :class:`FormError`."""
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        match = _TOML_ERROR.match(str(exc))
        if match is None:
            raise FormError(filename, [Problem(0, f"{exc}; this is not valid TOML.")]) from exc
        message, line, column = match.group(1), int(match.group(2)), match.group(3)
        hint = "check the quotes, brackets and = signs on this line (TOML syntax)"
        raise FormError(filename, [Problem(line, f"column {column}: {message}; {hint}.")]) from exc
