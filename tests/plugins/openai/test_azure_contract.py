"""The azure type passes the provider contract against the emulator's azure mode."""

from __future__ import annotations

from typing import Any

import reelgate_openai
from reelgate.testing import ProviderContract
from reelgate_openai.emulator import create_app


class TestAzureContract(ProviderContract):
    """The azure provider (key in ``api-key``, an ``api-version``), in-process and over loopback."""

    provider_type = "azure"
    model = "sora-2"

    def plugin(self) -> object:
        return reelgate_openai

    def emulator(self) -> Any:
        return create_app(job_seconds=0.1, mode="azure", api_versions={"preview"})

    def settings(self, base_url: str) -> dict[str, Any]:
        return {"endpoint": base_url, "api_version": "preview"}

    def unknown_native_id(self) -> str:
        return "video_" + "0" * 48

    def download_path_pattern(self) -> str | None:
        return r"/content$"

    def asset_host(self, base_url: str) -> str | None:
        """Azure serves a video from ``/videos/{id}/content``, on the API host, with the key."""
        return None
