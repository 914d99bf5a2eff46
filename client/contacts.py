"""Other people's public identities, as this profile knows and has verified them.

A contact is an identity bundle plus a ``verified`` flag set after comparing the safety
number. An update that extends a contact's history (a new device, a revocation) keeps
the flag; a different identity key under the same email or name is a *key change*: it is
stored unverified and reported, never accepted silently.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from client.errors import ContactError
from keys.encoding import canonical_json
from keys.errors import EncodingError
from keys.identity import Fingerprint, KeyHistory, decode_history, encode_history
from keys.keystore import write_private_file


@dataclass(frozen=True)
class Contact:
    history: KeyHistory
    verified: bool = False

    @property
    def fingerprint(self) -> Fingerprint:
        return self.history.fingerprint

    @property
    def name(self) -> str:
        return self.history.name


@dataclass(frozen=True)
class AddResult:
    """What adding a bundle did: ``new``, ``updated``, ``unchanged`` or ``key-changed``."""

    contact: Contact
    outcome: str
    replaced: Contact | None = None


class Contacts:
    """The contact book in ``<home>/contacts.json``."""

    def __init__(self, path: Path, contacts: dict[bytes, Contact]) -> None:
        self.path = path
        self._by_key = contacts

    @classmethod
    def load(cls, path: Path) -> Contacts:
        if not path.exists():
            return cls(path, {})
        raw = json.loads(path.read_bytes())
        contacts: dict[bytes, Contact] = {}
        for item in raw["contacts"]:
            history = decode_history(canonical_json({"records": item["records"]}))
            contacts[history.identity_key] = Contact(history, bool(item["verified"]))
        return cls(path, contacts)

    def save(self) -> None:
        items = [
            {
                "records": json.loads(encode_history(c.history.records))["records"],
                "verified": c.verified,
            }
            for c in sorted(self._by_key.values(), key=lambda c: c.name.lower())
        ]
        write_private_file(self.path, canonical_json({"contacts": items}))

    def __iter__(self) -> Iterator[Contact]:
        return iter(sorted(self._by_key.values(), key=lambda c: c.name.lower()))

    def __len__(self) -> int:
        return len(self._by_key)

    def get(self, identity_key: bytes) -> Contact | None:
        return self._by_key.get(identity_key)

    def add(self, history: KeyHistory) -> AddResult:
        """Add or update a contact from a verified identity bundle (caller saves)."""
        old = self._by_key.get(history.identity_key)
        if old is not None:
            if old.history.records == history.records:
                return AddResult(old, "unchanged")
            if history.records[: len(old.history.records)] != old.history.records:
                raise ContactError(
                    f"This bundle rewrites the history {old.name} sent before; "
                    "ask them how it happened before trusting it."
                )
            updated = Contact(history, old.verified)
            self._by_key[history.identity_key] = updated
            return AddResult(updated, "updated")
        twin = self._same_person(history)
        contact = Contact(history, verified=False)
        self._by_key[history.identity_key] = contact
        if twin is not None:
            # The older key stays for reading old mail, but no longer counts as verified.
            self._by_key[twin.history.identity_key] = Contact(twin.history, verified=False)
            return AddResult(contact, "key-changed", replaced=twin)
        return AddResult(contact, "new")

    def _same_person(self, history: KeyHistory) -> Contact | None:
        for contact in self._by_key.values():
            same_email = history.email is not None and contact.history.email == history.email
            if same_email or contact.name.casefold() == history.name.casefold():
                return contact
        return None

    def mark_verified(self, identity_key: bytes) -> Contact:
        contact = self._by_key[identity_key]
        verified = Contact(contact.history, verified=True)
        self._by_key[identity_key] = verified
        return verified

    def find(self, query: str) -> Contact:
        """A contact by fingerprint (any grouping) or by a unique, case-insensitive name."""
        try:
            fingerprint = Fingerprint.parse(query)
        except EncodingError:
            fingerprint = None
        if fingerprint is not None:
            for contact in self._by_key.values():
                if contact.fingerprint == fingerprint:
                    return contact
            raise ContactError(
                f"No contact has fingerprint {fingerprint}; add them with `closedset contacts add`."
            )
        matches = [c for c in self._by_key.values() if c.name.casefold() == query.casefold()]
        if len(matches) == 1:
            return matches[0]
        if not matches:
            raise ContactError(f"No contact is called {query!r}; see `closedset contacts list`.")
        raise ContactError(
            f"{len(matches)} contacts are called {query!r}; name one by its fingerprint instead."
        )
