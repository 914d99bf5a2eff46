"""The people's side of Closed Set: profiles, contacts, sealing and opening, the CLI.

``client`` uses ``keys`` and never imports ``relay``. The CLI in ``client.cli`` only
calls the library modules here.
"""
