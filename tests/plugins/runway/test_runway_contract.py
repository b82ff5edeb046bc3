"""The Runway plugin passes the provider contract against its emulator."""

from __future__ import annotations

from typing import Any

import reelgate_runway
from reelgate.testing import ProviderContract
from reelgate_runway.emulator import create_app


class TestRunwayContract(ProviderContract):
    """Runway, in-process and over loopback HTTP."""

    provider_type = "runway"
    model = "gen4.5"

    def plugin(self) -> object:
        return reelgate_runway

    def emulator(self) -> Any:
        return create_app(job_seconds=0.1)

    def retrieve_request(self) -> tuple[str, str | None]:
        """Tasks are read with ``GET /v1/tasks/{id}`` (downloads GET other paths)."""
        return "GET", r"^/v1/tasks/"

    def create_path_pattern(self) -> str | None:
        """Creates go to one of the three ``*_to_video`` endpoints."""
        return r"^/v1/(text|image|video)_to_video$"

    def download_path_pattern(self) -> str | None:
        """Outputs are served from signed URLs under ``/_files/``."""
        return r"^/_files/"
