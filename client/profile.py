"""A person's profile directory: their keystore, public identity history and contacts.

Layout (every file mode 0600, the directory 0700, every write atomic)::

    <home>/keystore.json   private keys, sealed under the passphrase (keys.keystore)
    <home>/identity.json   the public identity bundle (keys.identity.encode_history)
    <home>/contacts.json   other people's identity bundles and whether they were verified
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import nacl.public
import nacl.signing

from client.errors import ProfileError
from keys.encoding import b64u_decode, b64u_encode
from keys.envelope import Recipient
from keys.identity import (
    KeyHistory,
    Role,
    certify_device,
    decode_history,
    encode_history,
    make_identity_record,
)
from keys.keystore import Keystore, default_home, write_private_file

KEYSTORE_FILE = "keystore.json"
IDENTITY_FILE = "identity.json"
CONTACTS_FILE = "contacts.json"
IDENTITY_SECRET = "identity"
# The public history rides along in the keystore so a backup restores a whole profile.
HISTORY_SECRET = "identity-history"
DEVICE_SECRET_PREFIX = "device:"


def resolve_home(explicit: str | os.PathLike[str] | None, environ: Mapping[str, str]) -> Path:
    """``--home`` wins, then ``CLOSEDSET_HOME``, then the user's data directory."""
    return Path(explicit) if explicit else default_home(environ)


@dataclass
class Profile:
    """An opened profile: public history always, private keys once unlocked."""

    home: Path
    history: KeyHistory
    keystore: Keystore | None = None

    # --- creating and loading ------------------------------------------------------------

    @classmethod
    def create(
        cls,
        home: Path,
        passphrase: bytes,
        *,
        name: str,
        role: Role,
        email: str | None,
        now: int,
    ) -> Profile:
        """Make a new identity with one device key, and write the profile."""
        if (home / KEYSTORE_FILE).exists():
            raise ProfileError(
                f"{home} already holds an identity; use another --home or CLOSEDSET_HOME."
            )
        identity = nacl.signing.SigningKey.generate()
        device = nacl.public.PrivateKey.generate()
        records = [
            make_identity_record(identity, name=name, role=role, email=email, issued_at=now),
            certify_device(identity, bytes(device.public_key), issued_at=now),
        ]
        history = KeyHistory.from_records(records)
        secrets = {
            IDENTITY_SECRET: bytes(identity),
            DEVICE_SECRET_PREFIX + b64u_encode(bytes(device.public_key)): bytes(device),
            HISTORY_SECRET: encode_history(records),
        }
        keystore = Keystore.create(home / KEYSTORE_FILE, passphrase, secrets)
        write_private_file(home / IDENTITY_FILE, encode_history(records))
        return cls(home=home, history=history, keystore=keystore)

    @classmethod
    def load(cls, home: Path) -> Profile:
        """Load the public part; :meth:`unlock` adds the private keys."""
        path = home / IDENTITY_FILE
        try:
            data = path.read_bytes()
        except FileNotFoundError:
            raise ProfileError(
                f"No identity in {home}; "
                "create one with `closedset id new --name NAME --role ROLE`."
            ) from None
        return cls(home=home, history=decode_history(data))

    def unlock(self, passphrase: bytes) -> Profile:
        self.keystore = Keystore.open(self.home / KEYSTORE_FILE, passphrase)
        return self

    # --- keys ----------------------------------------------------------------------------

    def _secrets(self) -> Mapping[str, bytes]:
        if self.keystore is None:
            raise ProfileError("The profile is locked; this command needs the passphrase.")
        return self.keystore.secrets

    @property
    def identity_key(self) -> bytes:
        return self.history.identity_key

    def signing_key(self) -> nacl.signing.SigningKey:
        return nacl.signing.SigningKey(self._secrets()[IDENTITY_SECRET])

    def device_keys(self) -> list[nacl.public.PrivateKey]:
        """Every device private key this profile holds, current and retired (to read old mail)."""
        return [
            nacl.public.PrivateKey(value)
            for name, value in sorted(self._secrets().items())
            if name.startswith(DEVICE_SECRET_PREFIX)
        ]

    def own_recipients(self) -> list[Recipient]:
        return [Recipient(self.identity_key, d) for d in self.history.current_devices()]

    def save_history(self, history: KeyHistory) -> None:
        if self.keystore is not None:
            self.keystore.put(HISTORY_SECRET, history.to_bytes())
            self.keystore.save()
        write_private_file(self.home / IDENTITY_FILE, history.to_bytes())
        self.history = history


def restore_public_history(home: Path, keystore: Keystore) -> KeyHistory:
    """Rewrite ``identity.json`` from the copy kept in the keystore (after a restore)."""
    data = keystore.secrets[HISTORY_SECRET]
    history = decode_history(data)
    write_private_file(home / IDENTITY_FILE, data)
    return history


def device_secret_name(device_public: bytes) -> str:
    return DEVICE_SECRET_PREFIX + b64u_encode(device_public)


def device_public_from_secret_name(name: str) -> bytes:
    return b64u_decode(name.removeprefix(DEVICE_SECRET_PREFIX), length=32)
