"""The gateway: instances, create with fallbacks, idempotency, owners, keys and operations."""

from __future__ import annotations

import types
from typing import Any

import anyio
import pytest

import reelgate
from reelgate import (
    AuthenticationError,
    CreateVideo,
    InvalidRequestError,
    NotFoundError,
    ProviderError,
    ProviderSpec,
    ProviderTimeoutError,
    RateLimitError,
    UnsupportedOperationError,
    Video,
    VideoStatus,
)
from reelgate.config import Config, InstanceConfig
from reelgate.gateway import Gateway
from reelgate.http import make_client
from reelgate.ids import VideoId
from reelgate.plugins import Plugins
from reelgate.provider import ProviderSetup

pytestmark = pytest.mark.anyio


def _request(model: str = "fake/fake-1", **kwargs: Any) -> CreateVideo:
    return CreateVideo(model=model, prompt="a paper boat", **kwargs)


def _ops(provider: Any, op: str) -> list[tuple[str, str | None, str | None]]:
    return [c for c in provider.calls if c[0] == op]


# -- instances ----------------------------------------------------------------------------


async def test_unknown_provider_names_the_configured_ones(make_gateway, fake, fake_spec) -> None:
    """A model naming no instance is a 400 listing what is configured."""
    gateway = make_gateway(fake_spec(fake))
    with pytest.raises(
        InvalidRequestError, match=r"unknown provider 'nope' \(configured: fake, sim\)"
    ) as e:
        await gateway.create(_request("nope/x"))
    assert e.value.param == "provider"
    with pytest.raises(InvalidRequestError, match="unknown provider 'nope'"):
        await gateway.list("nope")
    with pytest.raises(NotFoundError, match="no video 'abc:nope'"):  # an id names a job
        await gateway.retrieve("abc:nope")


async def test_broken_instances_say_why(make_gateway, fake_spec) -> None:
    """A configured instance that cannot be built is reported with its reason."""

    def explode(setup: Any) -> object:
        raise RuntimeError("no SDK")

    gateway = make_gateway(
        ProviderSpec(type="exploding", factory=explode),
        instances=[
            InstanceConfig(name="ghost", type="not-installed"),
            InstanceConfig(name="typo", type="sim", settings={"duraton": 1}),
        ],
    )
    assert set(gateway.problems) == {"exploding", "ghost", "typo"}
    assert set(gateway.instances) == {"sim"}
    cases = {
        "ghost": "provider type 'not-installed' is not installed (installed: exploding, sim); "
        "try: pip install reelgate-not-installed",
        "typo": "unknown setting providers.typo.duraton",
        "exploding": "provider factory failed: RuntimeError: no SDK",
    }
    for name, reason in cases.items():
        with pytest.raises(InvalidRequestError) as e:
            await gateway.create(_request(f"{name}/m"))
        assert e.value.message == f"provider {name!r} is not available: {reason}"
        assert e.value.provider == name


async def test_settings_come_from_the_spec_env(make_gateway, monkeypatch) -> None:
    """A spec's env maps settings to environment variables, unless configured."""
    seen: list[Any] = []
    spec = ProviderSpec(
        type="envy",
        factory=lambda setup: seen.append(setup) or object(),
        env={"base_url": "ENVY_BASE_URL"},
        requires_key=False,
    )
    monkeypatch.setenv("ENVY_BASE_URL", "http://127.0.0.1:9/v1")
    gateway = make_gateway(
        spec, instances=[InstanceConfig(name="pinned", type="envy", settings={"base_url": "x"})]
    )
    assert not gateway.problems
    by_name = {setup.name: setup for setup in seen}
    assert by_name["envy"].settings.base_url == "http://127.0.0.1:9/v1"
    assert by_name["envy"].upstream.base_url == "http://127.0.0.1:9/v1"
    assert by_name["pinned"].settings.base_url == "x"


