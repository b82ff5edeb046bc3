"""
The conformance kit for provider plugins: a pytest plugin with `ProviderContract`.

A plugin subclasses `ProviderContract`, says how to reach its emulator, and inherits the
whole behavioural contract (lifecycle, ids, polling, pagination, streamed download,
delete and cancel, unsupported operations, errors, faults, retries, secrets), run under
asyncio and trio, in-process and over real HTTP on 127.0.0.1::

    pytest_plugins = ["reelgate.testing"]

    class TestAcmeContract(ProviderContract):
        provider_type = "acme"
        model = "acme-video-1"

        def plugin(self):
            return reelgate_acme

        def emulator(self):
            return reelgate_acme.emulator.create_app(job_seconds=0.3)

A subclass may not replace or delete an inherited test; it can only add tests, or mark
an override with `ProviderContract.override` (and say why in its docstring). Checks
skip only for operations the provider lacks; anything the kit needs and does not find
(a `FaultMiddleware` around the emulator, the provider's ``upstream``, a hook that
registers the provider type) fails the test with a message that says what to add.

For a plugin's own tests, `gateway_for` builds the same gateway the contract uses::

    async with gateway_for("acme", plugin=reelgate_acme, app=create_app()) as gateway:
        video = await gateway.create(CreateVideo(model="acme-test/acme-video-1", prompt="x"))
"""

from __future__ import annotations

import pytest

from ._contract import ProviderContract
from ._harness import IN_PROCESS_URL, KEY_A, KEY_B, Harness, gateway_for

__all__ = ["IN_PROCESS_URL", "KEY_A", "KEY_B", "Harness", "ProviderContract", "gateway_for"]


def pytest_configure(config: pytest.Config) -> None:
    """Register the marker the kit uses."""
    config.addinivalue_line("markers", "reelgate_contract: a reelgate provider contract test")
