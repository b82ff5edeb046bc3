"""Both provider types pass the provider contract against the emulator, in-process and over HTTP."""

from __future__ import annotations

from typing import Any

import pytest

import reelgate_gemini
from reelgate import ProviderError
from reelgate.emulation import Fault
from reelgate.testing import Harness, ProviderContract
from reelgate_gemini.emulator import create_app


class TestGeminiContract(ProviderContract):
    """The ``gemini`` type: the Gemini API."""

    provider_type = "gemini"
    model = "veo-3.1-generate-preview"

    def plugin(self) -> object:
        return reelgate_gemini

    def emulator(self) -> Any:
        return create_app(job_seconds=0.1)

    def unknown_native_id(self) -> str:
        return "models/veo-3.1-generate-preview/operations/doesnotexist00"

    def download_path_pattern(self) -> str | None:
        return r"^/blob/"


class TestVertexContract(ProviderContract):
    """
    The ``vertex`` type, with API keys.

    With keys the contract sees which key each request carries; the OAuth2 path is tested
    in test_vertex.py.
    """

    provider_type = "vertex"
    model = "veo-3.1-generate-001"

    def plugin(self) -> object:
        return reelgate_gemini

    def emulator(self) -> Any:
        return create_app(job_seconds=0.1)

    def settings(self, base_url: str) -> dict[str, Any]:
        return {"base_url": base_url, "project": "reelgate-contract", "location": "us-central1"}

    def unknown_native_id(self) -> str:
        return (
            "projects/reelgate-contract/locations/us-central1/publishers/google/models/"
            "veo-3.1-generate-001/operations/00000000-0000-0000-0000-000000000000"
        )

    def retrieve_request(self) -> tuple[str, str | None]:
        return "POST", r":fetchPredictOperation$"

    def create_path_pattern(self) -> str | None:
        return r":predictLongRunning$"

    @ProviderContract.override
    async def test_truncated_download_is_an_error(self, harness: Harness) -> None:
        """
        A cut-off operation fails the download as it opens: a ProviderError.

        Vertex AI returns the video inline in the operation, so there is no separate
        download request to cut off: the operation that carries it is cut instead, and
        the download must not open on what arrived.
        """
        video = await self._completed(harness)
        faults = harness.require_faults()
        faults.add(Fault(truncate=100, method="POST", path=r":fetchPredictOperation$", times=10))

        async def download() -> None:
            async with harness.gateway.download(video.id):
                pytest.fail("the download opened on a cut-off operation")

        # In-process the cut body arrives as short JSON; over a socket, as a short read.
        with pytest.raises(ProviderError, match=r"malformed JSON|without sending complete"):
            await download()

    def asset_host(self, base_url: str) -> str | None:
        """Vertex AI returns the video inline in the operation: there is no asset host."""
        return None
