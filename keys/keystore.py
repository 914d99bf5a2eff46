"""Private keys at rest: named secrets sealed under a passphrase in the profile directory.

Reads and writes files, nothing else. A backup is the same sealed bytes under a backup
passphrase, armored as ``CLOSEDSET KEY BACKUP``.

Format ``closedset/keystore/v1`` (file ``<profile>/keystore.json``; see docs/protocol.md)::

    {"ciphertext":C,"format":"closedset/keystore/v1","kdf":{"alg":"argon2id13",
    "memlimit":M,"opslimit":T,"salt":S},"nonce":N}

- The file is exactly that JSON object in RFC 8785 canonical form: one line, keys sorted,
  no whitespace, no trailing newline. Any other spelling is refused as damaged.
- C, S and N are unpadded base64url (RFC 4648 section 5); S decodes to 16 bytes, N to 24.
  T and M are JSON integers: Argon2id passes and memory in bytes, 1 <= T <= 16 and
  8192 <= M <= 2147483648 (2 GiB).
- key = crypto_pwhash_argon2id (Argon2id v1.3) of the passphrase bytes, 32 bytes output,
  salt S, opslimit T, memlimit M.
- C = crypto_aead_xchacha20poly1305_ietf_encrypt(plaintext, ad, N, key), tag included, where
  ad = the RFC 8785 JSON of the header alone:
  ``{"format":"closedset/keystore/v1","kdf":{"alg":"argon2id13","memlimit":M,"opslimit":T,"salt":S}}``
- plaintext = RFC 8785 JSON ``{"secrets":{NAME:B64U(value),...}}``; at most 1024 names, each
  1-128 characters from ``A-Z a-z 0-9 _ . : -`` starting with a letter or digit; each value
  1-1024 bytes. The whole file is at most 4 MiB.
- Every save draws a fresh salt and nonce.
"""

from __future__ import annotations

import errno
import os
import re
import secrets as _token
from collections.abc import Iterator, Mapping
from contextlib import contextmanager, suppress
from pathlib import Path
from types import MappingProxyType, TracebackType
from typing import Any, Final

import nacl.bindings
import nacl.exceptions
import nacl.pwhash.argon2id
import platformdirs

from keys import randomness
from keys.armor import KEY_BACKUP, armor, dearmor
from keys.encoding import b64u_decode, b64u_encode, canonical_json, parse_canonical_json
from keys.errors import (
    EncodingError,
    KeystoreError,
    LimitError,
    WrongPassphraseError,
)

FORMAT: Final = "closedset/keystore/v1"
KDF_ALG: Final = "argon2id13"
KEYSTORE_FILENAME: Final = "keystore.json"
HOME_ENV: Final = "CLOSEDSET_HOME"

OPSLIMIT_MIN: Final[int] = int(nacl.pwhash.argon2id.OPSLIMIT_MIN)
MEMLIMIT_MIN: Final[int] = int(nacl.pwhash.argon2id.MEMLIMIT_MIN)
OPSLIMIT_INTERACTIVE: Final[int] = int(nacl.pwhash.argon2id.OPSLIMIT_INTERACTIVE)
MEMLIMIT_INTERACTIVE: Final[int] = int(nacl.pwhash.argon2id.MEMLIMIT_INTERACTIVE)
# Caps well above libsodium's SENSITIVE preset (4 passes, 1 GiB): a file asking for more would
# only make opening it hang or run out of memory.
OPSLIMIT_MAX: Final = 16
MEMLIMIT_MAX: Final = 2 * 1024 * 1024 * 1024

SALT_BYTES: Final = 16
NONCE_BYTES: Final = 24
KEY_BYTES: Final = 32
TAG_BYTES: Final = 16
MAX_SECRETS: Final = 1024
MAX_SECRET_BYTES: Final = 256 * 1024  # room for the public identity history kept beside the keys
MAX_KEYSTORE_BYTES: Final = 4 * 1024 * 1024

WRONG_PASSPHRASE: Final = "The passphrase does not open this keystore."
WRONG_BACKUP_PASSPHRASE: Final = "The backup passphrase does not open this backup."

_NAME_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.:-]{0,127}")
_FILE_FIELDS = frozenset({"ciphertext", "format", "kdf", "nonce"})
_KDF_FIELDS = frozenset({"alg", "memlimit", "opslimit", "salt"})


class DamagedKeystoreError(KeystoreError):
    """The keystore or backup is not a well-formed sealed file: restore it from a backup."""


