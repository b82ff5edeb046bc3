"""
The embedding guide's recipe: an application tests its gateway against a provider's emulator.

The guide includes this file, so the recipe it shows is known to work.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

import reelgate
from reelgate.config import Config, InstanceConfig
from reelgate.emulation import FAIL, Fault, FaultMiddleware
from reelgate.http import emulator_transport, make_client
from reelgate.store import MemoryJobIndex
from reelgate_openai.emulator import create_app


@pytest.fixture(name="emulator")
def _emulator() -> FaultMiddleware:
    """A fresh OpenAI emulator whose jobs take 0.2 seconds."""
    return create_app(job_seconds=0.2)


@pytest.fixture(name="gateway")
async def _gateway(
    emulator: FaultMiddleware, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[reelgate.Gateway]:
    """A gateway whose ``openai`` instance talks to the emulator, in-process."""
    monkeypatch.setenv("TEST_OPENAI_KEY", "sk-test-key")
    config = Config(
        instances=(
            InstanceConfig(
                name="openai",
                type="openai",
                key_env=("TEST_OPENAI_KEY",),
                settings={
                    "base_url": "http://emulator.test/v1",
                    "poll_interval": 0.05,
                    # Retries as usual, without the waits.
                    "retry": {"wait_initial": 0.01, "wait_max": 0.05, "wait_jitter": 0},
                },
            ),
        ),
        default_instances=False,
    )
    async with (
        make_client(transport=emulator_transport(emulator)) as client,
        reelgate.Gateway(config, index=MemoryJobIndex(), http_client=client) as gw,
    ):
        yield gw


@pytest.mark.anyio
async def test_a_video_is_generated(gateway: reelgate.Gateway) -> None:
    """A job completes and its video streams as MP4."""
    request = reelgate.CreateVideo(model="openai/sora-2", prompt="a paper boat")
    video = await gateway.create(request)
    video = (await gateway.wait(video.id, timeout=10)).raise_for_status()
    async with gateway.download(video.id) as stream:
        assert stream.content_type == "video/mp4"
        assert (await stream.read())[4:8] == b"ftyp"


@pytest.mark.anyio
async def test_a_failed_job_raises(gateway: reelgate.Gateway) -> None:
    """A prompt with the FAIL directive makes the emulated job fail."""
    request = reelgate.CreateVideo(model="openai/sora-2", prompt=f"a paper boat {FAIL}")
    video = await gateway.wait((await gateway.create(request)).id, timeout=10)
    with pytest.raises(reelgate.VideoFailedError):
        video.raise_for_status()


@pytest.mark.anyio
async def test_a_rate_limited_create_is_retried(
    gateway: reelgate.Gateway, emulator: FaultMiddleware
) -> None:
    """One 429 answer to a create is waited out, and the create is sent again."""
    emulator.faults.add(Fault(status=429, headers={"retry-after-ms": "10"}, method="POST"))
    request = reelgate.CreateVideo(model="openai/sora-2", prompt="a paper boat")
    video = await gateway.create(request)
    assert video.provider == "openai"
    assert emulator.faults.count("POST") == 2


@pytest.mark.anyio
async def test_an_outage_is_a_provider_error(
    gateway: reelgate.Gateway, emulator: FaultMiddleware
) -> None:
    """A provider that keeps answering 503 surfaces as ProviderError (HTTP 502)."""
    emulator.faults.add(Fault(status=503, times=10))
    with pytest.raises(reelgate.ProviderError) as caught:
        await gateway.list("openai")
    assert caught.value.status_code == 502
