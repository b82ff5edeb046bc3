"""The openai plugin passes the provider contract against its emulator."""

from __future__ import annotations

from typing import Any

import reelgate_openai
from reelgate.testing import ProviderContract
from reelgate_openai.emulator import create_app


class TestOpenAIContract(ProviderContract):
    """The openai provider, in-process and over loopback HTTP."""

    provider_type = "openai"
    model = "sora-2"

    def plugin(self) -> object:
        return reelgate_openai

    def emulator(self) -> Any:
        return create_app(job_seconds=0.1)

    def settings(self, base_url: str) -> dict[str, Any]:
        return {"base_url": f"{base_url}/v1"}

    def unknown_native_id(self) -> str:
        return "video_" + "0" * 48

    def download_path_pattern(self) -> str | None:
        return r"/content$"

    def asset_host(self, base_url: str) -> str | None:
        """OpenAI serves a video from ``/videos/{id}/content``, on the API host, with the key."""
        return None
