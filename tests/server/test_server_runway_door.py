"""/runway: Runway's task wire, driven by the runwayml SDK (5.x) over loopback."""

from __future__ import annotations

import base64
import time
from collections.abc import Iterator
from typing import Any

import httpx2
import pytest
import runwayml
from door_support import UPSTREAM_KEY, door_server
from runwayml.lib import polling
from server_support import KEY_A, KEY_B, KEYS, serve_app, sim_gateway

from reelgate.model import Video, VideoStatus, cancelled_error
from reelgate.server import create_app
from reelgate.server.runway import task_view
from reelgate_gemini.emulator import create_app as gemini_emulator

MP4 = b"ftyp"
PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg=="
)


@pytest.fixture(name="server", scope="module")
def _server() -> Iterator[str]:
    with door_server(gemini_emulator(job_seconds=1.0), "gemini", "gemini") as url:
        yield url


@pytest.fixture(name="sdk")
def _sdk(server: str) -> Iterator[runwayml.RunwayML]:
    with runwayml.RunwayML(api_key=KEY_A, base_url=f"{server}/runway", max_retries=0) as sdk:
        yield sdk


def finish(sdk: runwayml.RunwayML, task_id: str, timeout: float = 20.0) -> list[Any]:
    """Poll a task until it is terminal; every view seen, in order."""
    seen = [sdk.tasks.retrieve(task_id)]
    deadline = time.monotonic() + timeout
    while seen[-1].status not in ("SUCCEEDED", "FAILED", "CANCELLED"):
        assert time.monotonic() < deadline, "the task did not finish"
        time.sleep(0.05)
        seen.append(sdk.tasks.retrieve(task_id))
    return seen


def test_text_to_video_on_the_simulator(sdk: runwayml.RunwayML, server: str) -> None:
    """A task goes PENDING -> RUNNING (0..1 progress) -> SUCCEEDED; its output streams."""
    created = sdk.text_to_video.create(
        model="sim/sim-1",  # type: ignore[arg-type]  # any instance's model
        prompt_text="a paper boat",
        ratio="720:1280",
        duration=4,
        extra_body={"sim_duration": 1.5},
    )
    seen = finish(sdk, created.id)
    statuses = [task.status for task in seen]
    assert statuses[0] == "PENDING"
    assert "RUNNING" in statuses
    progress = [task.progress for task in seen if task.status == "RUNNING"]
    assert all(0 <= p <= 1 for p in progress)
    assert progress == sorted(progress)
    done = seen[-1]
    assert done.status == "SUCCEEDED"
    [url] = done.output
    assert url.startswith(f"{server}/runway/_outputs/")
    with httpx2.Client() as http:
        fetched = http.get(url)
        forged = http.get(url.replace(".mp4", "x.mp4"))
        job = http.get(f"{server}/v1/videos/{created.id}", headers={"x-api-key": KEY_A}).json()
    assert fetched.status_code == 200
    assert fetched.content[4:8] == MP4
    assert forged.status_code == 404
    assert (job["status"], job["size"], job["seconds"]) == ("completed", "720x1280", "4")


def test_image_to_video_on_gemini(sdk: runwayml.RunwayML) -> None:
    """image_to_video reaches Google's emulator; no provider key is in the output URL."""
    data_uri = "data:image/png;base64," + base64.b64encode(PNG).decode()
    created = sdk.image_to_video.create(
        model="gemini/veo-3.1-generate-preview",  # type: ignore[arg-type]
        prompt_image=data_uri,
        prompt_text="a paper boat",
        ratio="1280:720",
        duration=8,
    )
    assert created.id.endswith(":gemini")
    done = finish(sdk, created.id)[-1]
    assert done.status == "SUCCEEDED"
    [url] = done.output
    assert UPSTREAM_KEY not in url
    assert "emulator" not in url
    with httpx2.Client() as http:
        assert http.get(url).content[4:8] == MP4


def test_wait_for_task_output(sdk: runwayml.RunwayML, monkeypatch: pytest.MonkeyPatch) -> None:
    """The SDK's own waiting helper works, and raises TaskFailedError on a failed task."""
    monkeypatch.setattr(polling, "POLL_TIME", 0.2)
    monkeypatch.setattr(polling, "POLL_JITTER", 0)
    done = sdk.text_to_video.create(
        model="sim/sim-1",  # type: ignore[arg-type]
        prompt_text="boat",
        ratio="1280:720",
        duration=4,
    ).wait_for_task_output(timeout=20)
    assert done.status == "SUCCEEDED"
    failing = sdk.text_to_video.create(
        model="sim/sim-1",  # type: ignore[arg-type]
        prompt_text="boat",
        ratio="1280:720",
        duration=4,
        extra_body={"sim_outcome": "failed"},
    )
    with pytest.raises(polling.TaskFailedError) as caught:
        failing.wait_for_task_output(timeout=20)
    failed = caught.value.task_details
    assert failed.status == "FAILED"
    assert failed.failure_code == "sim_failed"  # type: ignore[union-attr]
    assert failed.failure  # type: ignore[union-attr]


