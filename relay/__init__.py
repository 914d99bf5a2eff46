"""The Closed Set relay: routes ciphertext between thread members and keeps the audit log.

It never sees plaintext. Storage lives in ``relay.db``, the transparency log in ``relay.log``.
"""
