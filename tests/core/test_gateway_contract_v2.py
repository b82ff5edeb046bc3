"""The gateway's side of contract v2: per-job provider state, and what a delete does upstream."""

from __future__ import annotations

import types
from typing import Any

import attrs
import pytest

import reelgate
from reelgate import CreateVideo, InvalidRequestError, NotFoundError, Video, VideoStatus
from reelgate.provider import Call, ProviderSpec
from reelgate.store import MemoryJobIndex, SQLiteJobIndex

pytestmark = pytest.mark.anyio


def _request(model: str) -> CreateVideo:
    return CreateVideo(model=model, prompt="a paper boat")


@attrs.define
class StatefulProvider:
    """Creates jobs with a provider state, reads it back, and replaces it once finished."""

    seen: list[tuple[str, Any]] = attrs.field(factory=list)
    finish: bool = False

    async def create(self, request: CreateVideo, *, call: Call) -> Video:
        """A job whose later calls need its app path."""
        self.seen.append(("create", call.job_state))
        return Video(id="req-1", status="queued", provider_state={"app": f"owner/{call.model}"})

    async def retrieve(self, video_id: str, *, call: Call) -> Video:
        """Needs the app path; once finished, records a file id too."""
        state = call.require_state(video_id, "app")
        self.seen.append(("retrieve", dict(state)))
        if not self.finish:
            return Video(id=video_id, status="in_progress")
        return Video(id=video_id, status="completed", provider_state={**state, "file_id": "f-9"})


@pytest.fixture(name="index", params=["memory", "sqlite"])
def _index(request: pytest.FixtureRequest, tmp_path: Any) -> Any:
    return MemoryJobIndex() if request.param == "memory" else SQLiteJobIndex(tmp_path / "j.db")


async def test_provider_state_is_kept_handed_back_and_replaced(make_gateway, index) -> None:
    """A create's state comes back on later calls, is replaced, and callers never see it."""
    provider = StatefulProvider()
    spec = ProviderSpec(type="stateful", factory=lambda s: provider, requires_key=False)
    gateway = make_gateway(spec, index=index)
    video = await gateway.create(_request("stateful/kling"))
    assert video.provider_state is None
    assert (await gateway.retrieve(video.id)).provider_state is None
    provider.finish = True
    await gateway.retrieve(video.id)
    await gateway.retrieve(video.id)
    assert provider.seen == [
        ("create", None),
        ("retrieve", {"app": "owner/kling"}),
        ("retrieve", {"app": "owner/kling"}),
        ("retrieve", {"app": "owner/kling", "file_id": "f-9"}),
    ]
    record = await index.get("stateful", "req-1")
    assert record is not None
    assert record.provider_state == {"app": "owner/kling", "file_id": "f-9"}


async def test_a_job_the_index_never_saw_gets_no_state(make_gateway) -> None:
    """An id typed by hand reaches the provider with job_state None: one clear error."""
    provider = StatefulProvider()
    spec = ProviderSpec(type="stateful", factory=lambda s: provider, requires_key=False)
    gateway = make_gateway(spec)
    with pytest.raises(InvalidRequestError, match="was not created through this gateway") as e:
        await gateway.retrieve("typed-by-hand:stateful")
    assert (e.value.param, e.value.provider, e.value.request_type) == (
        "video_id",
        "stateful",
        "video_retrieve",
    )


@attrs.define
class CancellingProvider:
    """Can stop a running job but not delete one."""

    done: bool = False
    refuse: bool = False
    cancelled: list[str] = attrs.field(factory=list)

    async def create(self, request: CreateVideo, *, call: Call) -> Video:
        """A running job."""
        return Video(id="c-1", status="in_progress")

    async def retrieve(self, video_id: str, *, call: Call) -> Video:
        """Running, or finished."""
        return Video(id=video_id, status="completed" if self.done else "in_progress")

    async def cancel(self, video_id: str, *, call: Call) -> None:
        """Record the cancel, or refuse it as an API that cancels only queued jobs does."""
        if self.refuse:
            raise InvalidRequestError("only pending tasks can be cancelled", upstream=True)
        self.cancelled.append(video_id)


