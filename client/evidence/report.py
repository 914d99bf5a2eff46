"""The verification report as a lawyer reads it: plain English, times in UTC, people by name
and fingerprint, no hashes unless ``--verbose`` asks for the step-by-step trace.
"""

from __future__ import annotations

from typing import Any

from client.evidence.verify import Report

RULE = "=" * 72


def render(report: Report, *, verbose: bool = False, kept_note: str | None = None) -> str:
    out: list[str] = [RULE, "CLOSED SET EVIDENCE REPORT", RULE]
    out.append(f"Checked on {report.to_json()['checked_at']}, offline.")
    if report.exporter:
        e = report.exporter
        out.append(
            f"Exported by {e['name']} (fingerprint {e['fingerprint']}) on {e['exported_at']}."
        )
    story = report.story
    if story is not None and story.scene:
        s = story.scene
        out += ["", "THE SCENE", f"  {s['title']}, scene {s['scene']}, script pages {s['pages']}"]
        out.append(f"  Call time: {s['call_time']}")
        out += [
            f"  {p['name']} ({p['role']}), fingerprint {p['fingerprint']}" for p in story.people
        ]
    elif story is not None:
        out += ["", "THE SCENE", "  The scene brief is not disclosed in this bundle."]
    if story is not None:
        _section(out, "RIDER VERSIONS", story.versions, _version)
        _section(
            out, "ACCEPTANCES (each signed by the person named)", story.acceptances, _acceptance
        )
        _section(out, "WITHDRAWALS OF CONSENT", story.withdrawals, _withdrawal)
        _section(out, "FILMED", story.filmed, _filmed)
        _section(out, "OTHER DISCLOSED STATEMENTS", story.other, _other)
        _section(out, "STATEMENTS THE SCENE'S RULES REFUSED", story.refused, _refused)
        out += ["", "NOT DISCLOSED"]
        if story.withheld:
            out.append(
                f"  {len(story.withheld)} further "
                f"{'entry' if len(story.withheld) == 1 else 'entries'} of this scene that the "
                f"party holds {'is' if len(story.withheld) == 1 else 'are'} in the log; the "
                "party did not disclose their content. Logged at:"
            )
            out += [f"    {w['at']}" for w in story.withheld]
        else:
            out.append("  Every entry of this scene that the party listed is disclosed.")
    out += ["", "THE LOG"]
    if report.log is not None and report.log.checkpoint is not None:
        cp = report.log.checkpoint
        out.append(f"  Log {cp.origin}, {cp.size} entries in all.")
        if report.log.cosigned_by:
            out.append(f"  Independently cosigned by: {', '.join(report.log.cosigned_by)}.")
    for warning in report.warnings:
        out += ["", f"  !! {warning}"]
    if kept_note:
        out += ["", f"  {kept_note}"]
    out += ["", RULE]
    if report.verified:
        out.append("RESULT: VERIFIED. Every signature, log proof and check above holds.")
    else:
        out.append(f"RESULT: NOT VERIFIED. {len(report.failures)} problem(s) found:")
        out += [f"  - {f.sentence} [{f.code}]" for f in report.failures]
    out.append(RULE)
    if verbose:
        out += ["", "STEP-BY-STEP TRACE", *report.trace]
    return "\n".join(out) + "\n"


def _section(out: list[str], title: str, items: list[dict[str, Any]], line: Any) -> None:
    if not items:
        return
    out += ["", title]
    for item in items:
        out += line(item)


def _version(v: dict[str, Any]) -> list[str]:
    agreed = f"; agreed by every performer on {v['agreed_at']}" if v["agreed_at"] else ""
    lines = [
        f"  Version {v['version']}, proposed by {v['proposed_by']} on {v['proposed_at']}{agreed}"
    ]
    return lines + [f"    - {t}" for t in v["terms"]]


def _acceptance(a: dict[str, Any]) -> list[str]:
    note = "" if a["names_disclosed_rider"] else " (a version whose text is not disclosed)"
    return [
        f"  {a['name']} accepted version {a['version']}{note} on {a['at']}",
        f"    fingerprint {a['fingerprint']}",
    ]


def _withdrawal(w: dict[str, Any]) -> list[str]:
    when = "AFTER filming" if w["after_filming"] else "before filming"
    lines = [f"  {w['name']} withdrew consent to {w['what']} on {w['at']} ({when})"]
    if w.get("reason"):
        lines.append(f"    reason given: {w['reason']}")
    return [*lines, f"    fingerprint {w['fingerprint']}"]


def _filmed(m: dict[str, Any]) -> list[str]:
    return [f"  Version {m['version']} marked filmed on {m['at']}: {', '.join(m['acts'])}"]


def _other(o: dict[str, Any]) -> list[str]:
    lines = [f"  A {o['kind']} from {o['name']} on {o['at']}:"]
    return lines + [f"    {line}" for line in o.get("content", [])]


def _refused(r: dict[str, Any]) -> list[str]:
    return [f"  Logged {r['at']}: {r['reason']}"]
