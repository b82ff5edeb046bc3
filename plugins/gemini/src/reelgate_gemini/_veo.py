"""
What the Gemini API and Vertex AI providers share.

Both create, retrieve and download over a long-running operation, fetch https images
for a request, and check model and operation names the same way.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Mapping
from contextlib import AbstractAsyncContextManager, aclosing, asynccontextmanager
from typing import Any, ClassVar, TypeVar, cast

import anyio
import attrs

from reelgate import (
    AuthenticationError,
    Call,
    CreateVideo,
    DownloadStream,
    ImageInput,
    InvalidRequestError,
    ProviderError,
    ReelgateError,
    UnsupportedOperationError,
    Variant,
    Video,
    VideoNotReadyError,
    VideoOutput,
    VideoStatus,
    outbound,
)
from reelgate.http import Reply, Upstream, UpstreamError
from reelgate.model import MAX_IMAGE_BYTES

from ._request import Dialect, build_body
from ._wire import operation_video

__all__ = ["MAX_IMAGE_BYTES", "VeoProvider", "check_model", "segment", "versioned"]

T = TypeVar("T")

#: One path segment of a Google resource name: never ``.`` or ``..``.
segment = r"[A-Za-z0-9_-][A-Za-z0-9._-]*"
_MODEL = re.compile(segment)


def check_model(model: str | None) -> str:
    """
    The native model name, without a ``models/`` prefix.

    Raises:
        InvalidRequestError: The name cannot be part of a URL path.
    """
    name = (model or "").removeprefix("models/")
    if not _MODEL.fullmatch(name):
        raise InvalidRequestError(f"not a Veo model name: {model!r}", param="model")
    return name


def versioned(base_url: str, version: str) -> str:
    """``base_url`` with the API version appended, unless it already ends with it."""
    base, version = base_url.rstrip("/"), version.strip("/")
    return base if base.endswith(f"/{version}") else f"{base}/{version}"


def _image_host_error(reply: Reply) -> UpstreamError:
    return UpstreamError(message=f"the image's host answered HTTP {reply.status}")


def _cloud_storage(uri: str) -> UnsupportedOperationError:
    return UnsupportedOperationError(
        f"Vertex AI wrote this video to Cloud Storage ({uri}); reelgate does not read Cloud "
        f"Storage. Copy it with `gcloud storage cp {uri} .`, or create the video without "
        "storageUri to have Vertex AI return it inline.",
        code="cloud_storage_output",
    )


class VeoProvider:
    """
    Veo over a long-running operation: the part both APIs share.

    Subclasses say how to start an operation, how to poll one and how to open an output
    URL; they offer create, retrieve and download. The gateway lists jobs from its job
    index and reports delete and remix as unsupported.

    Attributes:
        upstream: Requests to the API.
        max_image_bytes: The largest image reelgate fetches for a request.
    """

    #: What the API accepts.
    dialect: ClassVar[Dialect]

    def __init__(self, upstream: Upstream, *, max_image_bytes: int = MAX_IMAGE_BYTES) -> None:
        self.upstream = upstream
        self.max_image_bytes = max_image_bytes

    def __repr__(self) -> str:
        return f"{type(self).__name__}(base_url={self.upstream.base_url!r})"

    # -- what a subclass provides ----------------------------------------------------

    async def _start(self, model: str, body: dict[str, Any], call: Call) -> Any:
        raise NotImplementedError

    async def _poll(self, name: str, call: Call) -> Any:
        raise NotImplementedError

    def _open(
        self, url: str, content_type: str, call: Call
    ) -> AbstractAsyncContextManager[DownloadStream]:
        raise NotImplementedError

    async def _guard(self, call: Call, work: Awaitable[T]) -> T:
        """Run an upstream call, turning Google's ways of saying "bad key" into a 401."""
        try:
            return await work
        except InvalidRequestError as e:
            if e.upstream and e.code in ("API_KEY_INVALID", "API_KEY_SERVICE_BLOCKED"):
                raise AuthenticationError(
                    e.message,
                    code=e.code,
                    call=call,
                    upstream=True,
                    raw_response=e.raw_response,
                ) from None
            raise

    # -- operations --------------------------------------------------------------------

    async def create(self, request: CreateVideo, *, call: Call) -> Video:
        """
        Start a job: ``predictLongRunning``, never retried once it may have been sent.

        Raises:
            InvalidRequestError: The request cannot be made on this API; nothing was sent.
            ReelgateError: The API's refusal, mapped.
        """
        model = check_model(call.model)

        async def fetch(url: str, param: str) -> ImageInput:
            return await self._fetch_image(url, param, call)

        body = await build_body(request, model=model, dialect=self.dialect, fetch_image=fetch)
        operation = await self._guard(call, self._start(model, body, call))
        name = operation.get("name") if isinstance(operation, Mapping) else None
        if not isinstance(name, str) or not name:
            raise ProviderError(
                "Google accepted the request but named no operation",
                call=call,
                ambiguous=True,
            )
        video = operation_video(operation, native_id=name)
        return attrs.evolve(
            video,
            model=video.model or model,
            prompt=request.prompt,
            seconds=request.seconds,
            size=request.size,
        )

    async def retrieve(self, video_id: str, *, call: Call) -> Video:
        """
        The job's state, read from its operation.

        Raises:
            InvalidRequestError: The id is not an operation name of this API.
            NotFoundError: No such operation.
        """
        operation = await self._guard(call, self._poll(video_id, call))
        return operation_video(operation, native_id=video_id)

    @asynccontextmanager
    async def download(
        self, video_id: str, variant: Variant, *, call: Call
    ) -> AsyncIterator[DownloadStream]:
        """
        Stream the job's first video: inline bytes, or its file URI fetched with the key.

        Raises:
            UnsupportedOperationError: A thumbnail or spritesheet was asked for (Veo makes
                neither), or the video is in Cloud Storage.
            VideoNotReadyError: The job has not completed.
        """
        if variant is not Variant.VIDEO:
            raise UnsupportedOperationError(
                f"Veo makes no {variant.value}; only the video can be downloaded", param="variant"
            )
        video = await self.retrieve(video_id, call=call)
        if video.status is not VideoStatus.COMPLETED:
            raise VideoNotReadyError.for_status(video_id, video.status.value, call=call)
        output: VideoOutput = video.videos[0]
        if output.type == "base64":
            try:
                data = base64.b64decode(output.base64 or "", validate=True)
            except (binascii.Error, ValueError):
                raise ProviderError(
                    "Google returned a video that is not valid base64", call=call
                ) from None
            yield DownloadStream.from_bytes(data, output.content_type)
            return
        url = output.url or ""
        if url.startswith("gs://"):
            raise _cloud_storage(url)
        async with self._open(url, output.content_type, call) as stream:
            yield stream

    # -- helpers -----------------------------------------------------------------------

    async def _fetch_image(self, url: str, param: str, call: Call) -> ImageInput:
        """
        Download an image for the request: public addresses only, capped, within a deadline.

        Every failure (refused address, no answer, not an image, too large) is the same
        error, so that the answers say nothing about what listens where.
        """
        cap = self.max_image_bytes
        fetcher = attrs.evolve(self.upstream, parse_error=_image_host_error, headers={})
        data = bytearray()
        try:
            with anyio.fail_after(outbound.FETCH_TIMEOUT):
                await outbound.check_fetchable(url, param)
                # A caller's URL never gets the key, even one on the API's own host.
                async with fetcher.stream(url, call=call, authenticate=False) as stream:
                    media_type = stream.content_type.partition(";")[0].strip().lower()
                    declared = stream.content_length
                    if not media_type.startswith("image/") or (declared or 0) > cap:
                        raise outbound.fetch_failed(param)
                    # Close the chunk iterator even when leaving it early (trio insists).
                    chunks = cast("AsyncGenerator[bytes, None]", aiter(stream))
                    async with aclosing(chunks):
                        async for chunk in chunks:
                            data += chunk
                            if len(data) > cap:
                                raise outbound.fetch_failed(param)
            return ImageInput.from_bytes(bytes(data))
        except (ReelgateError, TimeoutError):
            raise outbound.fetch_failed(param) from None
