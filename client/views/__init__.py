"""What the CLI (and later the web UI) shows of a scene: plain data for ``--json`` and rows for
tables, computed from one viewer's own fold. Nothing here decrypts or sends; a performer's
view is built only from what their own devices could open.
"""
