"""The alibaba plugin passes the provider contract against its emulator."""

from __future__ import annotations

from typing import Any

import reelgate_alibaba
from reelgate.testing import ProviderContract
from reelgate_alibaba.emulator import create_app


class TestAlibabaContract(ProviderContract):
    """The alibaba provider (Wan on DashScope), in-process and over loopback HTTP."""

    provider_type = "alibaba"
    model = "wan2.5-t2v-preview"

    def plugin(self) -> object:
        return reelgate_alibaba

    def emulator(self) -> Any:
        return create_app(job_seconds=0.1)

    def settings(self, base_url: str) -> dict[str, Any]:
        return {"base_url": f"{base_url}/api/v1"}

    def unknown_native_id(self) -> str:
        return "00000000-0000-4000-8000-000000000000"

    def create_path_pattern(self) -> str | None:
        return r"/video-synthesis$"

    def retrieve_request(self) -> tuple[str, str | None]:
        return "GET", r"^/api/v1/tasks/[^/]+$"

    def download_path_pattern(self) -> str | None:
        return r"\.mp4$"
