"""If two identities certified one device key (relays refuse that now; an older relay may
hold it), the IC's brief fails with a sentence that says who is responsible: the identity that
certified the key later."""

from __future__ import annotations

import nacl.signing

from client.negotiate import _shared_device
from keys.identity import DeviceKeyPair, KeyHistory, certify_device, make_identity_record


def _history(name: str, device: bytes, at: int) -> KeyHistory:
    key = nacl.signing.SigningKey.generate()
    return KeyHistory.from_records(
        [
            make_identity_record(key, name=name, role="performer", issued_at=at),
            certify_device(key, device, issued_at=at),
        ]
    )


def test_the_identity_that_certified_a_shared_device_later_is_named_responsible() -> None:
    device = DeviceKeyPair.generate().public
    ana = _history("Ana Ruiz", device, 1_000)
    mal = _history("Mal Jones", device, 2_000)
    for one, other in ((ana, mal), (mal, ana)):
        sentence = _shared_device(device, one, other)
        assert sentence.startswith(f"Mal Jones ({mal.fingerprint}) certified a device key")
        assert "Mal Jones is responsible" in sentence and str(ana.fingerprint) in sentence
