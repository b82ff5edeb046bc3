"""Fixtures of the reelgate-gemini tests: an emulator and gateways wired to it."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from contextlib import AsyncExitStack
from typing import Any

import pytest
from gemini_support import KEY, OTHER_KEY, Connect

import reelgate_gemini
from reelgate import Gateway
from reelgate.outbound import ALLOW_PRIVATE_ENV
from reelgate.testing import gateway_for
from reelgate_gemini.emulator import GoogleEmulator, create_app


@pytest.fixture(name="emulator")
def _emulator() -> GoogleEmulator:
    """A fresh emulator whose jobs finish almost at once."""
    return create_app(job_seconds=0.05)


@pytest.fixture(name="connect")
async def _connect(monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[Connect]:
    """
    Builds a gateway with one instance (``g``) wired to an emulator app.

    The app is reached in-process, unless ``loopback`` says that the settings' base URL
    is a real server.
    """
    # The image host (images.test) is in-process: nothing to resolve, nothing private.
    monkeypatch.setenv(ALLOW_PRIVATE_ENV, "1")
    for name in (
        "GEMINI_API_KEY",
        "GOOGLE_API_KEY",
        "VERTEX_API_KEY",
        "GOOGLE_CLOUD_PROJECT",
        "GOOGLE_APPLICATION_CREDENTIALS",
    ):
        monkeypatch.delenv(name, raising=False)
    known = {"REELGATE_GEMINI_TEST_KEY": KEY, "REELGATE_GEMINI_OTHER_KEY": OTHER_KEY}

    async with AsyncExitStack() as stack:

        async def connect(
            app: Any,
            provider_type: str = "gemini",
            *,
            settings: dict[str, Any] | None = None,
            key_env: Sequence[str] = ("REELGATE_GEMINI_TEST_KEY",),
            loopback: bool = False,
        ) -> Gateway:
            base: dict[str, Any] = {"poll_interval": 0.01}
            if provider_type == "vertex":
                base.update(project="reelgate-test", location="us-central1")
            retry = {"attempts": 2, "wait_initial": 0.01, "wait_max": 0.02, "wait_jitter": 0.0}
            merged = {**base, "retry": retry, **(settings or {})}
            return await stack.enter_async_context(
                gateway_for(
                    provider_type,
                    plugin=reelgate_gemini,
                    app=None if loopback else app,
                    base_url=None if loopback else "http://emulator.test",
                    settings=merged,
                    keys={name: known[name] for name in key_env if name in known},
                    instance="g",
                )
            )

        yield connect
