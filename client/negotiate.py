"""A person's working session on one scene: the glue between the relay, the keys and the domain.

:class:`SceneSession` syncs the scene's thread from the relay into the profile's ciphertext
cache, opens what this person's devices can open, folds it into the scene's state, and sends
new statements: checked against the state machine first, encrypted to exactly the audience the
domain names (``client.negotiation.audience``), to device keys taken from identity histories
the relay had to prove it logged, never from the relay's word alone.

Every scene statement travels under the one envelope purpose ``closedset/scene/v1``; the
statement's own kind is inside the ciphertext (``{"purpose": tag, "statement": {...}}``), so
the relay cannot tell a boundary sheet from a withdrawal.
"""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator, Callable, Iterable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

from client.contacts import Contacts
from client.errors import ClientError
from client.negotiation.audience import RULES, audience
from client.negotiation.brief import SceneRequests
from client.negotiation.scene import Event, fold, step
from client.negotiation.scene_state import SceneState
from client.negotiation.statements import Participant, SceneBrief, Statement, parse
from client.profile import CONTACTS_FILE, Profile
from client.relay_client import PostedEnvelope, RelayClient
from client.scenes import CachedEnvelope, RelayPins, SceneBook, SceneRef, ThreadCache
from keys.encoding import b64u_decode, b64u_encode, canonical_json, parse_canonical_json
from keys.envelope import THREAD_ID_SIZE, Envelope, Opened, Recipient, open_envelope, seal
from keys.errors import KeysError
from keys.grant import decode_grant, make_grant
from keys.identity import Fingerprint, KeyHistory
from keys.invite import SECRET_SIZE, Invite, JoinProofError, join_proof, verify_join_proof
from keys.keystore import Keystore
from keys.randomness import random_bytes

SCENE_PURPOSE = "closedset/scene/v1"
INVITE_SECRET_PREFIX = "invite:"


class SceneError(ClientError):
    """The scene cannot do what was asked (not a member, no brief yet, ...)."""


def wrap(statement: Statement) -> bytes:
    """The plaintext of a scene envelope: the statement and its kind, both inside the cipher."""
    return canonical_json(
        {"purpose": statement.PURPOSE, "statement": json.loads(statement.to_bytes())}
    )


def unwrap(plaintext: bytes) -> Statement:
    value = parse_canonical_json(plaintext, what="scene statement")
    if not isinstance(value, dict) or set(value) != {"purpose", "statement"}:
        raise KeysError("A scene envelope must hold a purpose and a statement.")
    return parse(str(value["purpose"]), canonical_json(value["statement"]))


@dataclass(frozen=True)
class Unreadable:
    """An envelope addressed to one of this person's devices that does not open, verify or
    parse as a scene statement: skipped by every reader, reported once per command."""

    sender: bytes
    log_index: int
    reason: str

    def to_json(self) -> dict[str, Any]:
        return {
            "sender": Fingerprint.of(self.sender).compact,
            "log_index": self.log_index,
            "reason": self.reason,
        }

    def __str__(self) -> str:
        return f"log index {self.log_index} from {Fingerprint.of(self.sender)}: {self.reason}"


# What a member's bytes can make the layers below raise: the trust core's refusals, the
# domain's own (StatementError is a ClientError), and the parsers' ValueError/TypeError.
_UNREADABLE = (KeysError, ClientError, ValueError, TypeError, KeyError)


@dataclass(frozen=True)
class Coordinator:
    """A coordinator of the scene's thread: its creator, or a member the creator granted."""

    identity: bytes
    name: str
    granted_by: str | None
    """The granter's name; None for the creator (the thread's IC by creating it)."""
    log_index: int | None

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "fingerprint": Fingerprint.of(self.identity).compact,
            "granted_by": self.granted_by,
            "log_index": self.log_index,
        }

    def __str__(self) -> str:
        if self.granted_by is None:
            return f"{self.name} is the IC (created the scene)"
        return f"{self.name} is now co-coordinator, granted by {self.granted_by}"


@dataclass(frozen=True)
class OpenedStatement:
    """One envelope of the scene that this person could open, with its place in the log."""

    event: Event
    opened: Opened
    cached: CachedEnvelope


