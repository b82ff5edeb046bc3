"""The official ``runwayml`` SDK, pointed at the emulator over loopback HTTP, works."""

from __future__ import annotations

import urllib.request
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
import runwayml
from runway_support import JOB_SECONDS, START, Clock

from reelgate.emulation import serve
from reelgate_runway.emulator import create_app


@pytest.fixture(name="sdk_clock")
def _sdk_clock() -> Clock:
    return Clock(START)


@pytest.fixture(name="sdk")
def _sdk(sdk_clock: Clock) -> Iterator[runwayml.RunwayML]:
    with (
        serve(create_app(job_seconds=JOB_SECONDS, clock=sdk_clock)) as url,
        runwayml.RunwayML(api_key="key_sdk-test", base_url=url, max_retries=0) as client,
    ):
        yield client


def test_text_to_video_create_retrieve_delete(sdk: runwayml.RunwayML, sdk_clock: Clock) -> None:
    """text_to_video.create, tasks.retrieve through every status, and tasks.delete."""
    created = sdk.text_to_video.create(
        model="gen4.5", prompt_text="a paper boat", ratio="1280:720", duration=5
    )
    assert created.to_dict()["estimatedCost"] == {"credits": 60}
    statuses = []
    for moment in (0.0, 0.2, 0.5, 1.0):
        sdk_clock.now = START + JOB_SECONDS * moment
        task = sdk.tasks.retrieve(created.id)
        statuses.append(task.status)
        assert task.created_at == datetime.fromtimestamp(START, UTC).replace(microsecond=250000)
    assert statuses == ["PENDING", "THROTTLED", "RUNNING", "SUCCEEDED"]
    assert task.status == "SUCCEEDED"
    with urllib.request.urlopen(task.output[0]) as response:  # noqa: S310  # a loopback URL
        assert response.read()[4:8] == b"ftyp"
    sdk.tasks.delete(created.id)
    with pytest.raises(runwayml.NotFoundError):
        sdk.tasks.retrieve(created.id)


def test_running_task_reports_fractional_progress(sdk: runwayml.RunwayML, sdk_clock: Clock) -> None:
    """A RUNNING task's progress parses as a 0..1 float."""
    created = sdk.text_to_video.create(
        model="veo3.1", prompt_text="a paper boat", ratio="1920:1080", duration=8
    )
    sdk_clock.advance(JOB_SECONDS * 0.5)
    task = sdk.tasks.retrieve(created.id)
    assert task.status == "RUNNING"
    assert 0 < task.progress < 1


def test_image_to_video_create(sdk: runwayml.RunwayML, sdk_clock: Clock) -> None:
    """image_to_video.create with gen4_turbo is accepted and finishes."""
    created = sdk.image_to_video.create(
        model="gen4_turbo",
        prompt_image="https://example.com/cat.jpg",
        prompt_text="The cat turns its head",
        ratio="1280:720",
        duration=5,
        seed=42,
    )
    sdk_clock.advance(JOB_SECONDS)
    task = sdk.tasks.retrieve(created.id)
    assert task.status == "SUCCEEDED"
    assert task.cost is not None
    assert task.cost.credits == 25


def test_cancel_a_pending_task(sdk: runwayml.RunwayML) -> None:
    """tasks.delete cancels a pending task; it cannot be read afterwards."""
    created = sdk.text_to_video.create(
        model="gen4.5", prompt_text="a paper boat", ratio="720:1280", duration=2
    )
    sdk.tasks.delete(created.id)
    with pytest.raises(runwayml.NotFoundError):
        sdk.tasks.retrieve(created.id)


def test_validation_error_reaches_the_sdk(sdk: runwayml.RunwayML) -> None:
    """A refused ratio is the SDK's BadRequestError, with Runway's issue list in its body."""
    with pytest.raises(runwayml.BadRequestError) as caught:
        sdk.text_to_video.create(model="gen4.5", prompt_text="x", ratio="960:960", duration=5)  # type: ignore[call-overload]  # deliberately invalid
    body = caught.value.body
    assert isinstance(body, dict)
    assert body["error"] == "Validation of body failed"
    assert body["issues"][0]["path"] == ["ratio"]


def test_wrong_key_is_an_authentication_error() -> None:
    """An emulator that knows its keys refuses another with 401, as the SDK expects."""
    with (
        serve(create_app(keys={"key_right"})) as url,
        runwayml.RunwayML(api_key="key_wrong", base_url=url, max_retries=0) as client,
        pytest.raises(runwayml.AuthenticationError),
    ):
        client.tasks.retrieve("00000000-0000-0000-0000-000000000000")
