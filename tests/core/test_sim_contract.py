"""The built-in simulator passes the provider contract."""

from __future__ import annotations

from typing import Any, ClassVar

import attrs

import reelgate.sim
from reelgate import CreateVideo
from reelgate.testing import ProviderContract


class TestSimContract(ProviderContract):
    """The simulator, through the same kit third-party plugins use."""

    provider_type = "sim"
    model = "sim-1"
    transports: ClassVar[tuple[str, ...]] = ("asgi",)

    def plugin(self) -> object:
        return reelgate.sim

    def emulator(self) -> Any:
        return None

    def settings(self, base_url: str) -> dict[str, Any]:
        return {"duration": 0.3}

    def failing_request(self, request: CreateVideo) -> CreateVideo:
        return attrs.evolve(request, extra_params={"sim_outcome": "failed"})

    def slow_request(self, request: CreateVideo) -> CreateVideo:
        return attrs.evolve(request, extra_params={"sim_duration": 60})

    def unknown_native_id(self) -> str:
        return "sim_0_0_c_0_000000_0000"