@dataclass
class SceneSession:
    """One person, one scene, one relay connection. Use through :func:`scene_session`."""

    profile: Profile
    scene: SceneRef
    relay: RelayClient
    clock: Callable[[], float] = time.time
    cache: ThreadCache = field(init=False)
    _histories: dict[bytes, KeyHistory] = field(default_factory=dict, init=False)
    _opened: list[OpenedStatement] | None = field(default=None, init=False)
    _unreadable: list[Unreadable] = field(default_factory=list, init=False)
    _creator: bytes | None = field(default=None, init=False)
    """The thread's creator, its IC (from the relay's thread description)."""

    def __post_init__(self) -> None:
        self.cache = ThreadCache(self.profile.home, self.scene.thread_id)

    @property
    def me(self) -> bytes:
        return self.profile.identity_key

    def now(self) -> int:
        return int(self.clock())

    # --- reading ---------------------------------------------------------------------------

    async def sync(self) -> list[CachedEnvelope]:
        """Fetch what the relay has beyond our last sequence; returns what was new."""
        fetched: list[CachedEnvelope] = []
        cursor: str | None = str(self.cache.last_sequence) if self.cache.last_sequence else None
        while True:
            page, cursor = await self.relay.page(self.scene.thread_id, cursor, limit=500)
            fetched.extend(
                CachedEnvelope(
                    item.envelope,
                    item.sequence,
                    item.index,
                    int(item.received_at),
                    item.reader_sequence,
                )
                for item in page
            )
            if not cursor or not page:
                break
        added = self.cache.merge(fetched)
        if added:
            self.cache.save()
            self._opened = None
        # Authority comes from the thread: its creator is the IC (an identity's own stated
        # role is a self-description and decides nothing here).
        detail = await self.relay.thread(self.scene.thread_id)
        creator = b64u_decode(detail["creator"], length=32, what="thread creator")
        if creator != self._creator:
            self._creator, self._opened = creator, None
        for sender in {item.envelope.context.sender for item in self.cache.items}:
            await self.history(sender)
        return added

    def withheld(self) -> list[int]:
        """Per-reader numbers of envelopes addressed to us that the relay has not served.

        Never an exception: a relay that withholds must not also block a withdrawal; the
        CLI and the evidence export say it instead.
        """
        return self.cache.withheld()

    def opened(self) -> list[OpenedStatement]:
        """Every statement of the thread this profile can open, in log order.

        An envelope addressed to one of our devices that does not decrypt, verify or parse
        as a scene statement is skipped (it stays in the log and the cache) and listed in
        :attr:`unreadable`: one member's bad envelope never silences the scene for others.
        """
        if self._opened is not None:
            return self._opened
        devices = self.profile.device_keys()
        result: list[OpenedStatement] = []
        unreadable: list[Unreadable] = []
        for cached in self.cache.items:
            try:
                opened = _open_any(cached.envelope, devices)
                if opened is None:
                    continue  # not addressed to any of our devices
                if opened.context.purpose != SCENE_PURPOSE:
                    raise SceneError(f"its purpose is {opened.context.purpose}, not a scene's")
                statement = unwrap(opened.plaintext)
            except _UNREADABLE as exc:
                sender = cached.envelope.context.sender
                unreadable.append(Unreadable(sender, cached.index, str(exc) or type(exc).__name__))
                continue
            event = Event(
                sender=opened.sender,
                role=self._role_of(opened.sender, result),
                statement=statement,
                envelope=cached.envelope.hash,
                log_time=cached.received_ms // 1000,
                log_index=cached.index,
            )
            result.append(OpenedStatement(event, opened, cached))
        self._opened = result
        self._unreadable = unreadable
        return result

    @property
    def unreadable(self) -> list[Unreadable]:
        """The envelopes addressed to us that :meth:`opened` had to skip, in log order."""
        self.opened()
        return list(self._unreadable)

    def events(self) -> list[Event]:
        return [item.event for item in self.opened()]

    def state(self) -> SceneState:
        return fold(self.events(), viewer=self.me)

    def brief(self) -> SceneBrief | None:
        brief = None
        for item in self.opened():
            if isinstance(item.event.statement, SceneBrief):
                brief = item.event.statement
        return brief

    def _role_of(self, sender: bytes, earlier: Iterable[OpenedStatement]) -> Any:
        """The role the scene's brief gives the sender; before any brief, ``ic`` for the
        thread's creator and ``performer`` for everyone else, whatever their identity says."""
        for item in reversed(list(earlier)):
            statement = item.event.statement
            if isinstance(statement, SceneBrief) and sender in statement.members:
                return statement.participant(sender).role
        creator = self._creator
        if creator is None and self.scene.role == "ic":
            creator = self.me  # not synced yet: a scene this profile created
        return "ic" if sender == creator else "performer"

    # --- people ----------------------------------------------------------------------------

    async def history(self, identity: bytes) -> KeyHistory:
        """An identity's history, verified and proven logged; contacts learn of key changes."""
        if identity == self.me:
            return self.profile.history
        if identity not in self._histories:
            history, _ = await self.relay.lookup(Fingerprint.of(identity))
            book = Contacts.load(self.profile.home / CONTACTS_FILE)
            result = book.add(history)
            if result.outcome != "unchanged":
                book.save()
            self._histories[identity] = history
        return self._histories[identity]

    async def members(self) -> list[dict[str, Any]]:
        detail = await self.relay.thread(self.scene.thread_id)
        return [m for m in detail["members"] if m.get("removed_at") is None]

    async def coordinators(self) -> list[Coordinator]:
        """Who coordinates the scene: the thread's creator and every co-coordinator whose
        grant this client verified (signed by the creator, for this thread, and logged)."""
        detail = await self.relay.thread(self.scene.thread_id)
        creator = b64u_decode(detail["creator"], length=32, what="thread creator")
        current = {b64u_decode(c, length=32) for c in detail.get("coordinators", [])}
        found = [Coordinator(creator, (await self.history(creator)).name, None, None)]
        for shown in detail.get("grants", []):
            try:
                grant = decode_grant(canonical_json(shown["grant"]))
            except (KeysError, KeyError, TypeError) as exc:
                raise SceneError(f"The relay showed a grant that does not verify: {exc}") from exc
            if grant.granter != creator or grant.thread != self.scene.thread_id:
                raise SceneError("The relay showed a grant the scene's creator did not make.")
            if grant.grantee in current:
                name = (await self.history(grant.grantee)).name
                by = (await self.history(grant.granter)).name
                found.append(Coordinator(grant.grantee, name, by, int(shown["index"])))
        return found

    async def grant_coordinator(self, member: bytes) -> int:
        """The creator makes ``member`` a co-coordinator; returns the grant's log index."""
        grant = make_grant(
            self.profile.signing_key(),
            thread=self.scene.thread_id,
            grantee=member,
            role="ic",
            issued_at=self.now(),
        )
        receipt = await self.relay.grant(self.scene.thread_id, grant.to_bytes())
        return receipt.index

    async def send_brief(self, draft: Draft, **changes: Any) -> SceneBrief:
        """IC: send (or re-send) the brief naming every performer whose join proof checks."""
        performers, problems = await self.admitted_performers()
        if not performers:
            detail = "; ".join(problems) or "nobody has joined yet"
            raise SceneError(f"No performer can be named in the brief: {detail}.")
        me = Participant(self.me, "ic", self.profile.history.name)
        fields = draft.__dict__ | changes
        performers = _mark_minors(performers, fields.pop("minors"), fields.pop("guardians"))
        performers = _mark_union_rep(performers, fields.pop("union_rep"))
        brief = SceneBrief(participants=(me, *performers), **fields)
        await self.send(brief)
        return brief

    async def admitted_performers(self) -> tuple[list[Participant], list[str]]:
        """The IC's check of every joiner: only a valid join proof admits them to the brief."""
        admitted, problems = [], []
        secrets = self.profile.keystore.secrets if self.profile.keystore else {}
        for member in await self.members():
            identity = b64u_decode(member["identity"], length=32)
            if identity == self.me:
                continue
            history = await self.history(identity)
            invite_id = member.get("invite_id")
            secret = secrets.get(INVITE_SECRET_PREFIX + invite_id) if invite_id else None
            try:
                if secret is None:
                    raise JoinProofError("No invite of yours admitted this member.")
                proof = b64u_decode(member.get("join_proof") or "", length=32)
                verify_join_proof(secret, self.scene.thread_id, identity, proof)
            except KeysError as exc:
                problems.append(f"{history.name} ({history.fingerprint}): {exc}")
                continue
            role = member.get("role")
            if role != "performer":
                # The thread's role (the invite named it), not the identity's own claim.
                problems.append(f"{history.name} joined as {role}, not as a performer.")
                continue
            admitted.append(Participant(identity, "performer", history.name))
        return admitted, problems

    # --- sending ---------------------------------------------------------------------------

    async def send(self, statement: Statement) -> PostedEnvelope:
        """Check ``statement`` against the scene, encrypt it to its audience, post it."""
        await self.sync()
        opened = self.opened()
        state = fold([item.event for item in opened], viewer=self.me)
        brief = statement if isinstance(statement, SceneBrief) else self.brief()
        if brief is None:
            if self.cache.items and self.scene.role != "ic":
                # Envelopes are there but none opens as a brief: it was not encrypted to us.
                raise SceneError(
                    "You are not named in this scene's brief; ask the IC to add you to it."
                )
            if self.scene.role != "ic":
                raise SceneError(
                    "No scene brief names you yet; the IC sends it (or sends it again) once "
                    "you joined."
                )
            raise SceneError("This scene has no brief yet; the IC sends it once performers join.")
        me_role: Any = (
            self._role_of(self.me, opened) if self.me in brief.members else self.scene.role
        )
        prospective = Event(
            self.me, me_role, statement, b"\x00" * 32, self.now(), self.cache_size()
        )
        step(state, prospective)  # SceneRuleError: refused here, before anything is sent
        readers = audience(statement, sender=self.me, brief=brief)
        if RULES[statement.PURPOSE] == "ic" and not isinstance(statement, SceneRequests):
            # What a member sends "the IC" (a sheet, counter, withdrawal, check-in, report)
            # reaches every coordinator of the thread whose grant checks, so it lands even if
            # the brief's IC has no device left; a coordinator without a device is skipped.
            # The director's requests stay on the sending IC's own devices.
            coordinators = {c.identity for c in await self.coordinators()}
            usable = {c for c in coordinators if (await self.history(c)).current_devices()}
            if usable:
                readers = (readers - coordinators) | usable | {self.me}
        recipients = await self._recipients(readers)
        prev = choose_prev(self.cache.items, {r.identity for r in recipients})
        sealed = seal(
            wrap(statement),
            sender=self.profile.signing_key(),
            recipients=recipients,
            thread=self.scene.thread_id,
            prev=prev,
            purpose=SCENE_PURPOSE,
        )
        posted = await self.relay.post(sealed.envelope)
        cached = CachedEnvelope(
            sealed.envelope,
            # None: we were removed (the relay numbers nothing past our removal for us).
            self.cache.last_sequence if posted.sequence is None else posted.sequence,
            posted.receipt.index,
            posted.receipt.received_ms,
            posted.reader_sequence,
        )
        self.cache.merge([cached])
        self.cache.save()
        self._opened = None
        return posted

    def cache_size(self) -> int:
        return self.cache.items[-1].index + 1 if self.cache.items else 0

    async def _recipients(self, readers: Iterable[bytes]) -> list[Recipient]:
        recipients: list[Recipient] = []
        owners: dict[bytes, KeyHistory] = {}
        for identity in sorted(readers):
            history = await self.history(identity)
            devices = history.current_devices()
            if not devices:
                raise SceneError(
                    f"{history.name} has no valid device key; ask them to re-register."
                )
            for device in devices:
                if device in owners:
                    raise SceneError(_shared_device(device, owners[device], history))
                owners[device] = history
            recipients.extend(Recipient(identity, device) for device in devices)
        return recipients


