"""
The provider contract as the type checker sees it: ``nox -s typing`` runs mypy on this file.

Each assignment to a ``Supports*`` protocol is checked by mypy strict; each line marked
``type: ignore[...]`` must stay an error, or mypy (``warn_unused_ignores``) fails the
session. The tests themselves only run the examples.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import pytest

import reelgate
from reelgate.provider import (
    Operation,
    SupportsCancel,
    SupportsCreate,
    SupportsDelete,
    SupportsDownload,
    SupportsRetrieve,
)


class TypedProvider:
    """A provider written against the protocols."""

    async def create(self, request: reelgate.CreateVideo, *, call: reelgate.Call) -> reelgate.Video:
        """Start a job, keeping a state for later calls."""
        return reelgate.Video(
            id="job-1", status=reelgate.VideoStatus.QUEUED, provider_state={"app": "a/b"}
        )

    async def retrieve(self, video_id: str, *, call: reelgate.Call) -> reelgate.Video:
        """Read a job with the state its create kept."""
        app = call.require_state(video_id, "app")["app"]
        return reelgate.Video(id=video_id, status="completed", provider_metadata={"app": app})

    @asynccontextmanager
    async def download(
        self, video_id: str, variant: reelgate.Variant, *, call: reelgate.Call
    ) -> AsyncIterator[reelgate.DownloadStream]:
        """An inline asset."""
        yield reelgate.DownloadStream.from_bytes(b"\0\0\0\x18ftypmp42", "video/mp4")

    async def cancel(self, video_id: str, *, call: reelgate.Call) -> None:
        """Stop a running job."""


class WrongProvider:
    """A provider whose signatures break the contract."""

    async def create(self, request: str, *, call: reelgate.Call) -> reelgate.Video:
        """Takes a string, not a CreateVideo."""
        raise NotImplementedError

    async def delete(self, video_id: str, *, call: reelgate.Call) -> bool:
        """Answers a bool, not Deleted."""
        raise NotImplementedError


creator: SupportsCreate = TypedProvider()
reader: SupportsRetrieve = TypedProvider()
downloader: SupportsDownload = TypedProvider()
canceller: SupportsCancel = TypedProvider()
wrong_creator: SupportsCreate = WrongProvider()  # type: ignore[assignment]
wrong_deleter: SupportsDelete = WrongProvider()  # type: ignore[assignment]
not_a_deleter: SupportsDelete = TypedProvider()  # type: ignore[assignment]

deleted = reelgate.Deleted(id="a:b", upstream="cancelled")
bad_deleted = reelgate.Deleted(id="a:b", upstream="vanished")  # type: ignore[arg-type]
call = reelgate.Call(instance="acme", operation=Operation.RETRIEVE)
request_type: str = call.request_type


@pytest.mark.anyio
@pytest.mark.parametrize("anyio_backend", ["asyncio", "trio"])
async def test_the_typed_provider_runs(anyio_backend: str) -> None:
    """The provider the type checker accepts also works: state in, state out."""
    made = await creator.create(reelgate.CreateVideo(model="acme/m", prompt="p"), call=call)
    state = made.provider_state
    assert state is not None
    read = await reader.retrieve(
        "job-1", call=reelgate.Call(instance="acme", operation="retrieve", job_state=state)
    )
    assert read.provider_metadata == {"app": "a/b"}
    async with downloader.download("job-1", reelgate.Variant.VIDEO, call=call) as stream:
        assert (await stream.read())[4:8] == b"ftyp"
