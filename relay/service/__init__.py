"""The relay's use cases over storage and the log: identities, threads, envelopes, receipts.

Each function loads what the pure rules (``relay.directory``, ``relay.threads``) need, applies
them, and writes; anything logged goes through the sequencer with its rows in ``extra`` or in
a round writer (envelopes: ``relay.service.envelopes.write_round``), so rows, log entry and
checkpoint commit together. Time is passed in; nothing here knows HTTP.
"""

from relay.service.backend import Backend

__all__ = ["Backend"]
