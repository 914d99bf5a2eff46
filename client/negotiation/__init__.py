"""Negotiation domain (placeholder docstring, replaced below)."""