async def test_capabilities_are_what_the_provider_implements(make_gateway, fake, fake_spec) -> None:
    """An instance lists the operations its provider has."""
    gateway = make_gateway(fake_spec(fake))
    assert gateway.instance("fake").capabilities == {
        "create",
        "retrieve",
        "download",
        "delete",
        "remix",
    }
    assert gateway.instance("sim").capabilities == gateway.instance("fake").capabilities


async def test_missing_operations_are_unsupported(make_gateway, fake, fake_spec) -> None:
    """An operation the provider lacks is UnsupportedOperationError, not AttributeError."""
    only_create = types.SimpleNamespace(create=fake.create)
    gateway = make_gateway(
        ProviderSpec(type="thin", factory=lambda s: only_create, requires_key=False)
    )
    video = await gateway.create(_request("thin/m"))
    for attempt in (
        lambda: gateway.retrieve(video.id),
        lambda: gateway.remix(video.id, "again"),
    ):
        with pytest.raises(UnsupportedOperationError) as e:
            await attempt()
        assert e.value.code == "unsupported_operation"
        assert e.value.provider == "thin"
        assert e.value.message.endswith("is not supported by thin provider")


async def test_delete_without_delete_or_cancel_forgets_the_job(make_gateway, fake) -> None:
    """A provider that can neither delete nor cancel: the job is kept upstream, forgotten here."""
    thin = types.SimpleNamespace(create=fake.create, retrieve=fake.retrieve)
    gateway = make_gateway(ProviderSpec(type="thin", factory=lambda s: thin, requires_key=False))
    video = await gateway.create(_request("thin/m"))
    deleted = await gateway.delete(video.id)
    assert (deleted.id, deleted.deleted, deleted.upstream) == (video.id, True, "kept")
    with pytest.raises(NotFoundError):
        await gateway.retrieve(video.id)
    assert video.id not in [v.id for v in (await gateway.list("thin")).data]


# -- create and fallbacks -------------------------------------------------------------------


async def test_create_qualifies_the_id_and_fills_the_request(make_gateway, fake, fake_spec) -> None:
    """The job's id is native:instance, escaped; model and prompt come from the request."""
    gateway = make_gateway(fake_spec(fake))
    video = await gateway.create(_request())
    assert video.id == "jobs%2Ffake%3A0:fake"
    assert VideoId.parse(video.id) == VideoId("jobs/fake:0", "fake")
    assert (video.provider, video.model, video.prompt) == ("fake", "fake-1", "a paper boat")
    assert _ops(fake, "create") == [("create", "fake-1", None)]


@pytest.mark.parametrize(
    "failure",
    [
        ProviderError("could not connect"),
        RateLimitError("slow down", retry_after=3),
        ProviderTimeoutError("connect timed out"),
        InvalidRequestError("model not available here"),
        UnsupportedOperationError("no image input"),
        AuthenticationError("bad key"),
    ],
)
async def test_fallbacks_follow_a_failure_before_acceptance(
    make_gateway, fake_factory, fake_spec, failure: Exception
) -> None:
    """A primary create that certainly failed upstream moves on to the fallback."""
    primary, backup = fake_factory("primary"), fake_factory("backup")
    primary.create_errors.append(failure)
    gateway = make_gateway(fake_spec(primary), fake_spec(backup))
    video = await gateway.create(_request("primary/p-1", fallbacks=["backup/b-1"]))
    assert video.provider == "backup"
    assert video.model == "b-1"
    assert len(_ops(primary, "create")) == 1
    assert _ops(backup, "create") == [("create", "b-1", None)]
    assert (await gateway.retrieve(video.id)).id == video.id


@pytest.mark.parametrize(
    "failure",
    [
        ProviderError("connection dropped mid-request", ambiguous=True),
        ProviderTimeoutError("read timed out", ambiguous=True),
        KeyError("a bug in the plugin"),
    ],
)
async def test_no_fallback_after_an_ambiguous_failure(
    make_gateway, fake_factory, fake_spec, failure: Exception
) -> None:
    """A create that may have been accepted is raised: a fallback could bill twice."""
    primary, backup = fake_factory("primary"), fake_factory("backup")
    primary.create_errors.append(failure)
    gateway = make_gateway(fake_spec(primary), fake_spec(backup))
    with pytest.raises(ProviderError) as e:
        await gateway.create(_request("primary/p", fallbacks=["backup/b"]))
    assert e.value.ambiguous is True
    assert e.value.provider == "primary"
    assert _ops(backup, "create") == []


