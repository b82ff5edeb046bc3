"""Fixtures for the openai plugin's tests: images, and gateways wired to emulators."""

from __future__ import annotations

import struct
import zlib
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AsyncExitStack
from typing import Any

import pytest

import reelgate_openai
from reelgate import Gateway, testing

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


#: Builds a gateway on an emulator app (closed when the test ends).
GatewayFactory = Callable[..., Awaitable[Gateway]]


@pytest.fixture(name="gateway_for")
async def _gateway_for() -> AsyncIterator[GatewayFactory]:
    """Build gateways with one ``openai`` instance (``sora``) on an in-process emulator."""
    async with AsyncExitStack() as stack:

        async def build(app: Any, *, instance: str = "sora", **settings: Any) -> Gateway:
            return await stack.enter_async_context(
                testing.gateway_for(
                    "openai",
                    plugin=reelgate_openai,
                    app=app,
                    base_url="http://emulator.test/v1",
                    settings={
                        "retry": {
                            "attempts": 3,
                            "wait_initial": 0.01,
                            "wait_max": 0.02,
                            "wait_jitter": 0,
                        },
                        **settings,
                    },
                    keys={KEY_ENV: KEY},
                    instance=instance,
                )
            )

        yield build