async def test_delete_of_a_running_job_cancels_it(make_gateway) -> None:
    """A provider that can only cancel: a running job is cancelled upstream and forgotten."""
    provider = CancellingProvider()
    spec = ProviderSpec(type="canceller", factory=lambda s: provider, requires_key=False)
    gateway = make_gateway(spec)
    video = await gateway.create(_request("canceller/m"))
    deleted = await gateway.delete(video.id)
    assert (deleted.id, deleted.upstream) == (video.id, "cancelled")
    assert provider.cancelled == ["c-1"]
    with pytest.raises(NotFoundError):
        await gateway.retrieve(video.id)


async def test_delete_of_a_finished_job_keeps_it_upstream(make_gateway) -> None:
    """A provider that can only cancel: a finished job has nothing to stop; it is forgotten."""
    provider = CancellingProvider()
    spec = ProviderSpec(type="canceller", factory=lambda s: provider, requires_key=False)
    gateway = make_gateway(spec)
    video = await gateway.create(_request("canceller/m"))
    provider.done = True
    assert (await gateway.retrieve(video.id)).status is VideoStatus.COMPLETED
    deleted = await gateway.delete(video.id)
    assert deleted.upstream == "kept"
    assert provider.cancelled == []
    assert video.id not in [v.id for v in (await gateway.list("canceller")).data]


async def test_delete_of_a_job_gone_upstream_forgets_it(make_gateway, fake) -> None:
    """A known job the provider no longer has (404) is reported deleted and forgotten."""

    async def gone(video_id: str, *, call: Call) -> reelgate.Deleted:
        raise NotFoundError("no such job", upstream=True)

    thin = types.SimpleNamespace(create=fake.create, retrieve=fake.retrieve, delete=gone)
    gateway = make_gateway(ProviderSpec(type="thin", factory=lambda s: thin, requires_key=False))
    video = await gateway.create(_request("thin/m"))
    assert (await gateway.delete(video.id)).upstream == "deleted"
    with pytest.raises(NotFoundError):
        await gateway.delete(video.id)
    with pytest.raises(NotFoundError):
        await gateway.delete("never-seen:thin")


async def test_another_owners_job_is_no_cursor(make_gateway, fake, fake_spec) -> None:
    """after= naming another caller's job is the same 400 as an id naming no job."""
    gateway = make_gateway(fake_spec(fake))
    theirs = await gateway.create(_request("fake/fake-1"), owner="KEY_A")
    mine = await gateway.create(_request("fake/fake-1"), owner="KEY_B")
    messages = []
    for after in (theirs.id, "jobs%2Fnever:fake"):
        with pytest.raises(InvalidRequestError) as e:
            await gateway.list("fake", after=after, owner="KEY_B")
        assert e.value.param == "after"
        messages.append(e.value.message.replace(after.partition(":")[0], "ID"))
    assert messages[0].replace("jobs/fake:0", "ID") == messages[1].replace("jobs/never", "ID")
    page = await gateway.list("fake", after=mine.id, owner="KEY_B")
    assert page.data == ()


async def test_a_refused_cancel_keeps_the_job_upstream_and_forgets_it(make_gateway) -> None:
    """A provider refusing to stop a running job: upstream kept, the job forgotten all the same."""
    provider = CancellingProvider(refuse=True)
    spec = ProviderSpec(type="canceller", factory=lambda s: provider, requires_key=False)
    gateway = make_gateway(spec)
    video = await gateway.create(_request("canceller/m"))
    assert (await gateway.delete(video.id)).upstream == "kept"
    with pytest.raises(NotFoundError):
        await gateway.retrieve(video.id)
