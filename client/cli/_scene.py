"""What the scene commands share: the scene a SCENE argument names, a synced session on it,
and turning a stalled relay into one sentence."""

from __future__ import annotations

import argparse
import asyncio
from collections.abc import Awaitable, Callable, Coroutine
from pathlib import Path
from typing import Any, TypeVar

from client.cli.context import Context
from client.errors import ClientError, UsageError
from client.negotiate import SceneSession, scene_session
from client.negotiation.brief import SceneBrief
from client.negotiation.scene_state import Version
from client.profile import Profile
from client.scenes import SceneBook, SceneRef
from keys.keystore import write_private_file

T = TypeVar("T")


def run_async(coroutine: Coroutine[Any, Any, T], relay: str = "the relay") -> T:
    try:
        return asyncio.run(coroutine)
    except TimeoutError as exc:
        raise ClientError(f"{relay} did not answer in time; nothing more was done.") from exc


def scene_of(ctx: Context, alias: str) -> tuple[Profile, SceneRef]:
    """The unlocked profile and the scene ``alias`` names in it."""
    book = SceneBook(ctx.home)
    scene = book.find(alias)
    return ctx.unlocked_profile(), scene


def in_scene(ctx: Context, alias: str, work: Callable[[SceneSession], Awaitable[T]]) -> T:
    """Run ``work`` on a session whose thread was just synced from the relay."""
    profile, scene = scene_of(ctx, alias)

    async def go() -> T:
        async with scene_session(profile, scene, ctx.clock) as session:
            await session.sync()
            try:
                return await work(session)
            finally:
                # Reported even when the command is refused: the person learns why data lacks.
                ctx.skipped(session.unreadable)

    return run_async(go(), scene.relay)


def brief_of(session: SceneSession) -> SceneBrief:
    brief = session.brief()
    if brief is not None:
        return brief
    if session.scene.role == "ic":
        raise ClientError(f"{session.scene.alias} has no brief yet; send it with `scene brief`.")
    if session.cache.items:
        # The thread has envelopes but no brief opens: it was not encrypted to this person.
        raise ClientError("You are not named in this scene's brief; ask the IC to add you to it.")
    # The relay serves each member only what is addressed to them, so a brief that does not
    # name this person is not even visible as ciphertext: both cases read the same.
    raise ClientError(
        "No scene brief names you yet; the IC sends it (or sends it again) once you joined."
    )


def ic_only(session: SceneSession, what: str) -> None:
    if session.scene.role != "ic":
        raise UsageError(f"Only the scene's IC can {what}; you are a performer in it.")


def current_version(session: SceneSession) -> Version:
    """The scene's current rider version, or one sentence saying why there is none."""
    brief_of(session)
    current = session.state().current
    if current is None:
        raise ClientError("There is no rider yet; the IC proposes one after reading the sheets.")
    return current


def write_or_print(ctx: Context, text: str, out: str | None, what: str) -> None:
    """Write a template to ``out`` (never over an existing file), or print it."""
    if out is None:
        ctx.emit({"template": text}, text)
        return
    path = Path(out)
    if path.exists():
        raise UsageError(f"{out} already exists; choose another --out or remove it first.")
    # A filled-in sheet is private; keep it readable by its owner only.
    write_private_file(path, text.encode("utf-8"))
    ctx.emit({"out": out, "template": text}, f"Wrote {what} to {out}.")


def scene_arg(p: argparse.ArgumentParser) -> None:
    """The SCENE argument every scene command takes."""
    p.add_argument("scene", help="the scene's alias (see `closedset scene list`)")


def template_args(p: argparse.ArgumentParser) -> None:
    """SCENE and --out, as `sheet template` and `rider template` take them."""
    scene_arg(p)
    p.add_argument("--out", help="write to FILE (new file)")