class KeystoreLimitError(KeystoreError, LimitError):
    """A keystore's size or Argon2id cost is over the documented cap."""


def default_home(environ: Mapping[str, str] = os.environ) -> Path:
    """Return the profile directory: ``$CLOSEDSET_HOME`` if set, else the user data dir."""
    value = environ.get(HOME_ENV, "")
    if value:
        return Path(value)
    return platformdirs.user_data_path("closedset", appauthor=False)


def write_private_file(path: Path, data: bytes, *, exclusive: bool = False) -> None:
    """Write ``data`` to ``path`` atomically, readable by the owner only (mode 0600).

    The bytes go to a fresh 0600 temp file in the same directory, are fsynced, and only then
    take the place of ``path``, so a crash leaves either the old file or the new one. Missing
    directories are created with mode 0700. With ``exclusive``, an existing ``path`` is
    refused instead of replaced.
    """
    directory = path.parent
    try:
        _make_private_dirs(directory)
        temp = directory / f".{path.name}.{_token.token_hex(8)}.tmp"
        flags = os.O_CREAT | os.O_EXCL | os.O_WRONLY
        flags |= getattr(os, "O_CLOEXEC", 0) | getattr(os, "O_NOFOLLOW", 0)
        fd = os.open(temp, flags, 0o600)
        try:
            with _closing_fd(fd):
                if hasattr(os, "fchmod"):
                    # The umask can only take bits away; make the mode exactly 0600 anyway.
                    os.fchmod(fd, 0o600)
                view = memoryview(data)
                while view:
                    view = view[os.write(fd, view) :]
                os.fsync(fd)
            if exclusive:
                _link_exclusive(temp, path)
            else:
                os.replace(temp, path)
        except BaseException:
            with suppress(OSError):
                os.unlink(temp)
            raise
        _fsync_directory(directory)
    except FileExistsError as exc:
        raise KeystoreError(f"{path} already exists; refusing to overwrite it.") from exc
    except OSError as exc:
        raise KeystoreError(f"Could not write {path}: {exc.strerror or exc}.") from exc


