"""Email transport of the relay: SMTP ingress of envelopes and durable outbound delivery.

``ingress`` (use case) and ``handler``/``server`` (aiosmtpd adapter) take mail in;
``outbox`` queues mail in the envelope's own transaction, ``egress`` sends it through the
smarthost, ``outgoing`` builds each message. docs/email.md describes the whole of it.
"""
