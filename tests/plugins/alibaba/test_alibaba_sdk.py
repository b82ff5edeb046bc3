"""Alibaba's own SDK, ``dashscope``, runs create, fetch, wait and cancel against the emulator."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from reelgate.emulation import serve
from reelgate_alibaba.emulator import create_app

dashscope = pytest.importorskip("dashscope")

KEY = "sk-dashscope-sdk-0123456789"


@pytest.fixture(name="served")
def _served(monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[Any, list[dict[str, Any]]]]:
    """The emulator over loopback HTTP, with the SDK's base URL pointed at it."""
    received: list[dict[str, Any]] = []
    app = create_app(job_seconds=0.3, api_keys={KEY}, received=received)
    with serve(app) as url:
        # The SDK reads its base URL from this module attribute at every call
        # (DASHSCOPE_HTTP_BASE_URL sets it once, at import).
        monkeypatch.setattr(dashscope, "base_http_api_url", f"{url}/api/v1")
        yield app, received


def test_async_call_then_wait(served: tuple[Any, list[dict[str, Any]]]) -> None:
    """async_call sends the async header and answers PENDING; wait ends SUCCEEDED with a URL."""
    app, received = served
    created = dashscope.VideoSynthesis.async_call(
        model="wan2.5-t2v-preview", prompt="a paper boat", size="1280*720", duration=10, api_key=KEY
    )
    assert created.status_code == 200
    assert created.output.task_status == "PENDING"
    fetched = dashscope.VideoSynthesis.fetch(created, api_key=KEY)
    assert fetched.output.task_id == created.output.task_id
    done = dashscope.VideoSynthesis.wait(created, api_key=KEY)
    assert done.output.task_status == "SUCCEEDED"
    assert "Expires=" in done.output.video_url
    assert done.usage.video_duration == 10
    [sent] = received
    assert sent["parameters"] == {"size": "1280*720", "duration": 10}
    assert sent["input"]["prompt"] == "a paper boat"
    [create] = [r for r in app.faults.seen if r.method == "POST"]
    assert create.headers["x-dashscope-async"] == "enable"
    assert create.headers["authorization"] == f"Bearer {KEY}"


def test_image_to_video_with_its_parameters(served: tuple[Any, list[dict[str, Any]]]) -> None:
    """An i2v call sends img_url in input and resolution in parameters, as the emulator reads."""
    _, received = served
    created = dashscope.VideoSynthesis.async_call(
        model="wan2.5-i2v-preview",
        prompt="the cat turns its head",
        img_url="https://example.com/cat.png",
        resolution="720P",
        duration=5,
        negative_prompt="rain",
        seed=7,
        api_key=KEY,
    )
    assert created.status_code == 200
    sent = received[-1]
    assert sent["input"]["img_url"] == "https://example.com/cat.png"
    assert sent["input"]["negative_prompt"] == "rain"
    assert sent["parameters"] == {"resolution": "720P", "duration": 5, "seed": 7}


def test_cancel_a_pending_task(served: tuple[Any, list[dict[str, Any]]]) -> None:
    """cancel of a PENDING task succeeds; the task then reads CANCELED."""
    created = dashscope.VideoSynthesis.async_call(
        model="wan2.5-t2v-preview", prompt="a boat [emulate:slow]", api_key=KEY
    )
    cancelled = dashscope.VideoSynthesis.cancel(created, api_key=KEY)
    assert cancelled.status_code == 200
    assert dashscope.VideoSynthesis.fetch(created, api_key=KEY).output.task_status == "CANCELED"


def test_a_failed_task_carries_code_and_message(served: tuple[Any, list[dict[str, Any]]]) -> None:
    """A failing task ends FAILED with the output's code and message."""
    created = dashscope.VideoSynthesis.async_call(
        model="wan2.5-t2v-preview", prompt="a boat [emulate:fail]", api_key=KEY
    )
    done = dashscope.VideoSynthesis.wait(created, api_key=KEY)
    assert done.output.task_status == "FAILED"
    assert done.output.code == "InternalError.Algo"
    assert done.output.message


def test_errors_reach_the_sdk_as_code_and_message(served: tuple[Any, list[dict[str, Any]]]) -> None:
    """A wrong key and a bad size are DashScope-shaped errors the SDK reads."""
    wrong = dashscope.VideoSynthesis.async_call(
        model="wan2.5-t2v-preview", prompt="a boat", api_key="sk-wrong"
    )
    assert (wrong.status_code, wrong.code) == (401, "InvalidApiKey")
    bad = dashscope.VideoSynthesis.async_call(
        model="wan2.5-t2v-preview", prompt="a boat", size="999*999", api_key=KEY
    )
    assert (bad.status_code, bad.code) == (400, "InvalidParameter")
    assert "size" in bad.message


def test_an_unknown_task_reads_unknown(served: tuple[Any, list[dict[str, Any]]]) -> None:
    """fetch of an id the service never issued is a 200 whose task_status is UNKNOWN."""
    fetched = dashscope.VideoSynthesis.fetch("0385dc79-0000-0000-0000-000000000000", api_key=KEY)
    assert fetched.status_code == 200
    assert fetched.output.task_status == "UNKNOWN"
