"""A TOML form being checked: values by path, every mistake collected with its line and fix."""

from __future__ import annotations

import difflib
import json
from collections.abc import Iterable
from typing import Any

from client.negotiation._tomlpos import Positions, load
from client.negotiation.errors import FormError, Problem

UNANSWERED = ""


def quote(value: object) -> str:
    """A TOML literal for a string, bool, int or list of strings."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, list | tuple):
        return "[" + ", ".join(quote(v) for v in value) + "]"
    text = str(value)
    if "\n" in text:
        return '"""\n' + text.replace("\\", "\\\\").replace('"""', '\\"""') + '"""'
    return json.dumps(text, ensure_ascii=False)  # a JSON string is a TOML basic string


def _listing(options: Iterable[str]) -> str:
    items = list(options)
    return items[0] if len(items) == 1 else f"{', '.join(items[:-1])} or {items[-1]}"


class Form:
    """Reads one TOML document; ``finish()`` raises one :class:`FormError` listing every
    problem found, so a person fixes the whole file in one go."""

    def __init__(self, text: str, filename: str) -> None:
        self.filename = filename
        self.data: dict[str, Any] = load(text, filename)
        self.pos = Positions(text)
        self.problems: list[Problem] = []

    def problem(self, path: tuple[str, ...], message: str) -> None:
        self.problems.append(Problem(self.pos.line(*path), message))

    def finish(self) -> None:
        if self.problems:
            raise FormError(self.filename, self.problems)

    def get(self, *path: str) -> Any:
        value: Any = self.data
        for part in path:
            if isinstance(value, list) and part.isdigit() and int(part) < len(value):
                value = value[int(part)]  # [[array]] tables are addressed by their index
            elif isinstance(value, dict) and part in value:
                value = value[part]
            else:
                return None
        return value

    def table(self, *path: str, required: bool = True) -> dict[str, Any]:
        value = self.get(*path)
        if isinstance(value, dict):
            return value
        if value is not None or required:
            name = ".".join(path)
            self.problem(path, f"[{name}] is missing or not a table; copy it from the template.")
        return {}

    def only(self, path: tuple[str, ...], keys: Iterable[str], what: str) -> None:
        """Report every key of the table at ``path`` that is not one of ``keys``."""
        known = list(keys)
        for key in self.table(*path, required=False):
            if key not in known:
                close = difflib.get_close_matches(key, known, n=1)
                fix = f'did you mean "{close[0]}"?' if close else "remove it or check the template."
                self.problem((*path, key), f'"{key}" is not {what}; {fix}')

    def choice(
        self,
        path: tuple[str, ...],
        options: tuple[str, ...],
        default: str | None = None,
        *,
        required: bool = False,
    ) -> str | None:
        """A string that must be one of ``options``; ``""`` means unanswered (``default``).
        A ``required`` choice has no default: ``unanswered = "no"`` does not answer it."""
        value = self.get(*path)
        name = ".".join(path)
        if value is None:
            self.problem(path, f"{name} is missing; add it with one of {_listing(options)}.")
        elif value == UNANSWERED and default is not None:
            return default
        elif value == UNANSWERED and required:
            self.problem(
                path,
                f"{name} is required and unanswered; use {_listing(options)} "
                '(unanswered = "no" answers only yes/no items).',
            )
        elif value == UNANSWERED:
            self.problem(
                path,
                f"{name} is unanswered; use {_listing(options)} (nothing is assumed, "
                'or set unanswered = "no" at the top to answer every empty item no).',
            )
        elif not isinstance(value, str) or value not in options:
            shown = json.dumps(value) if isinstance(value, str) else repr(value)
            self.problem(path, f"{shown} is not an answer; use {_listing(options)}.")
        else:
            return value
        return None

    def flag(self, path: tuple[str, ...], default: bool | None = None) -> bool | None:
        """true or false; ``""`` means unanswered (``default``)."""
        value = self.get(*path)
        name = ".".join(path)
        if isinstance(value, bool):
            return value
        if value == UNANSWERED and default is not None:
            return default
        if value == UNANSWERED:
            self.problem(path, f"{name} is unanswered; use true or false (without quotes).")
        else:
            self.problem(path, f"{name} must be true or false (without quotes).")
        return None

    def text(self, path: tuple[str, ...], *, required: bool = False, limit: int = 4000) -> str:
        value = self.get(*path)
        name = ".".join(path)
        if value is None and not required:
            return ""
        if not isinstance(value, str) or len(value) > limit or (required and not value.strip()):
            need = "some text" if required else "text"
            self.problem(path, f"{name} needs {need} in quotes, at most {limit} characters.")
            return ""
        return value

    def integer(self, path: tuple[str, ...], low: int, high: int) -> int | None:
        value = self.get(*path)
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
            self.problem(path, f"{'.'.join(path)} must be a whole number from {low} to {high}.")
            return None
        return value

    def ids(self, path: tuple[str, ...], known: Iterable[str], what: str) -> tuple[str, ...]:
        """A list of vocabulary ids; unknown ones are reported with a suggestion."""
        value = self.get(*path)
        options = list(known)
        if value is None:
            return ()
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            self.problem(path, f'{".".join(path)} must be a list like ["{options[0]}"].')
            return ()
        good = []
        for item in value:
            if item in options:
                good.append(item)
                continue
            close = difflib.get_close_matches(item, options, n=1)
            fix = f'did you mean "{close[0]}"?' if close else f"use {_listing(options)}."
            self.problem(path, f'"{item}" is not {what}; {fix}')
        if len(set(good)) != len(good):
            self.problem(path, f"{'.'.join(path)} names the same item twice.")
        return tuple(dict.fromkeys(good))

    def strings(self, path: tuple[str, ...]) -> tuple[str, ...]:
        value = self.get(*path)
        if value is None:
            return ()
        if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
            self.problem(path, f'{".".join(path)} must be a list of names like ["Director"].')
            return ()
        return tuple(dict.fromkeys(value))
