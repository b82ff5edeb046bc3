"""The official ``replicate`` client, pointed at the emulator over loopback HTTP, works."""

from __future__ import annotations

import urllib.request
from collections.abc import Iterator

import pytest
import replicate
from replicate.exceptions import ReplicateError

from reelgate.emulation import serve
from reelgate_replicate.emulator import ReplicateEmulator, create_app

VERSION = "5c7d5dc6dd8bf75c1acaa8565735e7986bc5b66206b55cca93cb72c9bf15ccaa"


@pytest.fixture(name="emulator")
def _emulator() -> ReplicateEmulator:
    return create_app(job_seconds=0.3, page_size=2)


@pytest.fixture(name="client")
def _client(emulator: ReplicateEmulator) -> Iterator[replicate.Client]:
    with serve(emulator) as url:
        client = replicate.Client(api_token="r8_sdk-test", base_url=url)
        client.poll_interval = 0.02
        yield client
        # replicate.Client has no close(); its httpx client does.
        client._client.close()


def test_create_reload_wait(client: replicate.Client, emulator: ReplicateEmulator) -> None:
    """models' predictions.create, reload and wait reach succeeded with a file output."""
    prediction = client.models.predictions.create(
        model="google/veo-3", input={"prompt": "a paper boat", "duration": 8}
    )
    assert prediction.status == "starting"
    assert prediction.model == "google/veo-3"
    prediction.reload()
    prediction.wait()
    assert prediction.status == "succeeded"
    assert isinstance(prediction.output, str)
    assert "/xezq/" in prediction.output
    assert prediction.metrics is not None
    assert prediction.metrics["predict_time"] > 0
    assert prediction.completed_at is not None
    assert emulator.faults.seen[0].headers["authorization"] == "Bearer r8_sdk-test"


def test_run_returns_the_file_url(client: replicate.Client) -> None:
    """client.run waits for the output: a file URL on another host, readable without a key."""
    output = client.run("google/veo-3", input={"prompt": "a paper boat"})
    # Over loopback the URL is http://, which the client leaves a string (FileOutput is
    # for https:// URLs only).
    assert isinstance(output, str)
    assert output.startswith("http://localhost:")
    with urllib.request.urlopen(output) as response:  # noqa: S310  # a loopback URL
        assert response.read()[4:8] == b"ftyp"


def test_version_create_and_cancel(client: replicate.Client) -> None:
    """predictions.create with a version, then cancel: the prediction reads canceled."""
    prediction = client.predictions.create(
        version=VERSION, input={"prompt": "a paper boat [emulate:slow]"}
    )
    prediction.cancel()
    assert prediction.status == "canceled"
    assert client.predictions.get(prediction.id).status == "canceled"


def test_list_pages_with_cursors(client: replicate.Client) -> None:
    """predictions.list pages newest first and follows next cursors."""
    ids = [
        client.models.predictions.create(model="google/veo-3", input={"prompt": f"n{i}"}).id
        for i in range(3)
    ]
    first = client.predictions.list()
    assert [p.id for p in first.results] == ids[::-1][:2]
    assert first.next is not None
    second = client.predictions.list(first.next)
    assert [p.id for p in second.results] == ids[:1]
    assert second.next is None
    assert second.previous is not None


def test_errors_are_problem_details(client: replicate.Client) -> None:
    """A 422 reads as a ReplicateError with Replicate's title, status and detail."""
    with pytest.raises(ReplicateError) as caught:
        client.models.predictions.create(
            model="kwaivgi/kling-v2.1", input={"prompt": "x", "duration": 7}
        )
    assert caught.value.status == 422
    assert caught.value.title == "Input validation failed"
    assert caught.value.detail is not None
    assert "duration must be one of the following: 5, 10" in caught.value.detail