def test_delete(sdk: runwayml.RunwayML) -> None:
    """DELETE /v1/tasks/{id} forgets the task: it is then not found."""
    created = sdk.text_to_video.create(
        model="sim/sim-1",  # type: ignore[arg-type]
        prompt_text="boat",
        ratio="1280:720",
        duration=4,
    )
    sdk.tasks.delete(created.id)
    with pytest.raises(runwayml.NotFoundError):
        sdk.tasks.retrieve(created.id)


def test_errors_are_the_sdks_own(sdk: runwayml.RunwayML, server: str) -> None:
    """Runway's error bodies: the SDK raises its own error types."""
    bad = runwayml.RunwayML(api_key="wrong", base_url=f"{server}/runway", max_retries=0)
    with bad, pytest.raises(runwayml.AuthenticationError):
        bad.tasks.retrieve("x:sim")
    with pytest.raises(runwayml.BadRequestError) as caught:
        sdk.text_to_video.create(
            model="nowhere/x",  # type: ignore[arg-type]
            prompt_text="boat",
            ratio="1280:720",
            duration=4,
        )
    assert "nowhere" in caught.value.body["error"]  # type: ignore[index]
    with pytest.raises(runwayml.BadRequestError) as caught:
        sdk.text_to_video.create(
            model="sim/sim-1",  # type: ignore[arg-type]
            prompt_text="boat",
            ratio="wide",  # type: ignore[arg-type]
            duration=4,
        )
    assert caught.value.body["issues"][0]["path"] == ["ratio"]  # type: ignore[index]
    with pytest.raises(runwayml.NotFoundError):
        sdk.tasks.retrieve("sim_nothing:sim")


def test_tasks_belong_to_their_key(sdk: runwayml.RunwayML, server: str) -> None:
    """Another key's task is not found; a /v1/videos job reads as a task."""
    created = sdk.text_to_video.create(
        model="sim/sim-1",  # type: ignore[arg-type]
        prompt_text="boat",
        ratio="1280:720",
        duration=4,
    )
    other = runwayml.RunwayML(api_key=KEY_B, base_url=f"{server}/runway", max_retries=0)
    with other, pytest.raises(runwayml.NotFoundError):
        other.tasks.retrieve(created.id)
    with httpx2.Client(base_url=server, headers={"authorization": f"Bearer {KEY_A}"}) as http:
        made = http.post("/v1/videos", json={"model": "sim/sim-1", "prompt": "boat"}).json()
    assert finish(sdk, made["id"])[-1].status == "SUCCEEDED"


def test_idempotency_key(sdk: runwayml.RunwayML) -> None:
    """Creates with one Idempotency-Key make one task."""
    ids = {
        sdk.text_to_video.create(
            model="sim/sim-1",  # type: ignore[arg-type]
            prompt_text="boat",
            ratio="1280:720",
            duration=4,
            extra_headers={"Idempotency-Key": "runway-door-once"},
        ).id
        for _ in range(2)
    }
    assert len(ids) == 1


def test_cancelled_job_reads_as_cancelled() -> None:
    """A job cancelled upstream is CANCELLED, not FAILED."""
    video = Video(id="x:sim", status=VideoStatus.FAILED, error=cancelled_error(), created_at=1)
    assert task_view(video, None)["status"] == "CANCELLED"


def test_output_urls_work_on_every_process_with_the_same_keys() -> None:
    """Output URLs are signed with a secret from the keys: another worker accepts them."""
    gateway = sim_gateway()
    # The first app closes the gateway, and its server stops last.
    first_app = create_app(gateway, keys=KEYS, close_gateway=True)
    second_app = create_app(gateway, keys=KEYS)
    stranger_app = create_app(gateway, keys={"OTHER": "sk-another-key-0123456789"})
    with (
        serve_app(first_app) as first,
        serve_app(second_app) as second,
        serve_app(stranger_app) as stranger,
    ):
        sdk = runwayml.RunwayML(api_key=KEY_A, base_url=f"{first}/runway", max_retries=0)
        with sdk:
            created = sdk.text_to_video.create(
                model="sim/sim-1",  # type: ignore[arg-type]
                prompt_text="boat",
                ratio="1280:720",
                duration=4,
                extra_body={"sim_duration": 0},
            )
            [url] = finish(sdk, created.id)[-1].output
        with httpx2.Client() as http:
            elsewhere = http.get(url.replace(first, second))
            refused = http.get(url.replace(first, stranger))
    assert elsewhere.status_code == 200
    assert elsewhere.content[4:8] == MP4
    assert refused.status_code == 404
