"""The MiniMax plugin passes the provider contract against its emulator."""

from __future__ import annotations

from typing import Any

import reelgate_minimax
from reelgate.testing import ProviderContract
from reelgate_minimax.emulator import create_app


class TestMinimaxContract(ProviderContract):
    """MiniMax, in-process and over loopback HTTP."""

    provider_type = "minimax"
    model = "MiniMax-Hailuo-2.3"

    def plugin(self) -> object:
        return reelgate_minimax

    def emulator(self) -> Any:
        return create_app(job_seconds=0.1)

    def settings(self, base_url: str) -> dict[str, Any]:
        """MiniMax's paths live under ``/v1``."""
        return {"base_url": f"{base_url}/v1"}

    def retrieve_request(self) -> tuple[str, str | None]:
        """Tasks are read with ``GET /v1/query/video_generation``."""
        return "GET", r"^/v1/query/video_generation$"

    def create_path_pattern(self) -> str | None:
        """Every create goes to ``POST /v1/video_generation``."""
        return r"^/v1/video_generation$"

    def download_path_pattern(self) -> str | None:
        """Videos come from the CDN's ``/inference_output/`` paths."""
        return r"^/inference_output/"