class Keystore:
    """An open keystore: its named secrets, and the passphrase needed to seal them again.

    The passphrase is kept (in a buffer wiped by :meth:`close`) only because :meth:`save`
    must re-derive the key under a fresh salt; use the keystore as a context manager.
    """

    def __init__(
        self,
        path: Path,
        passphrase: bytes,
        secrets: dict[str, bytes],
        *,
        opslimit: int,
        memlimit: int,
    ) -> None:
        self._path = path
        self._passphrase = bytearray(passphrase)
        self._secrets = secrets
        self._opslimit = opslimit
        self._memlimit = memlimit
        self._closed = False

    def __repr__(self) -> str:
        return f"<Keystore {str(self._path)!r}, {len(self._secrets)} secrets>"

    @classmethod
    def create(
        cls,
        path: Path,
        passphrase: bytes,
        secrets: Mapping[str, bytes],
        *,
        opslimit: int = OPSLIMIT_INTERACTIVE,
        memlimit: int = MEMLIMIT_INTERACTIVE,
    ) -> Keystore:
        """Seal ``secrets`` into a new keystore file at ``path``; never overwrites one."""
        _check_new_passphrase(passphrase)
        _check_kdf_limits(opslimit, memlimit, what="The requested Argon2id cost")
        checked = {name: _check_secret(name, value) for name, value in secrets.items()}
        _check_secret_count(len(checked))
        if os.path.lexists(path):
            raise KeystoreError(
                f"A keystore already exists at {path}; open it, or choose another profile "
                "directory."
            )
        store = cls(path, passphrase, checked, opslimit=opslimit, memlimit=memlimit)
        write_private_file(path, store._seal(passphrase, opslimit, memlimit), exclusive=True)
        return store

    @classmethod
    def open(cls, path: Path, passphrase: bytes) -> Keystore:
        """Open the keystore at ``path``; a wrong passphrase raises WrongPassphraseError."""
        _check_passphrase_type(passphrase)
        data = _read_keystore_file(path)
        secrets, opslimit, memlimit = _unseal(
            data, passphrase, what=f"keystore at {path}", wrong=WRONG_PASSPHRASE
        )
        return cls(path, passphrase, secrets, opslimit=opslimit, memlimit=memlimit)

    @classmethod
    def import_backup(
        cls,
        armored: str,
        backup_passphrase: bytes,
        path: Path,
        passphrase: bytes,
        *,
        opslimit: int | None = None,
        memlimit: int | None = None,
    ) -> Keystore:
        """Open an armored backup and write its secrets as a new keystore at ``path``.

        The new keystore keeps the backup's Argon2id cost unless another one is given.
        """
        _check_passphrase_type(backup_passphrase)
        data = dearmor(armored, KEY_BACKUP)
        secrets, backup_ops, backup_mem = _unseal(
            data, backup_passphrase, what="backup", wrong=WRONG_BACKUP_PASSPHRASE
        )
        return cls.create(
            path,
            passphrase,
            secrets,
            opslimit=backup_ops if opslimit is None else opslimit,
            memlimit=backup_mem if memlimit is None else memlimit,
        )

    @property
    def path(self) -> Path:
        return self._path

    @property
    def secrets(self) -> Mapping[str, bytes]:
        """A read-only view of the named secrets, including changes not yet saved."""
        return MappingProxyType(self._secrets)

    @property
    def opslimit(self) -> int:
        return self._opslimit

    @property
    def memlimit(self) -> int:
        return self._memlimit

    def put(self, name: str, value: bytes) -> None:
        """Add or replace a secret in memory; :meth:`save` writes it."""
        self._check_open()
        value = _check_secret(name, value)
        if name not in self._secrets:
            _check_secret_count(len(self._secrets) + 1)
        self._secrets[name] = value

    def remove(self, name: str) -> None:
        """Remove a secret in memory; :meth:`save` writes the change."""
        self._check_open()
        if name not in self._secrets:
            raise KeystoreError(f"The keystore holds no secret named {name!r}.")
        del self._secrets[name]

    def save(self) -> None:
        """Seal the secrets again under the same passphrase, fresh salt and nonce, atomically."""
        self._check_open()
        data = self._seal(bytes(self._passphrase), self._opslimit, self._memlimit)
        write_private_file(self._path, data)

    def change_passphrase(self, new: bytes) -> None:
        """Seal the secrets (unsaved changes included) under ``new`` and write them atomically."""
        self._check_open()
        _check_new_passphrase(new)
        write_private_file(self._path, self._seal(new, self._opslimit, self._memlimit))
        _wipe(self._passphrase)
        self._passphrase = bytearray(new)

    def export_backup(
        self,
        backup_passphrase: bytes,
        *,
        opslimit: int | None = None,
        memlimit: int | None = None,
    ) -> str:
        """Return the secrets sealed under ``backup_passphrase`` and armored as KEY BACKUP.

        The Argon2id cost defaults to this keystore's; a backup that leaves the machine may
        deserve a higher one.
        """
        self._check_open()
        _check_new_passphrase(backup_passphrase)
        ops = self._opslimit if opslimit is None else opslimit
        mem = self._memlimit if memlimit is None else memlimit
        _check_kdf_limits(ops, mem, what="The requested Argon2id cost")
        return armor(self._seal(backup_passphrase, ops, mem), KEY_BACKUP)

    def close(self) -> None:
        """Forget the passphrase and the secrets held in memory (as far as Python allows)."""
        _wipe(self._passphrase)
        self._secrets.clear()
        self._closed = True

    def __enter__(self) -> Keystore:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def _check_open(self) -> None:
        if self._closed:
            raise KeystoreError("This keystore has been closed; open it again to use it.")

    def _seal(self, passphrase: bytes, opslimit: int, memlimit: int) -> bytes:
        salt = randomness.random_bytes(SALT_BYTES)
        nonce = randomness.random_bytes(NONCE_BYTES)
        header = _header(opslimit, memlimit, salt)
        plaintext = canonical_json(
            {"secrets": {name: b64u_encode(value) for name, value in self._secrets.items()}}
        )
        key = _derive_key(passphrase, salt, opslimit, memlimit)
        ciphertext = bytes(
            nacl.bindings.crypto_aead_xchacha20poly1305_ietf_encrypt(
                plaintext, canonical_json(header), nonce, key
            )
        )
        return canonical_json(
            {**header, "nonce": b64u_encode(nonce), "ciphertext": b64u_encode(ciphertext)}
        )


# -- sealing and opening ---------------------------------------------------------------------


def _header(opslimit: int, memlimit: int, salt: bytes) -> dict[str, Any]:
    return {
        "format": FORMAT,
        "kdf": {
            "alg": KDF_ALG,
            "opslimit": opslimit,
            "memlimit": memlimit,
            "salt": b64u_encode(salt),
        },
    }


