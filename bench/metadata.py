"""What each party is served on the demo thread: counts, ciphertext buckets and sizes per
statement kind, and what one raw egress mail contains (docs/threat-model.md quotes it).

    .venv/bin/python -m bench.metadata [--json]

Not a timing: it runs the demo's scene with its own relay in a temporary directory, then
reads each profile's thread cache (exactly what the relay served it) and builds the egress
message the relay would mail for one envelope.
"""

from __future__ import annotations

import argparse
import base64
import io
import json
import re
import sys
import tempfile
from pathlib import Path
from typing import Any

from client.cli.context import Context
from client.demo.relay_process import embedded_relay
from client.demo.scenario import cast_of, tell
from client.demo.story import Story
from client.negotiate import SCENE_PURPOSE, unwrap
from client.scenes import THREADS_DIR, ThreadCache
from keys.encoding import b64u_decode
from keys.envelope import open_envelope
from keys.errors import KeysError
from relay.mail.outgoing import build_delivery


def _kind(envelope: Any, devices: list[Any]) -> str:
    for device in devices:
        try:
            opened = open_envelope(envelope, device)
        except KeysError:
            continue
        if opened.context.purpose != SCENE_PURPOSE:
            return opened.context.purpose
        return type(unwrap(opened.plaintext)).__name__
    return "(cannot open)"


def measure() -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="closedset-metadata-") as tmp:
        workdir = Path(tmp)
        with embedded_relay(workdir / "relay") as relay:
            out = io.StringIO()
            ctx = Context(home=workdir / "unused", environ={}, stdout=out, json=True)
            story = Story(ctx)
            cast = tell(story, cast_of(workdir, relay))
            if not story.passed:
                raise SystemExit("the demo did not pass; nothing to measure")
            names = {p.profile().identity_key: p.name for p in (cast.ic, cast.ana, cast.ben)}
            result: dict[str, Any] = {"parties": {}}
            for person in (cast.ic, cast.ana, cast.ben):
                profile = person.profile()
                rows = []
                for path in sorted((Path(person.home) / THREADS_DIR).glob("*.json")):
                    cache = ThreadCache(Path(person.home), b64u_decode(path.stem, length=16))
                    for item in cache.items:
                        envelope = item.envelope
                        rows.append(
                            {
                                "kind": _kind(envelope, profile.device_keys()),
                                "from": names.get(envelope.context.sender, "?"),
                                "to": sorted(
                                    names.get(k, "?") for k in envelope.context.recipient_identities
                                ),
                                "ciphertext": len(envelope.ciphertext),
                                "bytes": len(envelope.to_bytes()),
                                "reader_sequence": item.reader_sequence,
                            }
                        )
                result["parties"][person.name] = rows
            ben = cast.ben.profile()
            sample = ThreadCache(
                Path(cast.ben.home),
                b64u_decode(
                    sorted((Path(cast.ben.home) / THREADS_DIR).glob("*.json"))[0].stem, length=16
                ),
            ).items[-1]
            raw = build_delivery(
                envelope_body=sample.envelope.to_bytes(),
                devices=[bytes(d.public_key) for d in ben.device_keys()],
                from_address="relay@relay.example",
                to_address="ben@mail.example",
                message_id="<0123456789abcdef0123456789abcdef01234567@relay.example>",
                in_reply_to=None,
                references=(),
                created_ms=0,
            )
            keys = [k for k in names] + [
                r.device
                for p in (cast.ic, cast.ana, cast.ben)
                for r in p.profile().own_recipients()
            ]
            spellings = []
            for key in keys:
                spellings += [key.hex().encode(), base64.b64encode(key).rstrip(b"=")]
                spellings += [base64.urlsafe_b64encode(key).rstrip(b"=")]
            result["egress_mail"] = {
                "bytes": len(raw),
                "envelope_bytes": len(sample.envelope.to_bytes()),
                "headers": [
                    line.decode()
                    for line in raw.split(b"\r\n\r\n", 1)[0].split(b"\r\n")
                    if not line.startswith((b" ", b"\t"))
                ],
                "identity_or_device_key_spellings_found": sum(s in raw for s in spellings),
                "names_found": sum(n.encode() in raw for n in names.values()),
                "armor_labels": sorted(set(re.findall(rb"BEGIN CLOSEDSET ([A-Z ]+)-", raw))),
            }
            result["egress_mail"]["armor_labels"] = [
                x.decode() for x in result["egress_mail"]["armor_labels"]
            ]
            return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    result = measure()
    if args.json:
        print(json.dumps(result, indent=2))
        return 0
    for name, rows in result["parties"].items():
        print(f"{name}: served {len(rows)} envelopes")
        for row in rows:
            print(
                f"  #{row['reader_sequence']:>2} {row['kind']:<16} from {row['from']:<12} "
                f"to {', '.join(row['to']):<34} ciphertext {row['ciphertext']:>6} B, "
                f"envelope {row['bytes']:>6} B"
            )
    mail = result["egress_mail"]
    print(f"egress mail: {mail['bytes']} B for an envelope of {mail['envelope_bytes']} B")
    for line in mail["headers"]:
        print(f"  {line}")
    print(
        f"  armor: {mail['armor_labels']}; key spellings found: "
        f"{mail['identity_or_device_key_spellings_found']}; names found: {mail['names_found']}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
