"""HTTP Message Signatures (RFC 9421) with Ed25519, as the relay's request authentication.

A request is signed over its method, authority (the relay's public host and port, so a
request made for one relay is refused by every other), path, query and Content-Digest
(RFC 9530, SHA-256 of the body), with ``created`` time, a random ``nonce``, the ``keyid``
(base64url of the caller's Ed25519 identity key), ``alg="ed25519"`` and ``tag="closedset"``::

    Content-Digest: sha-256=:<base64 SHA-256(body)>:
    Signature-Input: sig1=("@method" "@authority" "@path" "@query" "content-digest");created=...;\
nonce="...";keyid="...";alg="ed25519";tag="closedset"
    Signature: sig1=:<base64 Ed25519 signature over the signature base>:

This module builds and checks the signature base; replay and clock policy belong to the
verifier's caller (the relay keeps the nonce cache). Details: docs/protocol.md, "Requests".
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import urlsplit

import nacl.exceptions
import nacl.signing

from keys.encoding import b64u_decode, b64u_encode
from keys.errors import EncodingError, LimitError, SignatureError, VerificationError

COMPONENTS = ("@method", "@authority", "@path", "@query", "content-digest")
LABEL = "sig1"
ALG = "ed25519"
TAG = "closedset"
NONCE_SIZE = 16
MAX_HEADER_LENGTH = 1024
MAX_TARGET_LENGTH = 4096


class RequestSignatureError(VerificationError):
    """A request's signature is missing, malformed, stale or does not verify."""


class MissingSignatureError(RequestSignatureError):
    """The request carries no signature at all."""


class MalformedSignatureError(RequestSignatureError):
    """The signature headers are not in the one shape Closed Set accepts."""


class DigestMismatchError(RequestSignatureError):
    """The Content-Digest does not match the body that arrived."""


class BadRequestSignatureError(RequestSignatureError, SignatureError):
    """The Ed25519 signature does not verify for this request."""


@dataclass(frozen=True)
class SignedRequest:
    """What a valid signature establishes about a request."""

    identity_key: bytes
    created: int
    nonce: bytes


def content_digest(body: bytes) -> str:
    """The RFC 9530 Content-Digest field value for ``body`` (SHA-256)."""
    return "sha-256=:" + base64.b64encode(hashlib.sha256(body).digest()).decode("ascii") + ":"


_DEFAULT_PORTS = {"http": 80, "https": 443, "ws": 80, "wss": 443}
_AUTHORITY_RE = re.compile(r"\A(?:[a-z0-9.-]+|\[[0-9a-f:.]+\])(?::[0-9]{1,5})?\Z")


def authority_of(url: str) -> str:
    """The RFC 9421 ``@authority`` of a base URL: lower-case host, port only if not the default.

    ``authority_of("https://Relay.Example:443/x") == "relay.example"``.
    """
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise MalformedSignatureError(f"The URL {url!r} has no valid authority.") from exc
    host = (parts.hostname or "").lower()
    if not host:
        raise MalformedSignatureError(f"The URL {url!r} has no host.")
    if ":" in host:
        host = f"[{host}]"
    if port is not None and port != _DEFAULT_PORTS.get(parts.scheme.lower()):
        host = f"{host}:{port}"
    return host


def _split_target(target: str) -> tuple[str, str]:
    if len(target) > MAX_TARGET_LENGTH or not target.startswith("/"):
        raise MalformedSignatureError("The request target must be an absolute path.")
    path, _, query = target.partition("?")
    return path, "?" + query


def _params(created: int, nonce: bytes, keyid: str) -> str:
    components = " ".join(f'"{c}"' for c in COMPONENTS)
    return (
        f'({components});created={created};nonce="{b64u_encode(nonce)}";'
        f'keyid="{keyid}";alg="{ALG}";tag="{TAG}"'
    )


_CONTROL_RE = re.compile(r"[\x00-\x09\x0b-\x1f\x7f]")
"""Control characters other than the line feed that joins the lines (and DEL): never signed."""


