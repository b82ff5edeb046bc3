"""
`DownloadStream`: a finished asset, streamed in chunks and never held whole.

Both the HTTP layer (which makes streams from upstream responses) and providers (which
may make them from bytes they hold) build it; the gateway hands it to callers.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Self

import attrs

from .errors import ProviderError, ReelgateError

__all__ = ["DownloadStream"]


@attrs.define
class DownloadStream:
    """
    A finished asset, streamed: iterate it for chunks of bytes.

    The whole asset is never held in memory. When the provider announced a length and the
    stream ends short of it, iteration raises `ProviderError`; so does any failure of the
    provider's that is not a reelgate error.

    Attributes:
        content_type: The asset's media type, e.g. ``video/mp4``.
        content_length: Its size in bytes, when the provider said.
        provider: The provider instance, for errors (the gateway fills it in).
    """

    content_type: str
    content_length: int | None
    _chunks: AsyncIterator[bytes] = attrs.field(alias="chunks", repr=False)
    provider: str | None = attrs.field(default=None, kw_only=True)
    _received: int = attrs.field(default=0, init=False, repr=False)
    _done: bool = attrs.field(default=False, init=False, repr=False)

    @property
    def received(self) -> int:
        """Bytes delivered so far."""
        return self._received

    def __aiter__(self) -> Self:
        return self

    async def __anext__(self) -> bytes:
        while not self._done:
            try:
                chunk = await anext(self._chunks)
            except StopAsyncIteration:
                self._done = True
                if self.content_length is not None and self._received < self.content_length:
                    raise self._error(
                        f"download cut off after {self._received} of {self.content_length} bytes"
                    ) from None
                break
            except ReelgateError as e:
                if e.provider is None:
                    e.provider = self.provider
                raise
            except Exception as e:
                raise self._error(f"download failed: {type(e).__name__}") from e
            if chunk:
                self._received += len(chunk)
                return chunk
        raise StopAsyncIteration

    def _error(self, message: str) -> ProviderError:
        return ProviderError(message, provider=self.provider, request_type="video_download")

    async def aclose(self) -> None:
        """Stop the stream and release what the provider holds for it (done on exit)."""
        self._done = True
        closer = getattr(self._chunks, "aclose", None)
        if closer is not None:
            await closer()

    async def read(self) -> bytes:
        """Read the whole asset into memory (for small assets such as thumbnails)."""
        return b"".join([chunk async for chunk in self])

    @classmethod
    def from_bytes(cls, data: bytes, content_type: str, *, chunk_size: int = 64 * 1024) -> Self:
        """A stream of bytes already in memory (an inline asset, a test double)."""

        async def chunks() -> AsyncIterator[bytes]:
            for start in range(0, len(data), chunk_size):
                yield data[start : start + chunk_size]

        return cls(content_type=content_type, content_length=len(data), chunks=chunks())
