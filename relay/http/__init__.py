"""The relay's HTTP face: thin aiohttp handlers over ``relay.service``, plus middlewares for
errors (RFC 9457 problem+json), limits and request signatures. The API: docs/api.md.
"""
