"""Counsel's witness: a C2SP tlog-witness that cosigns a relay's checkpoints only if each
extends the last one it cosigned. ``core`` checks, ``state`` keeps files, ``http`` serves.
"""

from client.witness.core import (
    AddCheckpointError,
    AddCheckpointRequest,
    ConflictError,
    InconsistentProofError,
    LatestCheckpoint,
    MalformedRequestError,
    SplitViewError,
    UnknownLogError,
    UntrustedCheckpointError,
    Witness,
)

__all__ = [
    "AddCheckpointError",
    "AddCheckpointRequest",
    "ConflictError",
    "InconsistentProofError",
    "LatestCheckpoint",
    "MalformedRequestError",
    "SplitViewError",
    "UnknownLogError",
    "UntrustedCheckpointError",
    "Witness",
]
