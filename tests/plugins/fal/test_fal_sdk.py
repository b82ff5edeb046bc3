"""The official ``fal-client``, pointed at the emulator over loopback HTTP, works."""

from __future__ import annotations

import urllib.request
from collections.abc import AsyncIterator, Iterator

import fal_client
import fal_client.client
import pytest

from reelgate.emulation import serve
from reelgate_fal.emulator import FalEmulator, create_app

KLING = "fal-ai/kling-video/v2.1/master/text-to-video"


@pytest.fixture(name="emulator")
def _emulator() -> FalEmulator:
    return create_app(job_seconds=0.3)


@pytest.fixture(name="base")
def _base(emulator: FalEmulator, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """
    The emulator's URL, which the client is pointed at.

    fal-client builds queue URLs from the module constant ``QUEUE_URL_FORMAT``
    (``https://{FAL_QUEUE_RUN_HOST}/``, read from the environment at import); a loopback
    emulator speaks http, so the constant itself is replaced.
    """
    with serve(emulator) as url:
        monkeypatch.setattr(fal_client.client, "QUEUE_URL_FORMAT", f"{url}/")
        yield url


@pytest.fixture(name="client")
def _client(base: str) -> Iterator[fal_client.SyncClient]:
    client = fal_client.SyncClient(key="fal-sdk-test")
    yield client
    client._client.close()  # SyncClient has no close(); its cached httpx client does


def test_submit_status_result(client: fal_client.SyncClient, emulator: FalEmulator) -> None:
    """submit, status with logs through Queued/InProgress/Completed, then result."""
    handle = client.submit(KLING, arguments={"prompt": "a paper boat", "duration": "5"})
    assert "/fal-ai/kling-video/requests/" in handle.status_url
    first = handle.status(with_logs=True)
    assert isinstance(first, fal_client.Queued)
    assert first.position >= 0
    seen = {type(event) for event in handle.iter_events(with_logs=True, interval=0.02)}
    assert fal_client.InProgress in seen
    done = handle.status(with_logs=True)
    assert isinstance(done, fal_client.Completed)
    assert done.metrics["inference_time"] > 0
    assert done.logs
    result = handle.get()
    assert result["video"]["content_type"] == "video/mp4"
    with urllib.request.urlopen(result["video"]["url"]) as response:  # noqa: S310  # loopback
        assert response.read()[4:8] == b"ftyp"
    assert emulator.faults.seen[0].headers["authorization"] == "Key fal-sdk-test"


def test_status_result_and_cancel_by_id(client: fal_client.SyncClient) -> None:
    """status, result and cancel by application and request id reach the app's URLs."""
    handle = client.submit(KLING, arguments={"prompt": "a paper boat [emulate:slow]"})
    assert isinstance(client.status(KLING, handle.request_id), fal_client.Queued)
    client.cancel(KLING, handle.request_id)
    status = client.status(KLING, handle.request_id, with_logs=True)
    assert isinstance(status, fal_client.Completed)
    assert status.error_type == "client_cancelled"


def test_failed_request_reads_as_completed_with_error(client: fal_client.SyncClient) -> None:
    """A runner error is Completed with error and error_type; its result is an HTTP error."""
    handle = client.submit(KLING, arguments={"prompt": "a paper boat [emulate:runner_error]"})
    for _ in handle.iter_events(interval=0.02):
        pass
    status = handle.status()
    assert isinstance(status, fal_client.Completed)
    assert status.error_type == "runner_server_error"
    with pytest.raises(fal_client.client.FalClientHTTPError) as caught:
        client.result(KLING, handle.request_id)
    assert caught.value.status_code == 500


def test_model_failure_surfaces_in_the_result(client: fal_client.SyncClient) -> None:
    """A model failure is a plain Completed; the result raises with fal's detail list."""
    handle = client.submit(KLING, arguments={"prompt": "a paper boat [emulate:fail]"})
    for _ in handle.iter_events(interval=0.02):
        pass
    status = handle.status()
    assert isinstance(status, fal_client.Completed)
    assert status.error is None
    with pytest.raises(fal_client.client.FalClientHTTPError) as caught:
        handle.get()
    assert caught.value.status_code == 422


def test_validation_error(client: fal_client.SyncClient) -> None:
    """A 422 from submit reaches the client as FalClientHTTPError with the detail list."""
    with pytest.raises(fal_client.client.FalClientHTTPError) as caught:
        client.submit(KLING, arguments={"prompt": "x", "duration": "7"})
    assert caught.value.status_code == 422


@pytest.fixture(name="async_client")
async def _async_client(base: str) -> AsyncIterator[fal_client.AsyncClient]:
    client = fal_client.AsyncClient(key="fal-sdk-test")
    yield client
    await (await client._client).aclose()


@pytest.mark.anyio
@pytest.mark.parametrize("anyio_backend", ["asyncio"])
async def test_async_client(async_client: fal_client.AsyncClient, anyio_backend: str) -> None:
    """The async client's submit, status, result and cancel work the same way."""
    handle = await async_client.submit(KLING, arguments={"prompt": "a paper boat"})
    assert isinstance(await async_client.status(KLING, handle.request_id), fal_client.Queued)
    result = await handle.get(interval=0.02)
    assert result["video"]["url"].startswith("http://localhost:")
    other = await async_client.submit(KLING, arguments={"prompt": "slow [emulate:slow]"})
    await async_client.cancel(KLING, other.request_id)
    with pytest.raises(fal_client.client.FalClientHTTPError) as caught:
        await async_client.result(KLING, other.request_id)
    assert caught.value.status_code == 499