async def test_fallbacks_are_tried_in_order_and_the_last_error_raised(
    make_gateway, fake_factory, fake_spec
) -> None:
    """Every target fails before acceptance: each is tried once, the last error raised."""
    fakes = [fake_factory(name) for name in ("one", "two", "three")]
    for i, fake in enumerate(fakes):
        fake.create_errors.append(ProviderError(f"failure {i}"))
    gateway = make_gateway(*(fake_spec(f) for f in fakes))
    with pytest.raises(ProviderError, match="failure 2") as e:
        await gateway.create(_request("one/m", fallbacks=["two/m", "three/m"]))
    assert e.value.provider == "three"
    assert [len(_ops(f, "create")) for f in fakes] == [1, 1, 1]


async def test_a_fallback_without_create_is_skipped(make_gateway, fake_factory, fake_spec) -> None:
    """A primary that cannot create hands over to the fallback."""
    backup = fake_factory("backup")
    thin = types.SimpleNamespace(retrieve=backup.retrieve)
    gateway = make_gateway(
        ProviderSpec(type="thin", factory=lambda s: thin, requires_key=False), fake_spec(backup)
    )
    video = await gateway.create(_request("thin/m", fallbacks=["backup/m"]))
    assert video.provider == "backup"


async def test_unknown_fallbacks_fail_before_anything_is_sent(
    make_gateway, fake, fake_spec
) -> None:
    """Every target is checked before the first create goes out."""
    gateway = make_gateway(fake_spec(fake))
    with pytest.raises(InvalidRequestError, match="unknown provider 'ghost'"):
        await gateway.create(_request(fallbacks=["ghost/m"]))
    assert fake.calls == []


# -- idempotency ----------------------------------------------------------------------------


async def test_idempotent_create_returns_the_first_job(make_gateway, fake, fake_spec) -> None:
    """The same key gives the same job, and the repeat sends nothing upstream."""
    gateway = make_gateway(fake_spec(fake))
    first = await gateway.create(_request(idempotency_key="k-1"))
    calls = len(fake.calls)
    again = await gateway.create(_request(idempotency_key="k-1"))
    assert len(fake.calls) == calls
    other = await gateway.create(_request(idempotency_key="k-2"))
    assert again == first
    assert other.id != first.id
    assert len(_ops(fake, "create")) == 2


async def test_concurrent_idempotent_creates_send_once(make_gateway, fake, fake_spec) -> None:
    """Creates racing with one key still make a single upstream job."""
    gateway = make_gateway(fake_spec(fake))
    ids: list[str] = []

    async def create() -> None:
        ids.append((await gateway.create(_request(idempotency_key="race"))).id)

    async with anyio.create_task_group() as tg:
        for _ in range(5):
            tg.start_soon(create)
    assert len(set(ids)) == 1
    assert len(_ops(fake, "create")) == 1


async def test_idempotency_keys_are_per_owner(make_gateway, fake, fake_spec) -> None:
    """Two owners using the same key get two jobs."""
    gateway = make_gateway(fake_spec(fake))
    alice = await gateway.create(_request(idempotency_key="k"), owner="alice")
    bob = await gateway.create(_request(idempotency_key="k"), owner="bob")
    assert alice.id != bob.id
    assert (await gateway.create(_request(idempotency_key="k"), owner="alice")).id == alice.id


async def test_a_failed_create_does_not_use_up_its_key(make_gateway, fake, fake_spec) -> None:
    """After a create that failed, the same key creates for real."""
    fake.create_errors.append(ProviderError("refused"))
    gateway = make_gateway(fake_spec(fake))
    with pytest.raises(ProviderError):
        await gateway.create(_request(idempotency_key="k"))
    video = await gateway.create(_request(idempotency_key="k"))
    assert video.status is VideoStatus.QUEUED
    assert len(_ops(fake, "create")) == 2


