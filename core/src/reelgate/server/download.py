"""
Streaming a finished video to the client in constant memory.

The upstream stream is opened before the response starts, so that "not found", "not
ready" and upstream failures still answer with a JSON error. Then chunks go out as they
arrive, each send waiting for the client's socket to drain (the server's flow control),
while a second task listens for the client going away and cancels the transfer, which
closes the upstream connection.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncGenerator, Callable
from contextlib import AbstractAsyncContextManager, AsyncExitStack, aclosing
from typing import cast

import anyio
from starlette.responses import Response
from starlette.types import Receive, Scope, Send

from ..errors import ReelgateError
from ..stream import DownloadStream

__all__ = ["DownloadResponse"]

log = logging.getLogger("reelgate.server")


class DownloadResponse(Response):
    """
    A response that relays an already opened `DownloadStream`.

    Args:
        stack: Holds the opened download; closed when the response ends, however it ends.
        stream: The stream to relay.
        filename: The name offered in Content-Disposition.
    """

    def __init__(self, stack: AsyncExitStack, stream: DownloadStream, filename: str) -> None:
        self.stack = stack
        self.stream = stream
        self.status_code = 200
        self.background = None
        headers = {
            "content-type": stream.content_type,
            "content-disposition": f'attachment; filename="{filename}"',
        }
        if stream.content_length is not None:
            headers["content-length"] = str(stream.content_length)
        self.init_headers(headers)

    @staticmethod
    async def open(
        opening: AbstractAsyncContextManager[DownloadStream], filename: Callable[[str], str]
    ) -> DownloadResponse:
        """
        Open the download; errors raised here are answered as JSON errors.

        Args:
            opening: The download, not yet entered.
            filename: The file name to offer, from the content type.
        """
        stack = AsyncExitStack()
        try:
            stream = await stack.enter_async_context(opening)
        except BaseException:
            await stack.aclose()
            raise
        return DownloadResponse(stack, stream, filename(stream.content_type))

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Send the stream; stop (closing the upstream) when the client disconnects."""
        try:
            async with anyio.create_task_group() as tg:
                tg.start_soon(self._watch_disconnect, receive, tg.cancel_scope)
                await self._relay(send)
                tg.cancel_scope.cancel()
        finally:
            with anyio.CancelScope(shield=True):
                await self.stack.aclose()

    async def _relay(self, send: Send) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": self.raw_headers})
        try:
            async with aclosing(cast("AsyncGenerator[bytes]", aiter(self.stream))) as chunks:
                async for chunk in chunks:
                    await send({"type": "http.response.body", "body": chunk, "more_body": True})
        except ReelgateError as e:
            # Headers are gone: the only honest signal left is to cut the connection short.
            log.warning("download stopped: %s", e.message)
            raise
        except OSError:
            return  # the client went away while we were writing
        await send({"type": "http.response.body", "body": b"", "more_body": False})

    @staticmethod
    async def _watch_disconnect(receive: Receive, scope: anyio.CancelScope) -> None:
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                scope.cancel()
                return