def choose_prev(items: list[CachedEnvelope], audience: set[bytes]) -> bytes | None:
    """The previous hash of a new envelope for ``audience`` (docs/protocol.md, "Readers and
    the chain"): the latest envelope we hold that every reader of the new one was served too,
    so no reader is shown the hash of an envelope they cannot fetch; else (a reader who
    joined after everything we share with them) the latest envelope we hold."""
    for cached in reversed(items):
        if audience <= cached.envelope.context.recipient_identities:
            return cached.envelope.hash
    return items[-1].envelope.hash if items else None


def _shared_device(device: bytes, one: KeyHistory, other: KeyHistory) -> str:
    """Who is responsible when two identities certified the same device key (relays refuse
    that since; an older relay may hold it): the one who certified it later copied it."""

    def since(history: KeyHistory) -> int:
        return min(s.since for s in history.spans if s.device == device)

    first, later = sorted((one, other), key=since)
    return (
        f"{later.name} ({later.fingerprint}) certified a device key that {first.name} "
        f"({first.fingerprint}) certified first, so no envelope can reach both; "
        f"{later.name} is responsible: remove them from the scene or ask them to certify a "
        "device key of their own, then send again."
    )


def _open_any(envelope: Envelope, devices: list[Any]) -> Opened | None:
    """Open with the first of our devices it is addressed to; None if addressed to none.
    A failure to decrypt or verify raises (the caller reports it as unreadable)."""
    public = {r.device for r in envelope.context.recipients}
    for device in devices:
        if bytes(device.public_key) in public:
            return open_envelope(envelope, device)
    return None


