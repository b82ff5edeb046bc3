"""
The job index: every job the gateway creates or sees, recorded.

It gives a list to providers whose API has none (with the same cursor semantics as a
native list), the true ``created_at``, job -> key affinity (polls use the key that created
the job), idempotent create, deletions the provider cannot remember (the simulator), each
job's provider state, and status-machine enforcement across polls and processes.

`MemoryJobIndex` lives as long as the process; `SQLiteJobIndex` survives restarts and is
safe with several processes writing at once. Both write only when a job's kept state
changes, so a poll that brings no news costs a read.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ..claims import Claim, SupportsClaims, SupportsWatch
from ._shared import (
    JobIndex,
    JobRecord,
    Observation,
    SupportsObserveMany,
    merge,
    observe_all,
    unchanged,
    unknown_after,
)
from .memory import MemoryJobIndex

if TYPE_CHECKING:
    from .sqlite import SQLiteJobIndex

__all__ = [
    "Claim",
    "JobIndex",
    "JobRecord",
    "MemoryJobIndex",
    "Observation",
    "SQLiteJobIndex",
    "SupportsClaims",
    "SupportsObserveMany",
    "SupportsWatch",
    "merge",
    "observe_all",
    "unchanged",
]

# The names the PostgreSQL index imports (it was written against the single module).
_merge = merge
_unknown_after = unknown_after


def __getattr__(name: str) -> Any:
    # sqlite3 is loaded only by those who use the file index.
    if name == "SQLiteJobIndex":
        from .sqlite import SQLiteJobIndex  # noqa: PLC0415

        return SQLiteJobIndex
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