# -- owners ---------------------------------------------------------------------------------


async def test_owners_see_only_their_jobs(make_gateway, fake, fake_spec) -> None:
    """Another owner's job is a 404 for every operation, and absent from their list."""
    gateway = make_gateway(fake_spec(fake))
    mine = await gateway.create(_request(), owner="alice")
    theirs = await gateway.create(_request(), owner="bob")
    assert (await gateway.retrieve(mine.id, owner="alice")).id == mine.id
    for attempt in (
        lambda: gateway.retrieve(mine.id, owner="bob"),
        lambda: gateway.delete(mine.id, owner="bob"),
        lambda: gateway.remix(mine.id, "again", owner="bob"),
        lambda: gateway.wait(mine.id, owner="bob", timeout=0),
    ):
        with pytest.raises(NotFoundError):
            await attempt()
    with pytest.raises(NotFoundError):
        async with gateway.download(mine.id, owner="bob"):
            pass
    assert [v.id for v in (await gateway.list("fake", owner="alice")).data] == [mine.id]
    assert [v.id for v in (await gateway.list("fake", owner="bob")).data] == [theirs.id]
    unknown = VideoId.build("never-created", "fake")
    with pytest.raises(NotFoundError):
        await gateway.retrieve(unknown, owner="alice")


async def test_owner_lists_come_from_the_index(make_gateway, fake_factory, fake_spec) -> None:
    """An owner's list is the index's even where the provider has a native list."""
    lister = fake_factory("lister", listing=True)
    gateway = make_gateway(fake_spec(lister))
    mine = await gateway.create(_request("lister/m"), owner="alice")
    await gateway.create(_request("lister/m"), owner="bob")
    page = await gateway.list("lister", owner="alice")
    assert [v.id for v in page.data] == [mine.id]
    assert _ops(lister, "list") == []


# -- keys -----------------------------------------------------------------------------------


@pytest.fixture(name="keyed")
def _keyed(monkeypatch, fake_spec, fake):
    """A spec whose provider needs a key, from FAKE_KEY_A or FAKE_KEY_B."""
    monkeypatch.setenv("FAKE_KEY_A", "sk-fake-a-0123456789")
    monkeypatch.setenv("FAKE_KEY_B", "sk-fake-b-0123456789")
    return fake_spec(fake, requires_key=True, key_env=("FAKE_KEY_A", "FAKE_KEY_B"))


async def test_keys_rotate_and_jobs_keep_theirs(make_gateway, keyed, fake) -> None:
    """Creates take the keys in turn; every later call on a job uses its creator's key."""
    gateway = make_gateway(keyed)
    jobs = [await gateway.create(_request()) for _ in range(3)]
    assert [k for _, _, k in _ops(fake, "create")] == ["FAKE_KEY_A", "FAKE_KEY_B", "FAKE_KEY_A"]
    fake.calls.clear()
    for job in reversed(jobs):
        await gateway.retrieve(job.id)
    await gateway.remix(jobs[1].id, "again")
    async with gateway.download(jobs[1].id) as stream:
        await stream.read()
    await gateway.delete(jobs[1].id)
    assert [k for _, _, k in fake.calls] == ["FAKE_KEY_A", "FAKE_KEY_B", "FAKE_KEY_A"] + [
        "FAKE_KEY_B"
    ] * 3


async def test_a_remix_keeps_its_sources_key(make_gateway, keyed, fake) -> None:
    """A remix is made with, and later polled with, the key of the job it remixes."""
    gateway = make_gateway(keyed)
    await gateway.create(_request())
    source = await gateway.create(_request())
    remixed = await gateway.remix(source.id, "again")
    fake.calls.clear()
    await gateway.retrieve(remixed.id)
    assert fake.calls == [("retrieve", "remix/2", "FAKE_KEY_B")]


