"""The xai plugin passes the provider contract against its emulator."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

import reelgate_xai
from reelgate.testing import ProviderContract
from reelgate_xai.emulator import create_app


class TestXAIContract(ProviderContract):
    """The xai provider, in-process and over loopback HTTP."""

    provider_type = "xai"
    model = "grok-imagine-video"

    def plugin(self) -> object:
        return reelgate_xai

    def emulator(self) -> Any:
        return create_app(job_seconds=0.1)

    def settings(self, base_url: str) -> dict[str, Any]:
        return {"base_url": f"{base_url}/v1"}

    def unknown_native_id(self) -> str:
        return "00000000-0000-4000-8000-000000000000"

    def create_path_pattern(self) -> str | None:
        return r"/videos/generations$"

    def retrieve_request(self) -> tuple[str, str | None]:
        return "GET", r"^/v1/videos/[^/]+$"

    def download_path_pattern(self) -> str | None:
        return r"\.mp4$"

    def asset_host(self, base_url: str) -> str | None:
        """The emulator's bucket is ``vidgen.<host>`` (on loopback, the other loopback name)."""
        host = urlsplit(base_url).hostname or ""
        return {"127.0.0.1": "localhost", "localhost": "127.0.0.1"}.get(host, f"vidgen.{host}")
