"""Predictions: statuses, progress from logs, cancel, outputs that expire, and the list."""

from __future__ import annotations

import logging

import pytest
from replicate_support import INSTANCE, JOB_SECONDS, KEY, Clock, call

import reelgate
import reelgate.status
import reelgate_replicate
from reelgate.errors import InvalidRequestError, NotFoundError, VideoNotReadyError
from reelgate.gateway import Gateway
from reelgate_replicate import parse_progress, prediction_to_video
from reelgate_replicate.emulator import ReplicateEmulator

pytestmark = pytest.mark.anyio


def _request(prompt: str = "a paper boat") -> reelgate.CreateVideo:
    return reelgate.CreateVideo(model=f"{INSTANCE}/google/veo-3", prompt=prompt)


@pytest.mark.parametrize(
    ("logs", "progress"),
    [
        (" 12%|#         | 6/50 [00:01<00:08]\n 45%|####5     | 45/100 [00:10<00:12]", 45.0),
        ("step 3/4\rstep 4/4 done", 100.0),
        ("loading weights\n30/120\nwriting frames", 25.0),
        ("no numbers here", None),
        ("", None),
        (None, None),
    ],
)
def test_progress_is_read_from_the_logs(logs: str | None, progress: float | None) -> None:
    """The last percentage or step count a model printed is its progress."""
    assert parse_progress(logs) == progress


async def test_lifecycle_reads_progress_and_metrics(gateway: Gateway, clock: Clock) -> None:
    """starting -> processing (progress rises) -> succeeded, with predict_time and expiry."""
    video = await gateway.create(_request())
    assert video.provider_metadata["status"] == "starting"
    clock.advance(JOB_SECONDS * 0.5)
    halfway = await gateway.retrieve(video.id)
    assert halfway.status is reelgate.VideoStatus.IN_PROGRESS
    assert halfway.progress is not None
    assert 0 < halfway.progress < 100
    clock.advance(JOB_SECONDS * 0.2)
    later = await gateway.retrieve(video.id)
    assert later.progress is not None
    assert later.progress > halfway.progress
    clock.advance(JOB_SECONDS)
    done = await gateway.retrieve(video.id)
    assert done.status is reelgate.VideoStatus.COMPLETED
    assert done.provider_metadata["predict_time"] == pytest.approx(JOB_SECONDS * 0.8)
    assert done.completed_at is not None
    assert done.expires_at == done.completed_at + 3600
    assert done.videos[0].url is not None
    assert done.videos[0].url.startswith("http://delivery.api.emulator.test/xezq/")


async def test_failed_prediction_carries_replicate_error(gateway: Gateway, clock: Clock) -> None:
    """A failed prediction is failed with Replicate's error text."""
    video = await gateway.create(_request("a paper boat [emulate:fail]"))
    clock.advance(JOB_SECONDS)
    failed = await gateway.retrieve(video.id)
    assert failed.status is reelgate.VideoStatus.FAILED
    assert failed.error is not None
    assert failed.error.message is not None
    assert "E001" in failed.error.message


async def test_cancel_reads_as_cancelled(
    provider: reelgate_replicate.ReplicateProvider, gateway: Gateway, emulator: ReplicateEmulator
) -> None:
    """cancel posts to /cancel; the prediction then reads failed with code cancelled."""
    video = await gateway.create(_request())
    native = video.id.rsplit(":", 1)[0]
    await provider.cancel(native, call=call("cancel"))
    assert emulator.faults.seen[-1].method == "POST"
    assert emulator.faults.seen[-1].path == f"/v1/predictions/{native}/cancel"
    again = await provider.retrieve(native, call=call("retrieve"))
    assert again.status is reelgate.VideoStatus.FAILED
    assert again.error == reelgate.model.cancelled_error()


async def test_download_goes_to_the_delivery_host_without_the_key(
    gateway: Gateway, emulator: ReplicateEmulator, clock: Clock
) -> None:
    """The file is fetched from another host name, with no Authorization header."""
    video = await gateway.create(_request())
    clock.advance(JOB_SECONDS)
    async with gateway.download(video.id) as stream:
        body = b"".join([chunk async for chunk in stream])
    assert body[4:8] == b"ftyp"
    fetch = emulator.faults.seen[-1]
    assert fetch.path.startswith("/xezq/")
    assert fetch.headers["host"] == "delivery.api.emulator.test"
    assert "authorization" not in fetch.headers
    assert all(KEY not in value for value in fetch.headers.values())


