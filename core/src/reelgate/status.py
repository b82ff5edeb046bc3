"""
The status machine of a video job.

Legal moves: ``queued -> in_progress -> completed | failed``; ``queued`` may jump straight
to a terminal state; a terminal state never changes. Progress runs 0..100 and never
decreases; a completed job is at 100. Upstream APIs do report regressions (a job seen
``in_progress`` by one replica and ``queued`` by the next); `advance` keeps them from
reaching the caller.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

import attrs

from .model import Video, VideoStatus

if TYPE_CHECKING:
    from .call import Call

__all__ = ["TERMINAL", "advance", "is_legal", "progress_from_logs", "upstream_status"]

_log = logging.getLogger("reelgate")
_unknown_seen: set[tuple[str, str]] = set()

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


def upstream_status(raw: object, table: Mapping[str, VideoStatus], *, call: Call) -> VideoStatus:
    """
    Read a provider's own status name through its plugin's table.

    A status the table does not know is the one rule every provider shares: it is no news.
    The job reads as queued, which the status machine turns into "as last seen" (an
    unfinished job stays unfinished; a finished one stays finished), and the name is
    logged once per provider instance, so a new upstream status is noticed, never
    mistaken for a failure or a success. Plugins keep the raw name in
    ``provider_metadata``.

    Args:
        raw: The status as the provider wrote it (any JSON value).
        table: The provider's names of its statuses.
        call: The operation, for the log line.
    """
    status = table.get(raw) if isinstance(raw, str) else None
    if status is not None:
        return status
    seen = (call.instance, repr(raw))
    if seen not in _unknown_seen:
        _unknown_seen.add(seen)
        _log.warning(
            "%s reported an unknown job status %r; reading it as unfinished",
            call.instance,
            raw,
        )
    return VideoStatus.QUEUED


_PERCENT = re.compile(r"(\d{1,3}(?:\.\d+)?)\s*%")
_STEPS = re.compile(r"\b(\d+)\s*/\s*(\d+)\b")
_LINES = re.compile(r"[\r\n]+")


def progress_from_logs(logs: str | Iterable[str]) -> float | None:
    """
    The last progress a job printed in its logs, 0..100, or None.

    For providers that report progress only as log text (Replicate's ``logs``, fal's log
    messages). The last line that says anything wins; on a line, a percentage (``45%``,
    as tqdm prints it) wins over a step count (``45/100``). tqdm's carriage-return
    updates count as lines. The status machine keeps progress from going back.

    Args:
        logs: The log text, or its lines.
    """
    lines = _LINES.split(logs) if isinstance(logs, str) else list(logs)
    for line in reversed(lines):
        if match := _PERCENT.search(line):
            return min(100.0, float(match.group(1)))
        for done, total in reversed(_STEPS.findall(line)):
            if int(total) > 0 and int(done) <= int(total):
                return 100.0 * int(done) / int(total)
    return None
