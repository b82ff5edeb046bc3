"""Helpers of the server's tests: keys, a simulator gateway, and serving over loopback."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from reelgate import Gateway
from reelgate.config import Config, IndexConfig, InstanceConfig
from reelgate.emulation import serve
from reelgate.gateway import ProviderInstance

KEY_A = "sk-server-key-AAAA-0123456789"
KEY_B = "sk-server-key-BBBB-9876543210"
KEYS = {"TEAM_A_KEY": KEY_A, "TEAM_B_KEY": KEY_B}

#: A create body that completes at once on the simulator.
SIM_NOW = {"model": "sim/sim-1", "prompt": "a paper boat", "sim_duration": 0}

Serve = Callable[..., str]


def sim_gateway(*, instances: dict[str, ProviderInstance] | None = None) -> Gateway:
    """A gateway with only the simulator configured (fast jobs) and a memory index."""
    config = Config(
        instances=(InstanceConfig(name="sim", type="sim", settings={"duration": 0.3}),),
        index=IndexConfig(kind="memory"),
        default_instances=False,
    )
    return Gateway(config, instances=instances)


@contextmanager
def serve_app(app: Any) -> Iterator[str]:
    """Run an app under uvicorn on 127.0.0.1, lifespan included (it closes the gateway)."""
    with serve(app, lifespan=True) as url:
        yield url