async def test_a_gone_key_falls_back_to_the_first(make_gateway, keyed, fake, monkeypatch) -> None:
    """A job whose key is no longer configured is polled with the first key."""
    gateway = make_gateway(keyed)
    await gateway.create(_request())
    second = await gateway.create(_request())
    monkeypatch.delenv("FAKE_KEY_B")
    later = make_gateway(keyed, index=gateway.index)
    fake.calls.clear()
    await later.retrieve(second.id)
    assert fake.calls == [("retrieve", "jobs/fake:1", "FAKE_KEY_A")]


async def test_a_missing_key_is_an_authentication_error(make_gateway, keyed, monkeypatch) -> None:
    """Without any key set, operations fail with a 401 naming the variables to set."""
    monkeypatch.delenv("FAKE_KEY_A")
    monkeypatch.delenv("FAKE_KEY_B")
    gateway = make_gateway(keyed)
    with pytest.raises(AuthenticationError) as e:
        await gateway.create(_request())
    assert e.value.message == "no API key for provider 'fake': set FAKE_KEY_A or FAKE_KEY_B"
    assert e.value.status_code == 401
    with pytest.raises(AuthenticationError, match="FAKE_KEY_A"):
        await gateway.retrieve(VideoId.build("x", "fake"))


async def test_configured_key_variables_win(make_gateway, keyed, fake, monkeypatch) -> None:
    """An instance's api_key_env replaces the type's well-known variables."""
    monkeypatch.setenv("MY_KEY", "sk-mine-0123456789")
    gateway = make_gateway(
        keyed, instances=[InstanceConfig(name="mine", type="fake", key_env=("MY_KEY",))]
    )
    instance = gateway.instance("mine")
    assert [k.name for k in instance.keys] == ["MY_KEY"]
    assert "sk-mine" not in repr(instance)
    await gateway.create(_request("mine/m"))
    assert _ops(fake, "create")[-1][2] == "MY_KEY"


# -- provider misbehaviour -------------------------------------------------------------------


async def test_foreign_exceptions_become_provider_errors(make_gateway, fake, fake_spec) -> None:
    """A provider raising something not from reelgate is reported as a ProviderError."""
    gateway = make_gateway(fake_spec(fake))
    video = await gateway.create(_request())
    native = VideoId.parse(video.id).native
    fake.states[native] = [ValueError("secret-ish detail")]  # type: ignore[list-item]
    with pytest.raises(ProviderError) as e:
        await gateway.retrieve(video.id)
    assert e.value.message == "provider 'fake' failed unexpectedly in video_retrieve: ValueError"
    assert e.value.ambiguous is False
    assert isinstance(e.value.__cause__, ValueError)


async def test_provider_errors_are_labelled(make_gateway, fake, fake_spec) -> None:
    """A reelgate error raised bare by a provider gets the instance and operation."""
    fake.create_errors.append(RateLimitError("slow down"))
    gateway = make_gateway(fake_spec(fake))
    with pytest.raises(RateLimitError) as e:
        await gateway.create(_request())
    assert (e.value.provider, e.value.request_type) == ("fake", "video_generation")


# -- the other operations ---------------------------------------------------------------------


async def test_retrieve_applies_the_status_machine(make_gateway, fake, fake_spec) -> None:
    """A regressing provider is smoothed over; created_at stays the creation time."""
    gateway = make_gateway(fake_spec(fake))
    video = await gateway.create(_request())
    fake.script(
        "jobs/fake:0",
        Video(id="jobs/fake:0", status="in_progress", progress=60),
        Video(id="jobs/fake:0", status="queued", progress=10),
    )
    first = await gateway.retrieve(video.id)
    second = await gateway.retrieve(video.id)
    assert (second.status, second.progress) == (VideoStatus.IN_PROGRESS, 60)
    assert first.created_at == second.created_at == video.created_at
    assert second.prompt == "a paper boat"


