"""The harness of the conformance kit: a gateway wired to an emulator."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Iterator, Mapping, Sequence
from contextlib import asynccontextmanager, contextmanager, nullcontext
from typing import Any

import attrs
import pytest

from ..config import Config, InstanceConfig
from ..emulation import Faults
from ..gateway import Gateway
from ..http import emulator_transport, make_client
from ..model import CreateVideo
from ..plugins import Plugins
from ..store import JobIndex, MemoryJobIndex

__all__ = ["IN_PROCESS_URL", "KEY_A", "KEY_B", "Harness", "gateway_for"]

#: The keys the contract configures: distinctive, so that a leak is easy to find.
KEY_A = "sk-reelgate-contract-AAAA-0123456789"
KEY_B = "sk-reelgate-contract-BBBB-9876543210"
#: The base URL of an emulator reached in-process (its assets: ``assets.emulator.test``).
IN_PROCESS_URL = "http://emulator.test"

_NO_KEY_ENV = "REELGATE_TESTING_NO_KEY"

_FAST_RETRY = {
    "attempts": 3,
    "timeout": 10.0,
    "wait_initial": 0.01,
    "wait_max": 0.05,
    "wait_jitter": 0.0,
}


# -- the harness: a gateway on an emulator ------------------------------------------------


def _plugin_failure(plugins: Plugins, plugin: object, provider_type: str) -> str | None:
    """Why the registered `plugin` does not provide `provider_type`, or None."""
    if plugins.failures:
        return "; ".join(f.reason for f in plugins.failures)
    if provider_type in plugins.provider_registry().specs:
        return None
    name = getattr(plugin, "__name__", None) or type(plugin).__name__
    return (
        f"{name} registers no provider type {provider_type!r}: add a hook to it,\n\n"
        "    @reelgate.hookimpl\n"
        "    def reelgate_register_providers(registry):\n"
        f"        registry.add(reelgate.ProviderSpec(type={provider_type!r}, factory=...))"
    )


@contextmanager
def _environment(values: Mapping[str, str]) -> Iterator[None]:
    saved = {name: os.environ.get(name) for name in (*values, _NO_KEY_ENV)}
    os.environ.pop(_NO_KEY_ENV, None)
    os.environ.update(values)
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


@asynccontextmanager
async def gateway_for(
    provider_type: str,
    *,
    plugin: object,
    app: Any = None,
    base_url: str | None = IN_PROCESS_URL,
    settings: Mapping[str, Any] | None = None,
    keys: Sequence[str] | Mapping[str, str] = (KEY_A, KEY_B),
    instance: str | None = None,
    index: JobIndex | None = None,
) -> AsyncIterator[Gateway]:
    """
    A gateway with one instance of `provider_type`, wired to an emulator.

    With `app`, requests reach the emulator in-process (`emulator_transport`) whatever
    their host; the base URL is `IN_PROCESS_URL` unless `base_url` says otherwise
    (``http://emulator.test/v1`` for an API under a prefix). Without `app`, `base_url`
    is the address of an emulator served on loopback (`reelgate.emulation.serve`), or
    None for a provider with no HTTP upstream.

    Retries wait milliseconds and polling is fast; `settings` override that and anything
    else. The keys are set in the environment only while the gateway reads them.

    Args:
        provider_type: The provider type the plugin registers.
        plugin: The module or object whose hook registers it.
        app: The emulator (an ASGI app), to reach in-process.
        base_url: The instance's ``base_url`` setting; None sets none (a provider whose
            settings name its address otherwise, or that has no HTTP upstream).
        settings: More settings of the instance.
        keys: Its keys, in rotation order; a mapping names their environment variables
            (the default names are ``REELGATE_TESTING_KEY_1``, ...); empty for none.
        instance: The instance's name (default ``<type>-test``).
        index: The job index (default: a fresh `MemoryJobIndex`); the gateway closes it.

    Yields:
        The gateway; it and its HTTP client are closed when the block exits.
    """
    values = (
        dict(keys)
        if isinstance(keys, Mapping)
        else {f"REELGATE_TESTING_KEY_{n}": key for n, key in enumerate(keys, 1)}
    )
    plugins = Plugins()
    plugins.register(plugin, name=provider_type)
    if (problem := _plugin_failure(plugins, plugin, provider_type)) is not None:
        pytest.fail(problem, pytrace=False)
    merged: dict[str, Any] = {"retry": dict(_FAST_RETRY), "poll_interval": 0.02}
    client = make_client(transport=emulator_transport(app) if app is not None else None)
    if base_url is not None:
        merged["base_url"] = base_url
    merged.update(settings or {})
    config = Config(
        instances=(
            InstanceConfig(
                name=instance or f"{provider_type}-test",
                type=provider_type,
                key_env=tuple(values) or (_NO_KEY_ENV,),
                settings=merged,
            ),
        ),
        default_instances=False,
    )
    try:
        with _environment(values):
            gateway = Gateway(
                config, plugins=plugins, index=index or MemoryJobIndex(), http_client=client
            )
    except BaseException:
        await client.aclose()
        raise
    try:
        if gateway.problems or plugins.failures:
            pytest.fail(
                "; ".join([*map(str, gateway.problems), *(f.reason for f in plugins.failures)]),
                pytrace=False,
            )
        yield gateway
    finally:
        await gateway.aclose()
        await client.aclose()


@attrs.define
class Harness:
    """
    One provider instance wired to its emulator, for one test.

    Attributes:
        gateway: A gateway with the instance configured.
        instance: The instance's name (deliberately not the type's name).
        model: ``instance/model`` for creates.
        faults: The emulator's fault script and request record (None for providers
            without an HTTP upstream).
        base_url: Where the emulator is (`IN_PROCESS_URL` in-process).
    """

    gateway: Gateway
    instance: str
    model: str
    faults: Faults | None
    base_url: str = IN_PROCESS_URL

    def request(self, prompt: str = "a paper boat", **kwargs: Any) -> CreateVideo:
        """A create request for this instance."""
        return CreateVideo(model=self.model, prompt=prompt, **kwargs)

    def require_faults(self) -> Faults:
        """The fault script, or skip the test for a provider without an HTTP upstream."""
        if self.faults is None:
            pytest.skip("this provider has no HTTP upstream to fault (its emulator() is None)")
        return self.faults

    def recording(self) -> Any:
        """`Faults.recording` of the emulator (an empty record without one)."""
        if self.faults is None:
            return nullcontext([])
        return self.faults.recording()


class Relay:
    """
    The app a class's loopback server runs: it passes each request to the current emulator.

    One server per contract class and transport saves starting and stopping one per
    test, while every test still gets a fresh emulator.
    """

    def __init__(self) -> None:
        self.app: Any = None

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        app = self.app
        if app is None:
            if scope["type"] == "http":
                await send({"type": "http.response.start", "status": 503, "headers": []})
                await send({"type": "http.response.body", "body": b""})
            return
        await app(scope, receive, send)
