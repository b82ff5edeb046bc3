"""The Replicate plugin passes the provider contract against its emulator."""

from __future__ import annotations

from typing import Any

import reelgate_replicate
from reelgate.testing import ProviderContract
from reelgate_replicate.emulator import create_app


class TestReplicateContract(ProviderContract):
    """Replicate, in-process and over loopback HTTP, with three predictions to a list page."""

    provider_type = "replicate"
    model = "google/veo-3"

    def plugin(self) -> object:
        return reelgate_replicate

    def emulator(self) -> Any:
        return create_app(job_seconds=0.1, page_size=3)

    def unknown_native_id(self) -> str:
        return "0000000000000000000000000a"

    def retrieve_request(self) -> tuple[str, str | None]:
        """Predictions are read with ``GET /v1/predictions/{id}``."""
        return "GET", r"^/v1/predictions/[^/]+$"

    def create_path_pattern(self) -> str | None:
        """Official models are created under ``/v1/models/{owner}/{name}/predictions``."""
        return r"^/v1/models/[^/]+/[^/]+/predictions$"

    def download_path_pattern(self) -> str | None:
        """Outputs are files on the delivery host."""
        return r"^/xezq/"