@asynccontextmanager
async def scene_session(
    profile: Profile, scene: SceneRef, clock: Callable[[], float] = time.time
) -> AsyncIterator[SceneSession]:
    """A session on ``scene`` over a fresh connection to the scene's relay."""
    async with relay_client(profile, scene.relay, clock) as relay:
        yield SceneSession(profile, scene, relay, clock)


def relay_client(profile: Profile, url: str, clock: Callable[[], float] = time.time) -> RelayClient:
    """A relay client for ``profile`` that pins the relay's log key in the profile."""
    pins = RelayPins(profile.home)
    return RelayClient(
        url,
        profile.signing_key(),
        pinned_log_key=pins.get(url),
        on_pin=lambda key: pins.pin(url, key),
        clock=clock,
    )


# --- setting a scene up -------------------------------------------------------------------------

DRAFT_SECRET_PREFIX = "draft:"


@dataclass(frozen=True)
class Draft:
    """The IC's scene details before the brief can be sent (it needs its performers)."""

    title: str
    scene: str
    pages: str
    call_time: int
    valid_from: int
    valid_until: int
    description: str = ""
    union_agreement: bool = True  # False: the production is not under a union agreement
    minors: tuple[str, ...] = ()  # names of performers under 18
    guardians: tuple[tuple[str, str], ...] = ()  # (guardian's name, their minor's name)
    union_rep: str = ""  # the name of the joiner who is the scene's union representative

    def to_bytes(self) -> bytes:
        return canonical_json(self.__dict__)

    @classmethod
    def from_bytes(cls, data: bytes) -> Draft:
        value = json.loads(data)
        value["minors"] = tuple(value.get("minors", ()))
        value["guardians"] = tuple(tuple(g) for g in value.get("guardians", ()))
        return cls(**value)