def signature_base(method: str, authority: str, target: str, digest: str, params: str) -> bytes:
    """The RFC 9421 signature base: one line per component, then ``@signature-params``."""
    path, query = _split_target(target)
    if not _AUTHORITY_RE.match(authority):
        raise MalformedSignatureError("The request authority is not a lower-case host[:port].")
    lines = [
        f'"@method": {method.upper()}',
        f'"@authority": {authority}',
        f'"@path": {path}',
        f'"@query": {query}',
        f'"content-digest": {digest}',
        f'"@signature-params": {params}',
    ]
    text = "\n".join(lines)
    if not text.isascii() or _CONTROL_RE.search(text) is not None:
        raise MalformedSignatureError("A signed request component holds a non-ASCII character.")
    return text.encode("ascii")


def sign_request(
    key: nacl.signing.SigningKey,
    method: str,
    target: str,
    body: bytes,
    *,
    authority: str,
    created: int,
    nonce: bytes,
) -> dict[str, str]:
    """The three headers that authenticate a request as coming from ``key``'s identity.

    ``authority`` is the relay's, from :func:`authority_of` of its base URL.
    """
    if len(nonce) != NONCE_SIZE:
        raise EncodingError(f"A request nonce is {NONCE_SIZE} bytes.")
    digest = content_digest(body)
    params = _params(created, nonce, b64u_encode(bytes(key.verify_key)))
    signature = key.sign(signature_base(method, authority, target, digest, params)).signature
    return {
        "Content-Digest": digest,
        "Signature-Input": f"{LABEL}={params}",
        "Signature": f"{LABEL}=:{base64.b64encode(signature).decode('ascii')}:",
    }


_INPUT_RE = re.compile(
    r'\Asig1=(\("@method" "@authority" "@path" "@query" "content-digest"\)'
    r";created=(?P<created>[0-9]{1,15})"
    r';nonce="(?P<nonce>[A-Za-z0-9_-]{1,64})"'
    r';keyid="(?P<keyid>[A-Za-z0-9_-]{43})"'
    r';alg="ed25519";tag="closedset")\Z'
)
_SIGNATURE_RE = re.compile(r"\Asig1=:(?P<sig>[A-Za-z0-9+/]{86}==):\Z")


def _header(headers: Mapping[str, str], name: str) -> str | None:
    value = headers.get(name)
    if value is not None and len(value) > MAX_HEADER_LENGTH:
        raise LimitError(f"The {name} header is longer than {MAX_HEADER_LENGTH} characters.")
    return value


def verify_request(
    method: str, target: str, headers: Mapping[str, str], body: bytes, *, authority: str
) -> SignedRequest:
    """Check a request's signature and digest; the caller then applies time and replay rules.

    ``authority`` is the verifier's own (its public URL's, by :func:`authority_of`), never the
    request's Host header: a request signed for another relay does not verify here.
    ``headers`` must be case-insensitive (as aiohttp's and http.client's are).
    """
    signature_input = _header(headers, "Signature-Input")
    signature_field = _header(headers, "Signature")
    digest = _header(headers, "Content-Digest")
    if signature_input is None and signature_field is None:
        raise MissingSignatureError(
            "This request is not signed; sign it with your identity key (RFC 9421)."
        )
    if signature_input is None or signature_field is None or digest is None:
        raise MalformedSignatureError(
            "A signed request needs Signature-Input, Signature and Content-Digest headers."
        )
    match = _INPUT_RE.match(signature_input.strip())
    sig_match = _SIGNATURE_RE.match(signature_field.strip())
    if match is None or sig_match is None:
        raise MalformedSignatureError(
            "The Signature-Input or Signature header is not in the form Closed Set signs."
        )
    if digest.strip() != content_digest(body):
        raise DigestMismatchError("The Content-Digest does not match the request body.")
    try:
        identity_key = b64u_decode(match["keyid"], length=32, what="key id")
        nonce = b64u_decode(match["nonce"], length=NONCE_SIZE, what="nonce")
        signature = base64.b64decode(sig_match["sig"], validate=True)
    except (EncodingError, binascii.Error) as exc:
        raise MalformedSignatureError(f"The request signature is malformed: {exc}") from exc
    base = signature_base(method, authority, target, digest.strip(), match.group(1))
    try:
        nacl.signing.VerifyKey(identity_key).verify(base, signature)
    except (nacl.exceptions.BadSignatureError, nacl.exceptions.ValueError) as exc:
        raise BadRequestSignatureError("The request signature does not verify.") from exc
    return SignedRequest(identity_key=identity_key, created=int(match["created"]), nonce=nonce)