@pytest.mark.parametrize("video_id", ["no-colon", "abc:", "%zz:fake"])
async def test_malformed_ids_are_invalid_everywhere(make_gateway, video_id: str) -> None:
    """Every operation refuses a malformed id with a 400."""
    gateway = make_gateway()
    for attempt in (
        lambda: gateway.retrieve(video_id),
        lambda: gateway.delete(video_id),
        lambda: gateway.remix(video_id, "x"),
        lambda: gateway.wait(video_id),
        lambda: gateway.download_to(video_id, "out.mp4"),
    ):
        with pytest.raises(InvalidRequestError):
            await attempt()


async def test_delete_then_retrieve_is_not_found(make_gateway, fake, fake_spec) -> None:
    """A deleted job is gone for every operation and from the list."""
    gateway = make_gateway(fake_spec(fake))
    video = await gateway.create(_request())
    deleted = await gateway.delete(video.id)
    assert (deleted.id, deleted.deleted) == (video.id, True)
    assert _ops(fake, "delete") == [("delete", "jobs/fake:0", None)]
    for attempt in (lambda: gateway.retrieve(video.id), lambda: gateway.delete(video.id)):
        with pytest.raises(NotFoundError):
            await attempt()
    assert (await gateway.list("fake")).data == ()


async def test_remix_links_to_its_source(make_gateway, fake, fake_spec) -> None:
    """A remix names its source by the qualified id, now and on later polls."""
    gateway = make_gateway(fake_spec(fake))
    source = await gateway.create(_request())
    remixed = await gateway.remix(source.id, "at night")
    assert remixed.id == VideoId.build("remix/1", "fake")
    assert remixed.remixed_from_video_id == source.id
    assert remixed.prompt == "at night"
    assert (await gateway.retrieve(remixed.id)).remixed_from_video_id == source.id
    with pytest.raises(InvalidRequestError, match="prompt") as e:
        await gateway.remix(source.id, "  ")
    assert e.value.param == "prompt"


async def test_index_backed_lists(make_gateway, fake, fake_spec) -> None:
    """Without a native list, the index lists the jobs newest first, with cursors."""
    gateway = make_gateway(fake_spec(fake))
    ids = [(await gateway.create(_request())).id for _ in range(5)]
    first = await gateway.list("fake", limit=2)
    assert ([v.id for v in first.data], first.has_more) == ([ids[4], ids[3]], True)
    rest = await gateway.list("fake", limit="10", after=first.last_id)
    assert ([v.id for v in rest.data], rest.has_more) == ([ids[2], ids[1], ids[0]], False)
    ascending = await gateway.list("fake", order="asc", limit=100)
    assert [v.id for v in ascending.data] == ids
    assert [v.id async for v in gateway.iter_videos("fake", page_size=2)] == ids[::-1]
    assert [v.id async for v in gateway.iter_videos("fake", order="asc", page_size=1)] == ids


async def test_index_backed_lists_show_unfinished_jobs_as_they_are_now(
    make_gateway, fake, fake_spec
) -> None:
    """An index-backed page polls its unfinished jobs, and only those."""
    gateway = make_gateway(fake_spec(fake))
    running = await gateway.create(_request())
    finished = await gateway.create(_request())
    done = Video(id=VideoId.parse(finished.id).native, status="completed", created_at=1)
    fake.script(done.id, done)
    await gateway.retrieve(finished.id)
    native = VideoId.parse(running.id).native
    fake.script(native, Video(id=native, status="in_progress", progress=40, created_at=1))
    polls = len(_ops(fake, "retrieve"))
    page = await gateway.list("fake")
    assert [(v.id, v.status.value, v.progress) for v in page.data] == [
        (finished.id, "completed", 100),
        (running.id, "in_progress", 40),
    ]
    assert [op[1] for op in _ops(fake, "retrieve")[polls:]] == [native]


async def test_an_index_backed_page_polls_a_bounded_number_of_jobs(
    make_gateway, fake, fake_spec
) -> None:
    """A page of 100 unfinished jobs makes at most 20 polls, not 100."""
    gateway = make_gateway(fake_spec(fake))
    for _ in range(100):
        await gateway.create(_request())
    polls = len(_ops(fake, "retrieve"))
    page = await gateway.list("fake", limit=100)
    assert len(page.data) == 100
    assert len(_ops(fake, "retrieve")) - polls == 20


