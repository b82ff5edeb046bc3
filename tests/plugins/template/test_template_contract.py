"""The template plugin passes the provider contract against its emulator."""

from __future__ import annotations

from typing import Any

import reelgate_template
from reelgate.testing import ProviderContract
from reelgate_template.emulator import create_app


class TestTemplateContract(ProviderContract):
    """The template, in-process and over loopback HTTP."""

    provider_type = "template"
    model = "template-1"

    def plugin(self) -> object:
        return reelgate_template

    def emulator(self) -> Any:
        return create_app(job_seconds=0.1)

    def download_path_pattern(self) -> str | None:
        """Videos are served from signed URLs under ``/files/`` (the job is read first)."""
        return r"^/files/"
