"""Evidence for counsel: bundles a party exports, and the offline verifier that checks them.

``export.export_bundle(session, Selection(...), now=...)`` builds and self-checks a bundle;
``verify.verify_bundle(data, Policy(...), kept, now=...)`` returns a :class:`verify.Report`
(failure codes in failures.py); ``report.render`` prints it for a lawyer. Format: bundle.py
and docs/protocol.md, "Evidence bundle".
"""
