"""``closedset app``: the local web app for performers and counsel (aiohttp on 127.0.0.1).

A thin adapter, like client/cli/: every page calls the same library functions the CLI calls;
cryptography, the keystore, the negotiation rules and the transports stay in the library.
"""
