"""The Luma plugin passes the provider contract against its emulator."""

from __future__ import annotations

from typing import Any

import reelgate_luma
from reelgate.testing import ProviderContract
from reelgate_luma.emulator import create_app


class TestLumaContract(ProviderContract):
    """Luma, in-process and over loopback HTTP."""

    provider_type = "luma"
    model = "ray-2"

    def plugin(self) -> object:
        return reelgate_luma

    def emulator(self) -> Any:
        return create_app(job_seconds=0.1)

    def retrieve_request(self) -> tuple[str, str | None]:
        """Generations are read with ``GET /generations/{id}``."""
        return "GET", r"^/generations/[^/]+$"

    def create_path_pattern(self) -> str | None:
        """Creates go to ``POST /generations/video``."""
        return r"^/generations/video$"

    def download_path_pattern(self) -> str | None:
        """Assets are served by the CDN under ``/cdn/``."""
        return r"^/cdn/"

    def unknown_native_id(self) -> str:
        """Luma's ids are UUIDs."""
        return "00000000-0000-4000-8000-000000000000"
