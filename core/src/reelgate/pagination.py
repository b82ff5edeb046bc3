"""
Cursor pagination, as every list in reelgate does it.

A page holds at most ``limit`` jobs; the cursor of the next page is the id of the last
job on this one (``after``); ``has_more`` is exact because one more row than the page
holds is always asked for (`probe`). `iter_pages` follows cursors to the end.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, Awaitable, Callable, Sequence
from typing import TypeVar

from .model import VideoPage

__all__ = ["iter_pages", "probe"]

T = TypeVar("T")


def probe(rows: Sequence[T], limit: int) -> tuple[list[T], bool]:
    """
    Split the answer to a ``limit + 1`` query into the page and whether more follow.

    Args:
        rows: Up to ``limit + 1`` rows, in page order.
        limit: The page size asked for.

    Returns:
        The first `limit` rows, and whether there was one more.
    """
    return list(rows[:limit]), len(rows) > limit


async def iter_pages(
    fetch: Callable[[str | None], Awaitable[VideoPage]],
) -> AsyncGenerator[VideoPage]:
    """
    Follow cursors: fetch the first page, then each next one, until ``has_more`` is false.

    Args:
        fetch: Returns the page after the given cursor (None: the first page).
    """
    after: str | None = None
    while True:
        page = await fetch(after)
        yield page
        if not page.has_more or page.last_id is None:
            return
        after = page.last_id