def _mark_minors(
    people: list[Participant], minors: Iterable[str], guardians: Iterable[tuple[str, str]]
) -> list[Participant]:
    """The IC's marks on the admitted joiners: who is under 18, who is whose guardian."""
    by_name = {p.name.casefold(): p for p in people}
    for name in [*minors, *(n for pair in guardians for n in pair)]:
        if name.casefold() not in by_name:
            raise SceneError(f"{name} has not joined the scene; invite them first.")
    young = {by_name[n.casefold()].identity for n in minors}
    of = {by_name[g.casefold()].identity: by_name[m.casefold()].identity for g, m in guardians}
    return [
        Participant(p.identity, "guardian", p.name, of=of[p.identity])
        if p.identity in of
        else Participant(p.identity, p.role, p.name, minor=p.identity in young)
        for p in people
    ]


def _mark_union_rep(people: list[Participant], name: str) -> list[Participant]:
    """The IC's mark on the admitted joiner who is the scene's union representative: they
    receive only the brief and what is addressed to them (client.negotiation.audience)."""
    if not name:
        return people
    match = [p for p in people if p.name.casefold() == name.casefold()]
    if not match:
        raise SceneError(f"{name} has not joined the scene; invite them first.")
    if match[0].role != "performer" or match[0].minor:
        raise SceneError(f"{name} is already marked in this brief; name someone else.")
    return [Participant(p.identity, "union-rep", p.name) if p is match[0] else p for p in people]


