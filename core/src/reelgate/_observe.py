"""
What the upstream calls of one operation took and answered, for the server's report.

`reelgate.http` records each response into the `UpstreamLog` of the innermost
`observe_upstream` block, if any; both names are re-exported from there.
"""

from __future__ import annotations

import json
from collections.abc import Collection, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

import attrs

from ._redact import Secret, scrub_json

__all__ = ["UpstreamLog", "current_log", "observe_upstream"]


@attrs.define
class UpstreamLog:
    """
    What upstream calls made inside `observe_upstream` took and answered.

    Attributes:
        latency: Seconds spent waiting for upstream responses.
        raw_responses: Their JSON bodies, secrets scrubbed (only when asked for).
    """

    keep_raw: bool = False
    latency: float = 0.0
    raw_responses: list[Any] = attrs.field(factory=list)

    def record(
        self, seconds: float, content_type: str, content: bytes, secrets: Collection[Secret | str]
    ) -> None:
        """Add one upstream response: its wait, and its body when it is JSON and asked for."""
        self.latency += seconds
        if self.keep_raw and "json" in content_type:
            try:
                self.raw_responses.append(scrub_json(json.loads(content), secrets))
            except ValueError:
                self.raw_responses.append(None)


_log: ContextVar[UpstreamLog | None] = ContextVar("reelgate_upstream_log", default=None)


def current_log() -> UpstreamLog | None:
    """The log of the innermost `observe_upstream` block, None outside any."""
    return _log.get()


@contextmanager
def observe_upstream(*, keep_raw: bool = False) -> Iterator[UpstreamLog]:
    """
    Measure the upstream calls made inside the block, and keep their bodies if asked.

    The server reports them as ``extra_fields.latency`` and ``raw_response``.
    """
    log = UpstreamLog(keep_raw=keep_raw)
    token = _log.set(log)
    try:
        yield log
    finally:
        _log.reset(token)
