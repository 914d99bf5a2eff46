"""The trust core shared by the client and the relay.

Pure code only: no network, no clock reads (times are passed in), no imports from
``client`` or ``relay``. Everything signed or hashed here is encoded canonically and
documented byte by byte in ``docs/protocol.md``.
"""