async def test_download_before_success_is_not_ready(gateway: Gateway) -> None:
    """An unfinished prediction cannot be downloaded (409)."""
    video = await gateway.create(_request())
    with pytest.raises(VideoNotReadyError) as caught:
        async with gateway.download(video.id):
            pass
    assert caught.value.status_code == 409


async def test_removed_output_is_a_clear_error(gateway: Gateway, clock: Clock) -> None:
    """An hour after it finishes, the output is gone and the error says so."""
    video = await gateway.create(_request())
    clock.advance(JOB_SECONDS + 3600)
    again = await gateway.retrieve(video.id)
    assert again.provider_metadata["data_removed"] is True
    with pytest.raises(NotFoundError, match="removed the output") as caught:
        async with gateway.download(video.id):
            pass
    assert caught.value.code == "data_removed"


def test_unknown_status_is_no_news(
    caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A status Replicate may add later reads as unfinished, is logged and kept raw."""
    monkeypatch.setattr(reelgate.status, "_unknown_seen", set())  # logged once per process
    with caplog.at_level(logging.WARNING, logger="reelgate"):
        video = prediction_to_video({"id": "p1", "status": "warming_up"}, call("retrieve"))
    assert video.status is reelgate.VideoStatus.QUEUED
    assert video.provider_metadata["status"] == "warming_up"
    assert "warming_up" in caplog.text


async def test_list_follows_native_cursors(gateway: Gateway) -> None:
    """Pages of 3 over native pages of 2 visit every prediction once, newest first."""
    created = [(await gateway.create(_request(f"job {i}"))).id for i in range(7)]
    seen, after = [], None
    while True:
        page = await gateway.list(INSTANCE, limit=3, after=after)
        seen += [v.id for v in page.data]
        if not page.has_more:
            break
        after = page.last_id
    assert seen == created[::-1]
    oldest = await gateway.list(INSTANCE, limit=4, order="asc")
    assert [v.id for v in oldest.data] == created[:4]
    assert oldest.has_more is True


async def test_list_after_an_id_it_never_saw(
    provider: reelgate_replicate.ReplicateProvider, gateway: Gateway
) -> None:
    """Without a remembered cursor, the page after an id is found by reading from the top."""
    created = [(await gateway.create(_request(f"job {i}"))).id for i in range(5)]
    natives = [c.rsplit(":", 1)[0] for c in created]
    provider._cursors.clear()
    page = await provider.list(reelgate.ListQuery(limit=2, after=natives[3]), call=call("list"))
    assert [v.id for v in page.data] == natives[2::-1][:2]
    assert page.has_more is True
    with pytest.raises(InvalidRequestError) as caught:
        await provider.list(reelgate.ListQuery(after="nope"), call=call("list"))
    assert caught.value.param == "after"


@pytest.mark.parametrize(
    ("configured", "used"),
    [
        ("http://api.emulator.test", "http://api.emulator.test/v1"),
        ("https://api.replicate.com/v1", "https://api.replicate.com/v1"),
        (None, "https://api.replicate.com/v1"),
    ],
)
def test_base_url_without_a_path_gets_v1(configured: str | None, used: str) -> None:
    """REPLICATE_BASE_URL as the official client reads it (no /v1) works too."""
    assert reelgate_replicate._api_base(configured) == used


async def test_delete_cancels_a_running_prediction(
    gateway: Gateway, emulator: ReplicateEmulator, clock: Clock
) -> None:
    """The gateway's delete cancels a running prediction upstream, and keeps a finished one."""
    running = await gateway.create(_request())
    deleted = await gateway.delete(running.id)
    assert deleted.upstream == "cancelled"
    native = running.id.rsplit(":", 1)[0]
    assert emulator.predictions[native].cancelled is not None
    with pytest.raises(NotFoundError):
        await gateway.retrieve(running.id)
    finished = await gateway.create(_request())
    clock.advance(JOB_SECONDS)
    await gateway.retrieve(finished.id)
    assert (await gateway.delete(finished.id)).upstream == "kept"


def test_outputs_list_videos_first() -> None:
    """A list output keeps every file URL, videos first, typed by extension."""
    video = prediction_to_video(
        {
            "id": "p2",
            "status": "succeeded",
            "output": [
                "https://replicate.delivery/a/poster.jpg",
                "https://replicate.delivery/a/out.mp4",
            ],
        },
        call("retrieve"),
    )
    assert [(o.url, o.content_type) for o in video.videos] == [
        ("https://replicate.delivery/a/out.mp4", "video/mp4"),
        ("https://replicate.delivery/a/poster.jpg", "image/jpeg"),
    ]