async def test_a_job_that_cannot_be_polled_lists_as_last_seen(
    make_gateway, fake, fake_spec
) -> None:
    """A poll that fails while listing leaves the job's last state on the page."""
    gateway = make_gateway(fake_spec(fake))
    video = await gateway.create(_request())
    native = VideoId.parse(video.id).native
    fake.script(native, ProviderError("upstream down"))  # type: ignore[arg-type]
    page = await gateway.list("fake")
    assert [(v.id, v.status.value) for v in page.data] == [(video.id, "queued")]


async def test_native_lists_ask_the_provider(make_gateway, fake_factory, fake_spec) -> None:
    """A provider's own list is used; items are qualified and recorded."""
    lister = fake_factory("lister", listing=True)
    gateway = make_gateway(fake_spec(lister))
    ids = [(await gateway.create(_request("lister/m"))).id for _ in range(3)]
    page = await gateway.list("lister", limit=2)
    assert [v.id for v in page.data] == [ids[2], ids[1]]
    assert page.has_more is True
    rest = await gateway.list("lister", limit=2, after=page.last_id)
    assert [v.id for v in rest.data] == [ids[0]]
    assert [c[1] for c in _ops(lister, "list")] == [None, "jobs/lister:1"]
    assert all(v.provider == "lister" for v in page.data)
    assert [v.id async for v in gateway.iter_videos("lister", page_size=1)] == ids[::-1]


@pytest.mark.parametrize(
    ("kwargs", "param"),
    [
        ({"limit": 0}, "limit"),
        ({"limit": 101}, "limit"),
        ({"limit": "x"}, "limit"),
        ({"order": "sideways"}, "order"),
        ({"after": "abc:sim"}, "after"),
        ({"after": "no-colon"}, "video_id"),
    ],
)
async def test_bad_list_parameters(make_gateway, fake, fake_spec, kwargs, param) -> None:
    """Bad limits, orders and cursors (another provider's included) are 400s."""
    gateway = make_gateway(fake_spec(fake))
    with pytest.raises(InvalidRequestError) as e:
        await gateway.list("fake", **kwargs)
    assert e.value.param == param


async def test_close_is_idempotent_and_closes_providers(make_gateway, fake_spec) -> None:
    """aclose closes every provider once, however often it is called."""
    closed: list[str] = []

    class Closing:
        async def aclose(self) -> None:
            closed.append("closed")

    gateway = make_gateway(
        ProviderSpec(type="closing", factory=lambda s: Closing(), requires_key=False)
    )
    async with gateway:
        pass
    await gateway.aclose()
    assert closed == ["closed"]


async def test_each_instance_has_its_own_connection_pool() -> None:
    """Without a client handed in, instances do not share a pool; all are closed at the end."""
    clients: dict[str, Any] = {}

    class Pooled:
        def __init__(self, setup: ProviderSetup) -> None:
            clients[setup.name] = setup.upstream.client

        async def create(self, request: CreateVideo, *, call: Any) -> Video:
            raise AssertionError("not called")

    class Plugin:
        @reelgate.hookimpl
        def reelgate_register_providers(self, registry: reelgate.ProviderRegistry) -> None:
            registry.add(ProviderSpec(type="pooled", factory=Pooled, requires_key=False))

    plugins = Plugins()
    plugins.register(Plugin(), name="pooled")
    config = Config(
        instances=(
            InstanceConfig(name="one", type="pooled"),
            InstanceConfig(name="two", type="pooled"),
        ),
        default_instances=False,
    )
    async with Gateway(config, plugins=plugins):
        assert clients["one"] is not clients["two"]
    assert all(client.is_closed for client in clients.values())
    clients.clear()
    shared = make_client()
    async with shared, Gateway(config, plugins=plugins, http_client=shared):
        assert clients["one"] is clients["two"] is shared
