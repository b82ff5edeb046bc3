"""
What one client may hold of the server at once.

Two kinds of limit. uvicorn's, per connection: a connection must send its request's
headers within `HEADER_TIMEOUT` seconds of opening (or of its previous answer), so idle
and slowloris connections are closed instead of held for ever; h11's cap on an incomplete
request head stays at 16 KiB. And the server's own, per key: how many creates and
downloads one key may have in flight (``[server] max_concurrent_creates`` and
``max_concurrent_downloads``); one more is a 429.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager, contextmanager
from typing import Any, TypeVar

import attrs
from uvicorn.protocols.http.h11_impl import H11Protocol

from ..errors import RateLimitError

__all__ = ["HEADER_TIMEOUT", "HeaderTimeoutH11Protocol", "KeyLimits", "uvicorn_limits"]

#: Seconds a connection has to send a whole request head.
HEADER_TIMEOUT = 10.0

T = TypeVar("T")


class HeaderTimeoutH11Protocol(H11Protocol):
    """
    uvicorn's h11 protocol, closing connections that do not send a request head in time.

    uvicorn times out idle keep-alive connections only after a first answer; a
    connection that never completes its first request head would stay open for ever.
    """

    header_timeout = HEADER_TIMEOUT
    _head_deadline: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]  # uvicorn narrows the type too
        """Start the clock for the first request head."""
        super().connection_made(transport)
        self._arm()

    def on_response_complete(self) -> None:
        """Start the clock for the next request head."""
        super().on_response_complete()
        self._arm()

    def connection_lost(self, exc: Exception | None) -> None:
        """Stop the clock."""
        if self._head_deadline is not None:
            self._head_deadline.cancel()
        super().connection_lost(exc)

    def _arm(self) -> None:
        if self._head_deadline is not None:
            self._head_deadline.cancel()
        self._head_deadline = self.loop.call_later(self.header_timeout, self._expire)

    def _expire(self) -> None:
        self._head_deadline = None
        cycle: Any = self.cycle  # None until a first request head arrives
        waiting = cycle is None or cycle.response_complete
        if waiting and not self.transport.is_closing():
            self.transport.close()  # quietly: one log line per slow client would be a flood


def uvicorn_limits(header_timeout: float = HEADER_TIMEOUT) -> dict[str, Any]:
    """The uvicorn settings ``reelgate serve`` runs with."""
    protocol = type(
        "HeaderTimeoutH11Protocol", (HeaderTimeoutH11Protocol,), {"header_timeout": header_timeout}
    )
    return {
        "http": protocol,
        "timeout_keep_alive": 5,
        "h11_max_incomplete_event_size": 16 * 1024,
        "backlog": 2048,
        "timeout_graceful_shutdown": 10,
    }


@attrs.define
class KeyLimits:
    """
    Per key, how many creates and downloads may be in flight at once.

    Args:
        creates: Creates one key may have in flight.
        downloads: Downloads one key may stream at once.
    """

    creates: int = 16
    downloads: int = 8
    _held: dict[tuple[str, str | None], int] = attrs.field(factory=dict, init=False)

    @contextmanager
    def hold(self, kind: str, owner: str | None) -> Iterator[None]:
        """
        Hold one of `owner`'s `kind` slots (``create`` or ``download``) while inside.

        Raises:
            RateLimitError: The key already holds all its slots of that kind.
        """
        cap = self.creates if kind == "create" else self.downloads
        slot = (kind, owner)
        held = self._held.get(slot, 0)
        if held >= cap:
            raise RateLimitError(
                f"too many {kind}s in flight for this key (at most {cap} at once); "
                "try again when one finishes",
                code="too_many_concurrent_requests",
                retry_after=1,
            )
        self._held[slot] = held + 1
        try:
            yield
        finally:
            if (left := self._held[slot] - 1) > 0:
                self._held[slot] = left
            else:
                del self._held[slot]

    @asynccontextmanager
    async def holding(
        self, kind: str, owner: str | None, inner: AbstractAsyncContextManager[T]
    ) -> AsyncIterator[T]:
        """`inner`, entered and exited while one of `owner`'s `kind` slots is held."""
        with self.hold(kind, owner):
            async with inner as value:
                yield value
