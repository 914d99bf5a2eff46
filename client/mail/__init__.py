"""Email transport on the person's side: submit envelopes by SMTP, import them from mail files
and IMAP folders into the profile's inbox. ``settings`` reads ``<home>/config.toml``;
``compose`` builds the outgoing message; ``inbox`` keeps what was imported.
"""
