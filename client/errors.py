"""Errors the client shows to a person, one sentence each, with the fix where there is one.

    ClientError               anything the client refuses to do
    +-- ProfileError          the profile is missing, incomplete or already exists
    +-- ContactError          a contact cannot be found, is ambiguous, or changed key
    +-- UsageError            the command line asks for something impossible

Errors from ``keys`` (``keys.errors.KeysError``) reach the CLI unchanged; both kinds are
turned into one line on stderr and a non-zero exit by ``client.cli.main``.
"""

from __future__ import annotations


class ClientError(Exception):
    """Base class: the client refused something; ``str()`` is the sentence to show."""


class ProfileError(ClientError):
    """The profile directory does not hold what this command needs."""


class ContactError(ClientError):
    """A contact is unknown, ambiguous, or its key changed."""


class UsageError(ClientError):
    """The command line asks for something that cannot be done."""
