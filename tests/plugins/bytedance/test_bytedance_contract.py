"""The ByteDance (Seedance on Ark) plugin passes the provider contract against its emulator."""

from __future__ import annotations

from typing import Any

import reelgate_bytedance
from reelgate.testing import ProviderContract
from reelgate_bytedance.emulator import create_app


class TestBytedanceContract(ProviderContract):
    """Seedance on Ark, in-process and over loopback HTTP."""

    provider_type = "bytedance"
    model = "seedance-1-0-pro-250528"

    def plugin(self) -> object:
        return reelgate_bytedance

    def emulator(self) -> Any:
        return create_app(job_seconds=0.1)

    def settings(self, base_url: str) -> dict[str, Any]:
        """Ark's paths live under ``/api/v3``."""
        return {"base_url": f"{base_url}/api/v3"}

    def retrieve_request(self) -> tuple[str, str | None]:
        """A task is read with ``GET /api/v3/contents/generations/tasks/{id}``."""
        return "GET", r"^/api/v3/contents/generations/tasks/[^/]+$"

    def create_path_pattern(self) -> str | None:
        """Every create goes to ``POST /api/v3/contents/generations/tasks``."""
        return r"^/api/v3/contents/generations/tasks$"

    def download_path_pattern(self) -> str | None:
        """Videos come from the bucket's ``/ark-content/`` paths."""
        return r"^/ark-content/"

    def unknown_native_id(self) -> str:
        """Ark's ids look like ``cgt-20250101000000-abcde``."""
        return "cgt-20250101000000-zzzzz"