async def ensure_registered(profile: Profile, relay: RelayClient) -> None:
    """Publish this profile's identity history (the relay answers 200 if nothing is new)."""
    await relay.register(profile.history)


async def create_scene(
    profile: Profile, relay: RelayClient, book: SceneBook, alias: str, draft: Draft
) -> SceneRef:
    """Open the scene's thread on the relay (its creator is its IC, whatever role the identity
    states about itself) and keep the draft brief (in the keystore)."""
    await ensure_registered(profile, relay)
    thread = random_bytes(THREAD_ID_SIZE)
    await relay.create_thread(thread)
    scene = book.add(SceneRef(alias, str(relay.base_url), b64u_encode(thread), "ic"))
    book.save()
    _keystore(profile).put(DRAFT_SECRET_PREFIX + scene.thread, draft.to_bytes())
    _keystore(profile).save()
    return scene


def save_draft(profile: Profile, scene: SceneRef, draft: Draft) -> None:
    """Keep the IC's changed scene details, so the next re-sent brief carries them."""
    _keystore(profile).put(DRAFT_SECRET_PREFIX + scene.thread, draft.to_bytes())
    _keystore(profile).save()


def draft_of(profile: Profile, scene: SceneRef) -> Draft:
    data = _keystore(profile).secrets.get(DRAFT_SECRET_PREFIX + scene.thread)
    if data is None:
        raise SceneError(f"There is no draft brief for {scene.alias} in this profile.")
    return Draft.from_bytes(data)


async def create_invite(
    profile: Profile,
    relay: RelayClient,
    scene: SceneRef,
    *,
    ttl: int,
    now: int,
    role: str = "performer",
) -> Invite:
    """IC: a single-use invite code; its secret stays in the keystore to check the join."""
    invite = Invite(
        relay=scene.relay,
        thread=scene.thread_id,
        inviter=profile.identity_key,
        secret=random_bytes(SECRET_SIZE),
        expires_at=now + ttl,
        role=role,
    )
    _keystore(profile).put(INVITE_SECRET_PREFIX + b64u_encode(invite.invite_id), invite.secret)
    _keystore(profile).save()
    await relay.create_invite(scene.thread_id, invite.invite_id, invite.expires_at, invite.role)
    return invite


async def join_scene(
    profile: Profile, relay: RelayClient, book: SceneBook, invite: Invite, alias: str
) -> tuple[SceneRef, KeyHistory]:
    """Performer: check the inviter is who the code says, then join with proof of the secret."""
    await ensure_registered(profile, relay)
    inviter, _ = await relay.lookup(invite.inviter_fingerprint, invite_id=invite.invite_id)
    if inviter.identity_key != invite.inviter:
        raise SceneError("The relay's record of the inviter does not match the invite code.")
    proof = join_proof(invite.secret, invite.thread, profile.identity_key)
    await relay.join(invite.thread, invite.invite_id, proof)
    # Authority comes from the thread: the inviter must be one of its coordinators (the relay
    # only lets coordinators invite; check it, and leave again if it is not so).
    detail = await relay.thread(invite.thread)
    coordinators = {b64u_decode(c, length=32) for c in detail.get("coordinators", [])}
    if invite.inviter not in coordinators:
        await relay.remove_member(invite.thread, Fingerprint.of(profile.identity_key))
        raise SceneError(
            f"The invite comes from {inviter.name}, who is not a coordinator of this scene; "
            "you left it again. Ask the scene's IC for an invite."
        )
    contacts = Contacts.load(profile.home / CONTACTS_FILE)
    contacts.add(inviter)
    contacts.save()
    scene = book.add(
        SceneRef(book.unique_alias(alias), invite.relay, b64u_encode(invite.thread), invite.role)
    )
    book.save()
    return scene, inviter


def _keystore(profile: Profile) -> Keystore:
    if profile.keystore is None:
        raise SceneError("The profile is locked; this needs the passphrase.")
    return profile.keystore
