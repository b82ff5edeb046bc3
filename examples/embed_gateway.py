"""
Embed reelgate in an application: build the `Gateway` explicitly.

    python examples/embed_gateway.py

An application that embeds reelgate usually brings its own configuration, job index and
HTTP client rather than reading ``reelgate.toml``. This one configures two instances of
the simulator, keeps its job index in memory, shares one HTTP client, and adds an
instance built by hand to show fallbacks at work.
"""

from __future__ import annotations

from typing import NoReturn

import anyio

import reelgate
from reelgate.config import Config, InstanceConfig
from reelgate.gateway import ProviderInstance
from reelgate.http import make_client
from reelgate.plugins import Plugins
from reelgate.store import MemoryJobIndex

# Two instances of one provider type; the configuration guide shows the same in TOML.
CONFIG = Config(
    instances=(
        InstanceConfig(name="drafts", type="sim", settings={"duration": 0.5}),
        InstanceConfig(name="finals", type="sim", settings={"duration": 1.5}),
    ),
    default_instances=False,  # only the instances named here
)


class Offline:
    """A provider whose upstream cannot be reached: its create never leaves the machine."""

    async def create(self, request: reelgate.CreateVideo, *, call: reelgate.Call) -> NoReturn:
        """Fail the way a refused connection does: before the provider saw anything."""
        raise reelgate.ProviderError(f"could not connect to {call.instance}")


async def main() -> None:
    """Build a gateway by hand and use both instances, idempotency and fallbacks."""
    async with make_client() as client:  # the application's client, shared
        gateway = reelgate.Gateway(
            CONFIG,
            plugins=Plugins.load(),  # installed plugins; configured instances only
            index=MemoryJobIndex(),
            http_client=client,  # the gateway uses it and leaves it open
            instances={"offline": ProviderInstance(name="offline", type="x", provider=Offline())},
        )
        async with gateway as gw:
            for name, instance in sorted(gw.instances.items()):
                print(
                    f"{name}: type {instance.type}, can {', '.join(sorted(instance.capabilities))}"
                )

            # The provider part of the model string picks the instance.
            draft = await gw.create(reelgate.CreateVideo(model="drafts/sim-1", prompt="storyboard"))
            final = await gw.create(reelgate.CreateVideo(model="finals/sim-1", prompt="the cut"))
            for started in (draft, final):
                video = await gw.wait(started.id, timeout=30)
                print(f"{video.id} is {video.status.value}")

            # Creating twice with one idempotency key gives one job, created once.
            request = reelgate.CreateVideo(
                model="drafts/sim-1", prompt="retry-safe", idempotency_key="order-1234"
            )
            first, again = await gw.create(request), await gw.create(request)
            print(f"idempotent: {first.id == again.id}")

            # The primary failed before the provider accepted the job: the fallback runs.
            # (A failure after the job may have been accepted is raised instead, so a job
            # is never paid for twice.)
            video = await gw.create(
                reelgate.CreateVideo(
                    model="offline/any", prompt="with a backup", fallbacks=["drafts/sim-1"]
                )
            )
            print(f"fallback used: {video.provider}")


if __name__ == "__main__":
    anyio.run(main)
