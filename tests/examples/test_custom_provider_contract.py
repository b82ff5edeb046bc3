"""The in-file provider of examples/custom_provider.py passes the provider contract."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType
from typing import Any, ClassVar

import attrs

from reelgate import CreateVideo
from reelgate.testing import ProviderContract

_PATH = Path(__file__).resolve().parents[2] / "examples" / "custom_provider.py"


def _load_example() -> ModuleType:
    spec = importlib.util.spec_from_file_location("reelgate_example_custom_provider", _PATH)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


custom_provider = _load_example()


class TestFlipbookContract(ProviderContract):
    """flipbook keeps its jobs in memory, so there is no emulator and nothing to fault."""

    provider_type = "flipbook"
    model = "pages-1"
    transports: ClassVar[tuple[str, ...]] = ("asgi",)

    def plugin(self) -> object:
        return custom_provider

    def emulator(self) -> Any:
        return None

    def settings(self, base_url: str) -> dict[str, Any]:
        return {"duration": 0.3}

    def failing_request(self, request: CreateVideo) -> CreateVideo:
        return attrs.evolve(request, extra_params={"flipbook_fail": True})

    def slow_request(self, request: CreateVideo) -> CreateVideo:
        return attrs.evolve(request, extra_params={"flipbook_seconds": 60})
