"""Helpers of the server's tests: keys, a simulator gateway, and serving over loopback."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import uvicorn

from reelgate import Gateway
from reelgate.config import Config, IndexConfig, InstanceConfig
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
    """
    Run an app under uvicorn on 127.0.0.1, lifespan included.

    The lifespan closes the gateway in the server's own event loop.
    """
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    config = uvicorn.Config(app, log_level="warning", lifespan="on", access_log=False)
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            msg = "the server did not start"
            raise RuntimeError(msg)
        time.sleep(0.005)
    try:
        yield f"http://127.0.0.1:{sock.getsockname()[1]}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()
