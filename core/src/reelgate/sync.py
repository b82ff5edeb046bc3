"""
`SyncGateway`: the `Gateway` for code that does not use async, its methods blocking.

The async gateway runs on an event loop in a background thread (an anyio blocking
portal); every method hands its call to that loop and waits.
"""

from __future__ import annotations

import os
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from types import TracebackType
from typing import Any, Self, TypeVar

import anyio
import anyio.from_thread

from .gateway import Gateway
from .model import CreateVideo, Deleted, Variant, Video, VideoPage
from .stream import DownloadStream

__all__ = ["SyncDownloadStream", "SyncGateway"]

T = TypeVar("T")


class SyncGateway:
    """
    `Gateway` for code that does not use async: the same methods, blocking.

    The async gateway runs on an event loop in a background thread.
    """

    def __init__(self, factory: Callable[[], Gateway]) -> None:
        self._portal_cm = anyio.from_thread.start_blocking_portal()
        self._portal = self._portal_cm.__enter__()
        self._closed = False
        try:
            self.gateway = self._portal.call(_build_in_loop, factory)
        except BaseException:
            self._portal_cm.__exit__(None, None, None)
            raise

    @classmethod
    def from_config(cls, *args: Any, **kwargs: Any) -> SyncGateway:
        """Like `Gateway.from_config`, blocking."""
        return cls(lambda: Gateway.from_config(*args, **kwargs))

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        """Close the gateway and stop its event loop."""
        if self._closed:
            return
        self._closed = True
        try:
            self._portal.call(self.gateway.aclose)
        finally:
            self._portal_cm.__exit__(None, None, None)

    def _run(self, fn: Callable[..., Awaitable[T]], *args: Any, **kwargs: Any) -> T:
        return self._portal.call(lambda: fn(*args, **kwargs))

    def create(self, request: CreateVideo, **kwargs: Any) -> Video:
        """Blocking `Gateway.create`."""
        return self._run(self.gateway.create, request, **kwargs)

    def retrieve(self, video_id: str, **kwargs: Any) -> Video:
        """Blocking `Gateway.retrieve`."""
        return self._run(self.gateway.retrieve, video_id, **kwargs)

    def wait(self, video_id: str, **kwargs: Any) -> Video:
        """Blocking `Gateway.wait`."""
        return self._run(self.gateway.wait, video_id, **kwargs)

    def list(self, provider: str, **kwargs: Any) -> VideoPage:
        """Blocking `Gateway.list`."""
        return self._run(self.gateway.list, provider, **kwargs)

    def iter_videos(self, provider: str, **kwargs: Any) -> Iterator[Video]:
        """Blocking `Gateway.iter_videos`."""
        iterator = self.gateway.iter_videos(provider, **kwargs)
        try:
            while True:
                try:
                    yield self._portal.call(iterator.__anext__)
                except StopAsyncIteration:
                    return
        finally:
            self._portal.call(iterator.aclose)

    @contextmanager
    def download(
        self, video_id: str, variant: str | Variant = Variant.VIDEO, **kwargs: Any
    ) -> Iterator[SyncDownloadStream]:
        """Blocking `Gateway.download`: iterate the stream for chunks."""
        with self._portal.wrap_async_context_manager(
            self.gateway.download(video_id, variant, **kwargs)
        ) as stream:
            yield SyncDownloadStream(stream, self._portal)

    def download_to(self, video_id: str, path: str | os.PathLike[str], **kwargs: Any) -> Path:
        """Blocking `Gateway.download_to`."""
        return self._run(self.gateway.download_to, video_id, path, **kwargs)

    def delete(self, video_id: str, **kwargs: Any) -> Deleted:
        """Blocking `Gateway.delete`."""
        return self._run(self.gateway.delete, video_id, **kwargs)

    def remix(self, video_id: str, prompt: str, **kwargs: Any) -> Video:
        """Blocking `Gateway.remix`."""
        return self._run(self.gateway.remix, video_id, prompt, **kwargs)


async def _build_in_loop(factory: Callable[[], Gateway]) -> Gateway:
    return factory()


class SyncDownloadStream:
    """A `DownloadStream` read from blocking code."""

    def __init__(self, stream: DownloadStream, portal: anyio.from_thread.BlockingPortal) -> None:
        self._stream = stream
        self._portal = portal
        self.content_type = stream.content_type
        self.content_length = stream.content_length

    def __iter__(self) -> Iterator[bytes]:
        iterator = aiter(self._stream)
        while True:
            try:
                yield self._portal.call(anext, iterator)
            except StopAsyncIteration:
                return
