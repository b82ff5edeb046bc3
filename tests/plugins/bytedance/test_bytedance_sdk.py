"""The official Ark client of ``byteplus-python-sdk-v2``, pointed at the emulator, works."""

from __future__ import annotations

import urllib.request
from collections.abc import Iterator
from typing import Any

import pytest
from bytedance_support import JOB_SECONDS, Clock

from reelgate.emulation import serve
from reelgate_bytedance.emulator import BytedanceEmulator, create_app

ark = pytest.importorskip("byteplussdkarkruntime")
errors = pytest.importorskip("byteplussdkarkruntime._exceptions")


@pytest.fixture(name="sdk_clock")
def _sdk_clock() -> Clock:
    return Clock()


@pytest.fixture(name="served")
def _served(sdk_clock: Clock) -> Iterator[tuple[BytedanceEmulator, str]]:
    app = create_app(job_seconds=JOB_SECONDS, clock=sdk_clock)
    with serve(app) as url:
        yield app, f"{url}/api/v3"


@pytest.fixture(name="sdk")
def _sdk(served: tuple[BytedanceEmulator, str]) -> Iterator[Any]:
    client = ark.Ark(base_url=served[1], api_key="ark-sdk-test-key", max_retries=0)
    yield client
    client.close()


TEXT = "a paper boat on a pond --resolution 720p --duration 5 --camerafixed false"


def test_create_get_through_every_status(sdk: Any, sdk_clock: Clock) -> None:
    """tasks.create answers an id; tasks.get reads queued, running, succeeded with a video."""
    created = sdk.content_generation.tasks.create(
        model="seedance-1-0-pro-250528",
        content=[{"type": "text", "text": TEXT}],
    )
    assert created.id.startswith("cgt-")
    statuses = []
    for _ in range(3):
        task = sdk.content_generation.tasks.get(task_id=created.id)
        statuses.append(task.status)
        sdk_clock.advance(JOB_SECONDS * 0.55)
    assert statuses == ["queued", "running", "succeeded"]
    assert task.model == "seedance-1-0-pro-250528"
    assert (task.resolution, task.duration, task.ratio) == ("720p", 5, "16:9")
    assert task.usage.completion_tokens > 0
    with urllib.request.urlopen(task.content.video_url) as response:  # noqa: S310  # loopback
        assert response.read()[4:8] == b"ftyp"


def test_body_fields_and_image_items(sdk: Any, served: tuple[BytedanceEmulator, str]) -> None:
    """Top-level fields and an image_url item with a role are accepted as the SDK sends them."""
    created = sdk.content_generation.tasks.create(
        model="seedance-1-0-lite-i2v-250428",
        content=[
            {"type": "text", "text": "the cat turns its head"},
            {
                "type": "image_url",
                "image_url": {"url": "https://img.example/cat.png"},
                "role": "first_frame",
            },
        ],
        resolution="480p",
        ratio="9:16",
        duration=6,
        seed=7,
    )
    task = served[0].tasks[created.id]
    assert task.params == {"resolution": "480p", "ratio": "9:16", "duration": 6, "seed": 7}


def test_list_filters_and_pages(sdk: Any, sdk_clock: Clock) -> None:
    """tasks.list sends page_num, page_size and filter.status; answers total and items."""
    ids = [
        sdk.content_generation.tasks.create(
            model="seedance-1-0-pro-250528", content=[{"type": "text", "text": f"job {i}"}]
        ).id
        for i in range(3)
    ]
    page = sdk.content_generation.tasks.list(page_num=1, page_size=2)
    assert page.total == 3
    assert [t.id for t in page.items] == [ids[2], ids[1]]
    sdk_clock.advance(JOB_SECONDS)
    done = sdk.content_generation.tasks.list(status="succeeded", task_ids=ids[:2])
    assert sorted(t.id for t in done.items) == sorted(ids[:2])
    none = sdk.content_generation.tasks.list(status="queued")
    assert none.total == 0


def test_delete_cancels_queued_and_deletes_finished(sdk: Any, sdk_clock: Clock) -> None:
    """tasks.delete cancels a queued task (it reads cancelled) and removes a finished one."""
    tasks = sdk.content_generation.tasks
    queued = tasks.create(model="seedance-1-0-pro-250528", content=[{"type": "text", "text": "q"}])
    tasks.delete(task_id=queued.id)
    assert tasks.get(task_id=queued.id).status == "cancelled"
    finished = tasks.create(
        model="seedance-1-0-pro-250528", content=[{"type": "text", "text": "f"}]
    )
    sdk_clock.advance(JOB_SECONDS)
    tasks.delete(task_id=finished.id)
    with pytest.raises(errors.ArkNotFoundError):
        tasks.get(task_id=finished.id)


def test_errors_parse_as_the_sdk_expects(sdk: Any) -> None:
    """A running task's delete is refused with Ark's envelope, read by the SDK's errors."""
    tasks = sdk.content_generation.tasks
    with pytest.raises(errors.ArkNotFoundError) as caught:
        tasks.get(task_id="cgt-20250101000000-zzzzz")
    assert caught.value.code == "ResourceNotFound"
    with pytest.raises(errors.ArkBadRequestError) as bad:
        tasks.create(model="seedance-1-0-lite-i2v-250428", content=[{"type": "text", "text": "x"}])
    assert bad.value.param == "content"
