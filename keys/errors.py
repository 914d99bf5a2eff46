"""Errors raised by the trust core, each written for the person who will read it.

The tree::

    KeysError                      anything the trust core refuses
    +-- EncodingError              bytes that are not in the one canonical form
    |   +-- ArmorError             ASCII armor that cannot be decoded
    +-- LimitError                 a length or count over a documented limit
    +-- VerificationError          a signature, hash or proof that does not check out
    |   +-- SignatureError         an Ed25519 signature is not valid for its purpose
    |   +-- DecryptionError        a ciphertext cannot be opened with the key at hand
    |   +-- ProofError             a Merkle proof does not lead to the expected root
    +-- KeystoreError              the keystore cannot be opened or written
        +-- WrongPassphraseError   the passphrase does not open the keystore

Modules raise the most specific subclass they can, often one of their own that
subclasses one of these. ``str(error)`` is one sentence a person can act on; the
foreign exception that caused it, if any, is chained with ``raise ... from``.
"""

from __future__ import annotations


class KeysError(Exception):
    """Base class: the trust core refused something."""


class EncodingError(KeysError):
    """Bytes are not in the single canonical encoding the protocol allows."""


class ArmorError(EncodingError):
    """ASCII armor is malformed or damaged beyond what mail clients do to it."""


class LimitError(KeysError):
    """A length or a count is over a documented limit; checked before any cryptography."""


class VerificationError(KeysError):
    """Something that must verify does not."""


class SignatureError(VerificationError):
    """An Ed25519 signature is not valid for the key and purpose it claims."""


class DecryptionError(VerificationError):
    """A ciphertext cannot be opened: wrong key, not a recipient, or altered bytes."""


class ProofError(VerificationError):
    """A Merkle inclusion or consistency proof does not reproduce the expected root."""


class KeystoreError(KeysError):
    """The keystore is missing, unreadable or cannot be written safely."""


class WrongPassphraseError(KeystoreError):
    """The passphrase does not open the keystore."""