def _derive_key(passphrase: bytes, salt: bytes, opslimit: int, memlimit: int) -> bytes:
    try:
        return bytes(nacl.pwhash.argon2id.kdf(KEY_BYTES, passphrase, salt, opslimit, memlimit))
    except nacl.exceptions.CryptoError as exc:
        # Only an allocation failure gets here: the parameters were checked before.
        raise KeystoreError(
            f"Argon2id could not derive the key with {memlimit} bytes of memory; free some "
            "memory and try again."
        ) from exc


def _unseal(
    data: bytes, passphrase: bytes, *, what: str, wrong: str
) -> tuple[dict[str, bytes], int, int]:
    """Check every field of a sealed file, then open it; returns (secrets, opslimit, memlimit)."""
    if len(data) > MAX_KEYSTORE_BYTES:
        raise KeystoreLimitError(
            f"The {what} is {len(data)} bytes, over the limit of {MAX_KEYSTORE_BYTES}."
        )
    damaged = f"The {what} is damaged"
    restore = "restore it from a backup"
    try:
        document = parse_canonical_json(data, what=what)
    except EncodingError as exc:
        raise DamagedKeystoreError(f"{damaged}: it is not canonical JSON; {restore}.") from exc
    if not isinstance(document, dict) or set(document) != _FILE_FIELDS:
        raise DamagedKeystoreError(f"{damaged}: its fields are not a keystore's; {restore}.")
    form = document["format"]
    if form != FORMAT:
        if isinstance(form, str) and form.startswith("closedset/keystore/"):
            raise KeystoreError(
                f"The {what} uses format {form}, which this version of Closed Set cannot read; "
                "upgrade Closed Set."
            )
        raise DamagedKeystoreError(f"{damaged}: it is not a Closed Set keystore; {restore}.")
    kdf = document["kdf"]
    if not isinstance(kdf, dict) or set(kdf) != _KDF_FIELDS or kdf["alg"] != KDF_ALG:
        raise DamagedKeystoreError(f"{damaged}: its key derivation settings are not valid.")
    opslimit, memlimit = kdf["opslimit"], kdf["memlimit"]
    if not _is_int(opslimit) or not _is_int(memlimit):
        raise DamagedKeystoreError(f"{damaged}: its Argon2id limits are not whole numbers.")
    _check_kdf_limits(opslimit, memlimit, what=f"The Argon2id cost in the {what}", damaged=True)
    try:
        salt = b64u_decode(kdf["salt"], length=SALT_BYTES, what="salt")
        nonce = b64u_decode(document["nonce"], length=NONCE_BYTES, what="nonce")
        ciphertext = b64u_decode(document["ciphertext"], what="ciphertext")
    except EncodingError as exc:
        raise DamagedKeystoreError(f"{damaged}: {_lower_first(str(exc))[:-1]}.") from exc
    if len(ciphertext) < TAG_BYTES:
        raise DamagedKeystoreError(f"{damaged}: its ciphertext is too short; {restore}.")

    key = _derive_key(passphrase, salt, opslimit, memlimit)
    try:
        plaintext = bytes(
            nacl.bindings.crypto_aead_xchacha20poly1305_ietf_decrypt(
                ciphertext, canonical_json(_header(opslimit, memlimit, salt)), nonce, key
            )
        )
    except nacl.exceptions.CryptoError as exc:
        # A wrong passphrase and altered bytes look the same to an AEAD; the passphrase is
        # by far the likelier cause, so that is what the person is told.
        raise WrongPassphraseError(wrong) from exc
    return _parse_secrets(plaintext, damaged=damaged), opslimit, memlimit


def _parse_secrets(plaintext: bytes, *, damaged: str) -> dict[str, bytes]:
    # Authenticated, so only faulty software could have written anything wrong here.
    try:
        content = parse_canonical_json(plaintext, what="sealed content")
        if not isinstance(content, dict) or set(content) != {"secrets"}:
            raise EncodingError("The sealed content is not a set of secrets.")
        table = content["secrets"]
        if not isinstance(table, dict):
            raise EncodingError("The sealed content is not a set of secrets.")
        _check_secret_count(len(table))
        return {
            name: _check_secret(name, b64u_decode(value, what=f"secret {name!r}"))
            for name, value in table.items()
        }
    except (EncodingError, KeystoreError) as exc:
        raise DamagedKeystoreError(f"{damaged}: its sealed content is not valid.") from exc


