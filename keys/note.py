"""C2SP signed notes (https://c2sp.org/signed-note): text signed by one or more named keys.

Checkpoints travel as signed notes, and witnesses add their cosignatures as further signature
lines. Signing here is Ed25519 (type 0x01); other verifier kinds subclass :class:`NoteVerifier`.

A signed note, byte for byte::

    <text, ending in a newline>
    <blank line>
    — <key name> <base64(4-byte key id || signature)>     (one or more lines, each ending "\\n")
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import ClassVar, Protocol, Self

import nacl.exceptions
import nacl.signing

from keys import statement as tagged
from keys.errors import EncodingError, KeysError, SignatureError

SIGNATURE_TYPE_ED25519 = 0x01
KEY_ID_SIZE = 4
ED25519_KEY_SIZE = 32
ED25519_SIGNATURE_SIZE = 64

# The spec asks verifiers to accept at least 16 signatures; 100 is the Go reference's limit,
# and bounds the work an attacker can make us do with one note.
MAX_SIGNATURES = 100

_SIGNATURE_PREFIX = "\u2014 "  # em dash, space
_PRIVATE_KEY_PREFIX = "PRIVATE+KEY+"
_KEY_ID_HEX_RE = re.compile(r"\A[0-9a-f]{8}\Z")
_STD_B64_RE = re.compile(r"\A[A-Za-z0-9+/]*={0,2}\Z")


class MalformedNoteError(EncodingError):
    """A signed note does not follow the signed-note format."""


class MalformedNoteKeyError(EncodingError):
    """A note verifier or signer key string is malformed or its key id does not match."""


class UnverifiedNoteError(SignatureError):
    """No signature on the note comes from a trusted key."""


class InvalidNoteSignatureError(SignatureError):
    """A signature line names a trusted key, but its signature does not verify."""


class AmbiguousNoteKeyError(KeysError):
    """Two trusted keys share both name and key id, so a signature line cannot be attributed."""


# --- encodings shared by the note, checkpoint and tlog-proof formats -------------------------


def std_b64encode(data: bytes) -> str:
    """Encode bytes as standard, padded base64 (RFC 4648 section 4), as the C2SP specs use."""
    return base64.b64encode(data).decode("ascii")


def std_b64decode(text: str, *, what: str = "value") -> bytes:
    """Decode standard padded base64, refusing any spelling that would not re-encode the same."""
    if not _STD_B64_RE.match(text) or len(text) % 4:
        raise EncodingError(f"The {what} is not standard padded base64.")
    try:
        data = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise EncodingError(f"The {what} is not standard padded base64.") from exc
    # Non-zero padding bits would give one value two spellings; refuse them.
    if std_b64encode(data) != text:
        raise EncodingError(f"The {what} is not in canonical base64 form.")
    return data


def is_valid_key_name(name: str) -> bool:
    """Key names are non-empty and contain no Unicode spaces, plus signs or control characters."""
    return bool(name) and not any(ch.isspace() or ch == "+" or ord(ch) < 0x20 for ch in name)


def compute_key_id(name: str, signature_type: int, public_key: bytes) -> bytes:
    """Return ``SHA-256(name || 0x0A || signature type || public key)[:4]``."""
    digest = hashlib.sha256(name.encode("utf-8") + b"\n" + bytes([signature_type]) + public_key)
    return digest.digest()[:KEY_ID_SIZE]


def format_verifier_key(name: str, signature_type: int, public_key: bytes) -> str:
    """Format ``name+keyid+base64(type || public key)``, the vkey string."""
    key_id = compute_key_id(name, signature_type, public_key)
    return f"{name}+{key_id.hex()}+{std_b64encode(bytes([signature_type]) + public_key)}"


def parse_verifier_key(
    key_string: str, *, signature_type: int, key_size: int
) -> tuple[str, bytes, bytes]:
    """Parse a vkey of the given type; return (name, key id, public key) after checking the id."""
    return _parse_key_string(key_string, signature_type, key_size, what="verifier key")


def format_signer_key(name: str, signature_type: int, public_key: bytes, seed: bytes) -> str:
    """Format ``PRIVATE+KEY+name+keyid+base64(type || seed)``; the key id is of the public key."""
    key_id = compute_key_id(name, signature_type, public_key)
    return (
        f"{_PRIVATE_KEY_PREFIX}{name}+{key_id.hex()}+"
        f"{std_b64encode(bytes([signature_type]) + seed)}"
    )


def parse_signer_key(key_string: str, *, signature_type: int) -> tuple[str, bytes, bytes]:
    """Parse a private Ed25519-style key string; return (name, claimed key id, 32-byte seed).

    The caller derives the public key and must compare its key id with the claimed one.
    """
    if not key_string.startswith(_PRIVATE_KEY_PREFIX):
        raise MalformedNoteKeyError("A signer key string must start with PRIVATE+KEY+.")
    return _parse_key_string(
        key_string[len(_PRIVATE_KEY_PREFIX) :],
        signature_type,
        ED25519_KEY_SIZE,
        what="signer key",
        check_id=False,
    )


def _parse_key_string(
    key_string: str,
    signature_type: int,
    key_size: int,
    *,
    what: str,
    check_id: bool = True,
) -> tuple[str, bytes, bytes]:
    # Names hold no '+', so the first two '+' end the name and the key id; base64 may hold more.
    parts = key_string.split("+", 2)
    if len(parts) != 3:
        raise MalformedNoteKeyError(f"The {what} is not of the form name+keyid+key.")
    name, key_id_hex, key_b64 = parts
    if not is_valid_key_name(name):
        raise MalformedNoteKeyError(f"The {what} has an invalid key name {name!r}.")
    if not _KEY_ID_HEX_RE.match(key_id_hex):
        raise MalformedNoteKeyError(f"The {what} key id must be 8 lowercase hex digits.")
    try:
        material = std_b64decode(key_b64, what=what)
    except EncodingError as exc:
        raise MalformedNoteKeyError(f"The {what} material is not canonical base64.") from exc
    if len(material) != 1 + key_size:
        raise MalformedNoteKeyError(
            f"The {what} holds {len(material)} bytes, not the {1 + key_size} expected."
        )
    if material[0] != signature_type:
        raise MalformedNoteKeyError(
            f"The {what} has signature type 0x{material[0]:02x}, not 0x{signature_type:02x}."
        )
    key_id = bytes.fromhex(key_id_hex)
    key = material[1:]
    if check_id and compute_key_id(name, signature_type, key) != key_id:
        raise MalformedNoteKeyError(f"The {what} key id {key_id_hex} does not match its key.")
    return name, key_id, key


# --- keys ------------------------------------------------------------------------------------


class NoteVerifier:
    """A trusted public key that checks note signatures (Ed25519, type 0x01).

    Other signature kinds subclass this, set ``SIGNATURE_TYPE`` and override :meth:`verify`;
    :func:`open_note` only uses ``name``, ``key_id`` and ``verify``.
    """

    SIGNATURE_TYPE: ClassVar[int] = SIGNATURE_TYPE_ED25519

    def __init__(self, name: str, public_key: bytes) -> None:
        if not is_valid_key_name(name):
            raise MalformedNoteKeyError(f"{name!r} is not a valid note key name.")
        if not isinstance(public_key, bytes) or len(public_key) != ED25519_KEY_SIZE:
            raise MalformedNoteKeyError(
                f"The public key must be exactly {ED25519_KEY_SIZE} bytes long."
            )
        self.name = name
        self.public_key = public_key
        self.key_id = compute_key_id(name, self.SIGNATURE_TYPE, public_key)
        self._verify_key = nacl.signing.VerifyKey(public_key)

    @classmethod
    def from_key_string(cls, key_string: str) -> Self:
        """Parse a verifier key string ``name+keyid+base64(type || public key)``."""
        name, _, public_key = parse_verifier_key(
            key_string, signature_type=cls.SIGNATURE_TYPE, key_size=ED25519_KEY_SIZE
        )
        return cls(name, public_key)

    def key_string(self) -> str:
        """Return the verifier key string to publish."""
        return format_verifier_key(self.name, self.SIGNATURE_TYPE, self.public_key)

    def verify(self, message: bytes, signature: bytes) -> bool:
        """Return whether ``signature`` (without the key id) is valid over the note text."""
        if len(signature) != ED25519_SIGNATURE_SIZE:
            return False
        try:
            self._verify_key.verify(message, signature)
        except nacl.exceptions.BadSignatureError:
            return False
        return True

    def __eq__(self, other: object) -> bool:
        return (
            type(other) is type(self)
            and isinstance(other, NoteVerifier)
            and (other.name, other.public_key) == (self.name, self.public_key)
        )

    def __hash__(self) -> int:
        return hash((type(self), self.name, self.public_key))

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.key_string()!r})"


class SupportsNoteSigning(Protocol):
    """Anything that can add one signature line: a name, a key id and a signing function."""

    @property
    def name(self) -> str: ...

    @property
    def key_id(self) -> bytes: ...

    def sign(self, message: bytes) -> bytes: ...


class NamedSigningKey:
    """A named Ed25519 private key of one signature type: what note signers and witness
    cosigners share (key id, key strings, a repr that never shows the seed)."""

    SIGNATURE_TYPE: ClassVar[int] = SIGNATURE_TYPE_ED25519
    KIND: ClassVar[str] = "signer"

    def __init__(self, name: str, seed: bytes) -> None:
        if not is_valid_key_name(name):
            raise MalformedNoteKeyError(f"{name!r} is not a valid {self.KIND} name.")
        if not isinstance(seed, bytes) or len(seed) != ED25519_KEY_SIZE:
            raise MalformedNoteKeyError(f"The seed must be exactly {ED25519_KEY_SIZE} bytes long.")
        self._name = name
        self._seed = seed
        self._signing_key = nacl.signing.SigningKey(seed)
        self.public_key = bytes(self._signing_key.verify_key)
        self._key_id = compute_key_id(name, self.SIGNATURE_TYPE, self.public_key)

    @classmethod
    def generate(cls, name: str) -> Self:
        """Create a key with a fresh random seed."""
        return cls(name, bytes(nacl.signing.SigningKey.generate()))

    @classmethod
    def from_key_string(cls, key_string: str) -> Self:
        """Parse ``PRIVATE+KEY+name+keyid+base64(type || seed)`` and check the key id."""
        name, key_id, seed = parse_signer_key(key_string, signature_type=cls.SIGNATURE_TYPE)
        signer = cls(name, seed)
        if signer.key_id != key_id:
            raise MalformedNoteKeyError(
                f"The {cls.KIND} key id {key_id.hex()} does not match its key."
            )
        return signer

    @property
    def name(self) -> str:
        return self._name

    @property
    def key_id(self) -> bytes:
        return self._key_id

    def key_string(self) -> str:
        """Return the private key string; it holds the seed, so keep it secret."""
        return format_signer_key(self._name, self.SIGNATURE_TYPE, self.public_key, self._seed)

    def _ed25519(self, message: bytes) -> bytes:
        return bytes(self._signing_key.sign(message).signature)

    def derive_secret(self, label: bytes) -> bytes:
        """SHA-256(label || seed): a 32-byte secret for another purpose (``label`` ends in
        0x00 and names it), kept with this key and never usable as it."""
        return hashlib.sha256(label + self._seed).digest()

    def sign_statement_bytes(self, purpose: str, message: bytes) -> bytes:
        """A purpose-tagged signature (``keys.statement``) by this key."""
        return tagged.sign(self._signing_key, purpose, message)

    def __repr__(self) -> str:
        # Never show the seed, even in a traceback.
        return f"{type(self).__name__}(name={self._name!r}, key_id={self._key_id.hex()!r})"


class NoteSigner(NamedSigningKey):
    """An Ed25519 private key with a name, used to sign note text (type 0x01)."""

    SIGNATURE_TYPE: ClassVar[int] = SIGNATURE_TYPE_ED25519
    KIND: ClassVar[str] = "note key"

    def verifier(self) -> NoteVerifier:
        """Return the matching public verifier."""
        return NoteVerifier(self._name, self.public_key)

    def sign(self, message: bytes) -> bytes:
        """Return the 64-byte Ed25519 signature over ``message`` (the note text)."""
        return self._ed25519(message)


# --- notes -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class NoteSignature:
    """One signature line: key name, 4-byte key id and the signature bytes after it."""

    name: str
    key_id: bytes
    signature: bytes

    def to_line(self) -> str:
        """Return the line, em dash to newline."""
        return f"{_SIGNATURE_PREFIX}{self.name} {std_b64encode(self.key_id + self.signature)}\n"


@dataclass(frozen=True)
class Note:
    """An opened note: its text, the signatures that verified, and those from unknown keys."""

    text: str
    verified: list[tuple[NoteVerifier, bytes]] = field(default_factory=list)
    unverified: list[NoteSignature] = field(default_factory=list)


def split_note(note: str | bytes) -> tuple[str, list[NoteSignature]]:
    """Parse a signed note into its text and signature lines, verifying nothing.

    Raises :class:`MalformedNoteError` for anything the signed-note format does not allow.
    """
    if isinstance(note, bytes):
        try:
            note = note.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise MalformedNoteError("The signed note is not valid UTF-8.") from exc
    _check_note_characters(note, "signed note")
    # The text ends at the last blank line; it keeps its final newline, not the blank line.
    split = note.rfind("\n\n")
    if split < 0:
        raise MalformedNoteError("The signed note has no blank line before its signatures.")
    text, block = note[: split + 1], note[split + 2 :]
    if not block or not block.endswith("\n"):
        raise MalformedNoteError("The signed note must end with signature lines and a newline.")
    lines = block[:-1].split("\n")
    if len(lines) > MAX_SIGNATURES:
        raise MalformedNoteError(
            f"The signed note has {len(lines)} signatures, over the limit of {MAX_SIGNATURES}."
        )
    return text, [_parse_signature_line(line) for line in lines]


def _parse_signature_line(line: str) -> NoteSignature:
    if not line.startswith(_SIGNATURE_PREFIX):
        raise MalformedNoteError("A signature line must start with an em dash and a space.")
    name, space, b64 = line[len(_SIGNATURE_PREFIX) :].partition(" ")
    if not space or not is_valid_key_name(name):
        raise MalformedNoteError(f"A signature line has an invalid key name {name!r}.")
    try:
        raw = std_b64decode(b64, what="signature")
    except EncodingError as exc:
        raise MalformedNoteError(f"The signature by {name} is not canonical base64.") from exc
    if len(raw) <= KEY_ID_SIZE:
        raise MalformedNoteError(f"The signature by {name} is too short to hold a key id.")
    return NoteSignature(name, raw[:KEY_ID_SIZE], raw[KEY_ID_SIZE:])


def _check_note_characters(text: str, what: str) -> None:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise MalformedNoteError(f"The {what} is not valid UTF-8.") from exc
    for ch in text:
        if ord(ch) < 0x20 and ch != "\n":
            raise MalformedNoteError(
                f"The {what} contains control character U+{ord(ch):04X}; only newline is allowed."
            )


def open_note(note: str | bytes, verifiers: Sequence[NoteVerifier]) -> Note:
    """Parse a signed note and verify every signature from a known key.

    Unknown keys (name and key id not both matching a verifier) are collected, not refused.
    A known key whose signature fails makes the whole note invalid, and a note with no
    verified signature is refused.
    """
    known: dict[tuple[str, bytes], NoteVerifier] = {}
    for trusted in verifiers:
        slot = (trusted.name, trusted.key_id)
        if slot in known and known[slot] != trusted:
            raise AmbiguousNoteKeyError(
                f"Two trusted keys are both named {trusted.name} with key id "
                f"{trusted.key_id.hex()}."
            )
        known[slot] = trusted

    text, signatures = split_note(note)
    message = text.encode("utf-8")
    verified: list[tuple[NoteVerifier, bytes]] = []
    unverified: list[NoteSignature] = []
    seen: set[tuple[str, bytes]] = set()
    for sig in signatures:
        slot = (sig.name, sig.key_id)
        verifier = known.get(slot)
        if verifier is None:
            if sig not in unverified:  # Identical repeated lines are dropped, as Go does.
                unverified.append(sig)
            continue
        if slot in seen:  # One verified signature per key is enough; repeats are ignored.
            continue
        seen.add(slot)
        if not verifier.verify(message, sig.signature):
            raise InvalidNoteSignatureError(
                f"The signature by {sig.name} (key id {sig.key_id.hex()}) does not verify."
            )
        verified.append((verifier, sig.signature))
    if not verified:
        names = ", ".join(sorted({sig.name for sig in signatures}))
        raise UnverifiedNoteError(
            f"The note is not signed by any trusted key (it names only: {names})."
        )
    return Note(text=text, verified=verified, unverified=unverified)


def sign_note(
    text: str,
    signers: Sequence[SupportsNoteSigning],
    existing: Iterable[NoteSignature] = (),
) -> str:
    """Sign ``text`` with each signer; keep ``existing`` signature lines not replaced by them.

    Existing lines come first, then the new ones, as in the Go reference implementation.
    """
    if not text.endswith("\n"):
        raise MalformedNoteError("Note text must end with a newline.")
    _check_note_characters(text, "note text")
    message = text.encode("utf-8")
    fresh: list[NoteSignature] = []
    for signer in signers:
        if not is_valid_key_name(signer.name):
            raise MalformedNoteError(f"{signer.name!r} is not a valid note key name.")
        fresh.append(NoteSignature(signer.name, signer.key_id, signer.sign(message)))
    replaced = {(sig.name, sig.key_id) for sig in fresh}
    kept: list[NoteSignature] = []
    for sig in existing:
        if not is_valid_key_name(sig.name) or len(sig.key_id) != KEY_ID_SIZE:
            raise MalformedNoteError(f"An existing signature by {sig.name!r} is malformed.")
        if (sig.name, sig.key_id) not in replaced:
            kept.append(sig)
    lines = kept + fresh
    if not lines:
        raise MalformedNoteError("A signed note needs at least one signature.")
    if len(lines) > MAX_SIGNATURES:
        raise MalformedNoteError(
            f"The note would carry {len(lines)} signatures, over the limit of {MAX_SIGNATURES}."
        )
    return text + "\n" + "".join(sig.to_line() for sig in lines)


def add_signatures(note: str, signers: Sequence[SupportsNoteSigning]) -> str:
    """Append signatures to an already signed note, keeping its lines; it is not verified here.

    This is how a witness attaches its cosignature to a checkpoint it has checked.
    """
    text, existing = split_note(note)
    return sign_note(text, signers, existing)
