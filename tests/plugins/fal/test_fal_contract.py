"""The fal plugin passes the provider contract against its emulator."""

from __future__ import annotations

from typing import Any

import pytest

import reelgate_fal
from reelgate.errors import InvalidRequestError, NotFoundError
from reelgate.ids import VideoId
from reelgate.testing import Harness, ProviderContract
from reelgate_fal.emulator import create_app


class TestFalContract(ProviderContract):
    """fal, in-process and over loopback HTTP."""

    provider_type = "fal"
    model = "fal-ai/kling-video/v2.1/master/text-to-video"

    def plugin(self) -> object:
        return reelgate_fal

    def emulator(self) -> Any:
        return create_app(job_seconds=0.5)

    def retrieve_request(self) -> tuple[str, str | None]:
        """A poll reads ``GET /{app}/requests/{id}/status``."""
        return "GET", r"/requests/[^/]+/status$"

    def create_path_pattern(self) -> str | None:
        """Requests are queued with ``POST /{model path}``."""
        return r"^/fal-ai/kling-video/v2\.1/master/text-to-video$"

    def download_path_pattern(self) -> str | None:
        """Result files are served from the CDN host under ``/files/``."""
        return r"^/files/"

    @ProviderContract.override
    async def test_unknown_job_is_not_found(self, harness: Harness) -> None:
        """
        An id the gateway never saw cannot be reached: fal needs the app path its create kept.

        The contract's version expects a 404 from upstream for an id the gateway never
        saw; fal's status URL needs the job's app (``provider_state``), so reelgate
        refuses before asking. A known job that fal no longer has is still a 404.
        """
        missing = VideoId.build("00000000-0000-4000-8000-000000000000", harness.instance)
        with pytest.raises(InvalidRequestError) as caught:
            await harness.gateway.retrieve(missing)
        assert caught.value.param == "video_id"
        assert "app" in caught.value.message
        # A job the gateway knows but fal has forgotten is the contract's 404.
        video = await harness.gateway.create(harness.request())
        harness.require_faults().add(self._read_fault(status=404, times=5))
        with pytest.raises(NotFoundError) as gone:
            await harness.gateway.retrieve(video.id)
        assert gone.value.status_code == 404