# -- checks ----------------------------------------------------------------------------------


def _check_passphrase_type(passphrase: bytes) -> None:
    if not isinstance(passphrase, bytes | bytearray):
        raise KeystoreError("The passphrase must be given as bytes.")


def _check_new_passphrase(passphrase: bytes) -> None:
    _check_passphrase_type(passphrase)
    if not passphrase:
        raise KeystoreError("The passphrase is empty; choose one that is not.")


def _check_kdf_limits(opslimit: int, memlimit: int, *, what: str, damaged: bool = False) -> None:
    if opslimit > OPSLIMIT_MAX or memlimit > MEMLIMIT_MAX:
        raise KeystoreLimitError(
            f"{what} (opslimit {opslimit}, memlimit {memlimit}) is over the cap of opslimit "
            f"{OPSLIMIT_MAX}, memlimit {MEMLIMIT_MAX}."
        )
    if opslimit < OPSLIMIT_MIN or memlimit < MEMLIMIT_MIN:
        message = (
            f"{what} (opslimit {opslimit}, memlimit {memlimit}) is below libsodium's minimum "
            f"of opslimit {OPSLIMIT_MIN}, memlimit {MEMLIMIT_MIN}."
        )
        raise DamagedKeystoreError(message) if damaged else KeystoreLimitError(message)


def _check_secret(name: str, value: bytes) -> bytes:
    if not isinstance(name, str) or not _NAME_RE.fullmatch(name):
        raise KeystoreError(
            f"{name!r} is not a valid secret name; use 1 to 128 letters, digits, '_', '.', ':' "
            "or '-', starting with a letter or digit."
        )
    if not isinstance(value, bytes | bytearray) or not 1 <= len(value) <= MAX_SECRET_BYTES:
        raise KeystoreError(f"The secret {name!r} must be 1 to {MAX_SECRET_BYTES} bytes.")
    return bytes(value)


def _check_secret_count(count: int) -> None:
    if count > MAX_SECRETS:
        raise KeystoreLimitError(f"A keystore holds at most {MAX_SECRETS} secrets, not {count}.")


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _lower_first(text: str) -> str:
    return text[:1].lower() + text[1:]


def _wipe(buffer: bytearray) -> None:
    buffer[:] = bytes(len(buffer))


# -- files -----------------------------------------------------------------------------------


def _read_keystore_file(path: Path) -> bytes:
    try:
        with path.open("rb") as file:
            # One byte over the cap is enough to know it is over.
            return file.read(MAX_KEYSTORE_BYTES + 1)
    except FileNotFoundError as exc:
        raise KeystoreError(
            f"There is no keystore at {path}; run `closedset id new` to create one."
        ) from exc
    except OSError as exc:
        raise KeystoreError(
            f"Could not read the keystore at {path}: {exc.strerror or exc}."
        ) from exc


def _make_private_dirs(directory: Path) -> None:
    # Path.mkdir(parents=True) would give the parents default permissions; create each
    # missing level ourselves so every directory we make is 0700. Existing ones are left alone.
    missing: list[Path] = []
    level = directory
    while not level.exists():
        missing.append(level)
        if level.parent == level:
            break
        level = level.parent
    for new in reversed(missing):
        with suppress(FileExistsError):
            new.mkdir(mode=0o700)
            os.chmod(new, 0o700)


def _link_exclusive(temp: Path, path: Path) -> None:
    # A hard link fails if the target exists, which makes "never overwrite" race-free.
    try:
        os.link(temp, path)
    except OSError as exc:
        if exc.errno not in {errno.EPERM, errno.ENOTSUP, errno.EOPNOTSUPP, errno.EXDEV}:
            raise
        # The filesystem has no hard links (FAT, some network mounts): check, then replace.
        if os.path.lexists(path):
            raise FileExistsError(errno.EEXIST, "File exists", str(path)) from exc
        os.replace(temp, path)
    else:
        os.unlink(temp)


def _fsync_directory(directory: Path) -> None:
    # Makes the rename itself durable; directories cannot be opened for fsync on Windows.
    if os.name == "nt":
        return
    fd = os.open(directory, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    with _closing_fd(fd):
        os.fsync(fd)


@contextmanager
def _closing_fd(fd: int) -> Iterator[None]:
    try:
        yield
    finally:
        os.close(fd)
