"""
The status machine of a video job.

Legal moves: ``queued -> in_progress -> completed | failed``; ``queued`` may jump straight
to a terminal state; a terminal state never changes. Progress runs 0..100 and never
decreases; a completed job is at 100. Upstream APIs do report regressions (a job seen
``in_progress`` by one replica and ``queued`` by the next); `advance` keeps them from
reaching the caller.
"""

from __future__ import annotations

from typing import Any

import attrs

from .model import Video, VideoStatus

__all__ = ["TERMINAL", "advance", "is_legal"]

TERMINAL = frozenset({VideoStatus.COMPLETED, VideoStatus.FAILED})

_RANK = {
    VideoStatus.QUEUED: 0,
    VideoStatus.IN_PROGRESS: 1,
    VideoStatus.COMPLETED: 2,
    VideoStatus.FAILED: 2,
}

# What a terminal state brings with it; kept when a regression hides the state again.
_KEPT_WITH_STATUS = ("completed_at", "expires_at", "videos", "content_filter")


def is_legal(before: VideoStatus, after: VideoStatus) -> bool:
    """True if a job may move from `before` to `after` (staying put is legal)."""
    if before in TERMINAL:
        return after is before
    return _RANK[after] >= _RANK[before]


def advance(previous: Video | None, current: Video) -> Video:
    """
    Merge a freshly polled state into the last one seen, enforcing the machine.

    An illegal move keeps the previous status (and its error, and the completion time,
    expiry, outputs and filter report that the fresh state lacks); progress is the larger
    of the two; a completed job reports 100. Everything else comes from `current`.
    """
    status, error = current.status, current.error
    progress = current.progress
    kept: dict[str, Any] = {}
    if previous is not None:
        if not is_legal(previous.status, current.status):
            status, error = previous.status, previous.error
            kept = {
                name: value
                for name in _KEPT_WITH_STATUS
                if getattr(current, name) in (None, ())
                and (value := getattr(previous, name)) not in (None, ())
            }
        if previous.progress is not None:
            progress = previous.progress if progress is None else max(previous.progress, progress)
    if status is VideoStatus.COMPLETED:
        progress = 100.0
    if not kept and (status, error, progress) == (current.status, current.error, current.progress):
        return current
    return attrs.evolve(current, status=status, error=error, progress=progress, **kept)
