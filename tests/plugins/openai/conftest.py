"""Fixtures for the openai plugin's tests: images, and gateways wired to emulators."""

from __future__ import annotations

import struct
import zlib
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest

import reelgate_openai
from reelgate import Gateway
from reelgate.config import Config, InstanceConfig
from reelgate.http import emulator_transport, make_client
from reelgate.plugins import Plugins
from reelgate.store import MemoryJobIndex

KEY = "sk-openai-test-0123456789abcdef"
KEY_ENV = "REELGATE_OPENAI_TEST_KEY"


def png(width: int, height: int) -> bytes:
    """A black RGB PNG of the given size (small: it compresses to almost nothing)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (
            struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
        )

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    rows = zlib.compress(b"".join(b"\x00" + bytes(width * 3) for _ in range(height)))
    return (
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", rows) + chunk(b"IEND", b"")
    )


@pytest.fixture(name="make_png")
def _make_png() -> Callable[[int, int], bytes]:
    """Make PNG images of a given size."""
    return png


@pytest.fixture(name="api_key")
def _api_key() -> str:
    """The key the ``sora`` instance of `gateway_for` sends."""
    return KEY


@pytest.fixture(name="anyio_backend", params=["asyncio", "trio"])
def _anyio_backend(request: pytest.FixtureRequest) -> str:
    """Every async test runs under asyncio and trio."""
    return str(request.param)


GatewayFactory = Callable[..., Gateway]


@pytest.fixture(name="gateway_for")
async def _gateway_for(monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[GatewayFactory]:
    """Build gateways with one ``openai`` instance (``sora``) on an in-process emulator."""
    monkeypatch.setenv(KEY_ENV, KEY)
    opened: list[Any] = []

    def build(app: Any, *, instance: str = "sora", **settings: Any) -> Gateway:
        client = make_client(transport=emulator_transport(app))
        plugins = Plugins()
        plugins.register(reelgate_openai, name="openai")
        merged = {"base_url": "http://emulator.test/v1", "poll_interval": 0.02, **settings}
        merged.setdefault(
            "retry", {"attempts": 3, "wait_initial": 0.01, "wait_max": 0.02, "wait_jitter": 0}
        )
        config = Config(
            instances=(
                InstanceConfig(name=instance, type="openai", key_env=(KEY_ENV,), settings=merged),
            ),
            default_instances=False,
        )
        gateway = Gateway(config, plugins=plugins, index=MemoryJobIndex(), http_client=client)
        assert not gateway.problems, gateway.problems
        opened.append((gateway, client))
        return gateway

    yield build
    for gateway, client in opened:
        await gateway.aclose()
        await client.aclose()
