"""The identity directory's rules, pure: which bundles a relay accepts, and as what.

An identity registers with its bundle (``keys.identity.encode_history``) and later extends it
(new device, rotation, revocation) by sending the whole history again. The relay accepts a
bundle only from the identity itself and only if it keeps every stored record, byte for byte,
as a prefix: a history is never rewritten, only extended, and every new record is logged.
One device, one identity: a device key another identity already certified is refused, naming
that identity (two identities sharing a device key could never be addressed together).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from keys.encoding import b64u_decode, b64u_encode
from keys.errors import EncodingError, LimitError, VerificationError
from keys.identity import Fingerprint, KeyHistory, decode_history
from keys.statement import DEVICE_CERTIFICATE, DEVICE_ROTATION, Statement
from relay.errors import (
    ConflictError,
    InvalidRequestError,
    NotAllowedError,
    TooLargeError,
    UnprocessableError,
)


@dataclass(frozen=True, slots=True)
class Extension:
    """An accepted bundle: the verified history and the records the relay has not seen yet."""

    history: KeyHistory
    first_new: int
    """Position of the first new record (the number of records already stored)."""

    @property
    def new_records(self) -> tuple[Statement, ...]:
        return self.history.records[self.first_new :]


def parse_bundle(bundle: bytes) -> KeyHistory:
    """Verify an identity bundle, turning the trust core's refusals into relay errors."""
    try:
        return decode_history(bundle)
    except LimitError as exc:
        raise TooLargeError(str(exc)) from exc
    except VerificationError as exc:
        raise UnprocessableError(str(exc)) from exc
    except EncodingError as exc:
        raise InvalidRequestError(str(exc)) from exc


def check_extension(history: KeyHistory, caller: bytes, stored: Sequence[bytes]) -> Extension:
    """Accept ``history`` from ``caller`` on top of the ``stored`` record bytes, or refuse it."""
    if history.identity_key != caller:
        raise NotAllowedError(
            "An identity can only be registered or extended by its own key; "
            "sign the request with the identity key the bundle belongs to."
        )
    records = history.records
    if len(records) < len(stored) or any(
        record.to_bytes() != old for record, old in zip(records, stored, strict=False)
    ):
        raise ConflictError(
            f"This bundle does not extend the {len(stored)} records the relay holds for this "
            "identity; a history can only grow, so start from the stored bundle."
        )
    return Extension(history, len(stored))


def certified_device(record: Statement) -> bytes | None:
    """The device key a record starts (a certificate or a rotation's new key), if any."""
    if record.purpose == DEVICE_CERTIFICATE:
        return b64u_decode(record.body["device"], length=32)
    if record.purpose == DEVICE_ROTATION:
        return b64u_decode(record.body["new_device"], length=32)
    return None


def new_devices(extension: Extension) -> list[bytes]:
    return [d for r in extension.new_records if (d := certified_device(r)) is not None]


def check_devices(extension: Extension, owners: Mapping[bytes, bytes]) -> None:
    """Refuse a new device key that ``owners`` (device key -> identity key) gives to another."""
    me = extension.history.identity_key
    for device in new_devices(extension):
        owner = owners.get(device)
        if owner is not None and owner != me:
            raise ConflictError(
                f"The device key {b64u_encode(device)} is already certified by the identity "
                f"{Fingerprint.of(owner)}; a device key belongs to one identity only, so "
                "generate a new device key (`closedset id new-device`) and certify that one."
            )


def device_blob(history: KeyHistory) -> bytes:
    """The current device keys, concatenated in history order (the identities table form)."""
    return b"".join(history.current_devices())


def split_devices(blob: bytes) -> frozenset[bytes]:
    return frozenset(blob[i : i + 32] for i in range(0, len(blob), 32))
