"""Fixtures: servers over real HTTP on 127.0.0.1, with the simulator and the relay."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import ExitStack
from typing import Any

import pytest
from server_relay import RelayState, relay_instance, relay_upstream
from server_support import Serve, serve_app, sim_gateway

from reelgate.emulation import serve
from reelgate.server import create_app


@pytest.fixture(name="relay_state")
def _relay_state() -> RelayState:
    return RelayState()


@pytest.fixture(name="relay_url")
def _relay_url(relay_state: RelayState) -> Iterator[str]:
    with serve(relay_upstream(relay_state)) as url:
        yield url


@pytest.fixture(name="make_server")
def _make_server(relay_url: str) -> Iterator[Serve]:
    """Start a server (simulator and relay) with the given `create_app` options."""
    with ExitStack() as stack:

        def start(**options: Any) -> str:
            gateway = sim_gateway(instances={"relay": relay_instance(relay_url)})
            options.setdefault("keys", {})
            app = create_app(gateway, close_gateway=True, **options)
            return stack.enter_context(serve_app(app))

        yield start


@pytest.fixture(name="shared_server", scope="module")
def _shared_server() -> Iterator[str]:
    """One server (simulator and relay, no keys) for a module's tests that share it."""
    with serve(relay_upstream(RelayState())) as relay_url:
        gateway = sim_gateway(instances={"relay": relay_instance(relay_url)})
        with serve_app(create_app(gateway, keys={}, close_gateway=True)) as url:
            yield url


@pytest.fixture(name="server")
def _server(make_server: Serve) -> str:
    """A server without keys."""
    return make_server()
