"""A server for the front-door tests: the simulator and one real plugin behind its emulator."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager

from server_support import KEYS, serve_app

from reelgate import Gateway
from reelgate.config import Config, IndexConfig, InstanceConfig
from reelgate.emulation import serve
from reelgate.server import create_app

#: The provider key the plugin instance sends to its emulator.
UPSTREAM_KEY = "upstream-key-0123456789abcdef"


@contextmanager
def door_server(emulator: object, instance: str, provider_type: str) -> Iterator[str]:
    """
    A server with keys, ``sim`` (fast jobs) and `instance` on `emulator` over loopback.

    Yields:
        The server's base URL.
    """
    key_env = f"REELGATE_DOORS_{instance.upper()}_KEY"
    os.environ[key_env] = UPSTREAM_KEY
    try:
        with serve(emulator) as upstream:
            settings = {"base_url": upstream, "poll_interval": 0.05}
            if provider_type == "vertex":
                settings.update(project="reelgate-test", location="us-central1")
            config = Config(
                instances=(
                    InstanceConfig(name="sim", type="sim", settings={"duration": 0.3}),
                    InstanceConfig(
                        name=instance, type=provider_type, key_env=(key_env,), settings=settings
                    ),
                ),
                index=IndexConfig(kind="memory"),
                default_instances=False,
            )
            gateway = Gateway(config)
            assert not gateway.problems, gateway.problems
            with serve_app(create_app(gateway, keys=KEYS, close_gateway=True)) as url:
                yield url
    finally:
        os.environ.pop(key_env, None)
