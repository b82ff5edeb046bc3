"""The conformance kit's contract: the behaviour every provider shows through the gateway."""

from __future__ import annotations

import itertools
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from contextlib import asynccontextmanager
from typing import Any, ClassVar, TypeVar
from urllib.parse import urlsplit

import attrs
import pytest

from ..call import Call, Operation
from ..emulation import FAIL, SLOW, Fault, Faults, SeenRequest, serve
from ..errors import (
    AuthenticationError,
    InvalidRequestError,
    NotFoundError,
    PermissionDeniedError,
    ProviderError,
    ProviderTimeoutError,
    RateLimitError,
    ReelgateError,
    UnsupportedOperationError,
    VideoFailedError,
    VideoNotReadyError,
)
from ..gateway import Gateway
from ..ids import VideoId
from ..model import CANCELLED, CreateVideo, Video, VideoStatus
from ..status import is_legal
from ._harness import IN_PROCESS_URL, KEY_A, KEY_B, Harness, Relay, gateway_for

__all__ = ["ProviderContract"]

F = TypeVar("F", bound=Callable[..., Any])


class ProviderContract:
    """
    The behaviour every provider must show through the gateway.

    Subclasses set `provider_type` and `model` and implement `plugin` and `emulator`;
    they may override `settings`, `failing_request`, `slow_request`,
    `unknown_native_id`, the request patterns (`retrieve_request`,
    `create_path_pattern`, `download_path_pattern`, `cancel_request`), `asset_host`
    and `leak_markers` when their emulator or their credentials need something else.
    """

    pytestmark: ClassVar[Any] = pytest.mark.anyio

    #: The provider type the plugin registers.
    provider_type: ClassVar[str]
    #: The native model name to create jobs with.
    model: ClassVar[str]
    #: How to reach the emulator: in-process, over loopback HTTP, or both.
    transports: ClassVar[tuple[str, ...]] = ("asgi", "http")
    #: Seconds `wait` may take for one job.
    wait_timeout: ClassVar[float] = 30.0

    _contract_tests: ClassVar[frozenset[str]] = frozenset()

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        for name in ProviderContract._contract_tests:
            mine = cls.__dict__.get(name, ProviderContract.__dict__[name])
            if mine is not ProviderContract.__dict__[name] and not getattr(
                mine, "_reelgate_override", False
            ):
                raise TypeError(
                    f"{cls.__name__}.{name} replaces a contract test; mark a deliberate "
                    "override with @ProviderContract.override and say why"
                )

    @staticmethod
    def override(fn: F) -> F:
        """Mark a deliberate override of a contract test."""
        fn._reelgate_override = True  # type: ignore[attr-defined]  # a marker attribute
        return fn

    # -- what a subclass provides ------------------------------------------------------

    def plugin(self) -> object:
        """The object whose ``reelgate_register_providers`` registers the provider."""
        raise NotImplementedError

    def emulator(self) -> Any:
        """
        A fresh ASGI emulator whose outermost layer is a `FaultMiddleware`.

        None declares a provider without an HTTP upstream (the fault checks skip).
        """
        raise NotImplementedError

    def settings(self, base_url: str) -> dict[str, Any]:
        """The instance's settings for an emulator at `base_url`."""
        return {"base_url": base_url}

    def failing_request(self, request: CreateVideo) -> CreateVideo:
        """`request`, changed so that the job fails."""
        return attrs.evolve(request, prompt=f"{request.prompt} {FAIL}")

    def slow_request(self, request: CreateVideo) -> CreateVideo:
        """`request`, changed so that the job stays unfinished for a while."""
        return attrs.evolve(request, prompt=f"{request.prompt} {SLOW}")

    def unknown_native_id(self) -> str:
        """A well-formed native id the emulator has never issued."""
        return "does-not-exist-0000"

    def retrieve_request(self) -> tuple[str, str | None]:
        """
        How the provider's retrieve request looks: its method and a path pattern.

        Returns:
            The HTTP method, and a regular expression matching the path (None: any
            path). Vertex AI, for one, polls with a POST.
        """
        return "GET", None

    def create_path_pattern(self) -> str | None:
        """A regular expression matching the path of the create request (None: any POST)."""
        return None

    def download_path_pattern(self) -> str | None:
        """A regular expression matching the emulator's download path (None: any GET)."""
        return None

    def cancel_request(self) -> tuple[str | None, str | None]:
        """
        How a cancel request looks, for providers that can only cancel.

        Returns:
            The HTTP method (None: any) and a regular expression matching the path
            (default: a path with ``cancel`` in it, as in ``/jobs/{id}:cancel``).
        """
        return None, "cancel"

    def asset_host(self, base_url: str) -> str | None:
        """
        The host name the emulator serves downloads on, where no key may go.

        The default, ``"*"``, is any host but the API's (an emulator names it, e.g. with
        `reelgate.emulation.asset_origin`: ``assets.emulator.test`` in-process,
        ``localhost`` for a server on ``127.0.0.1``). Name it to be exact. Return None
        for an API that serves its videos itself, with the key (the check then shows
        that no request goes to any other host).

        Args:
            base_url: Where the emulator is.
        """
        return "*"

    def leak_markers(self) -> Sequence[str]:
        """
        What no request to another host than the API's may carry: by default, the keys.

        A provider that sends something derived from its key instead of the key (a
        signed token) returns what marks it, e.g. the token's fixed prefix.
        """
        return (KEY_A, KEY_B)

    def _read_fault(self, **kwargs: Any) -> Fault:
        method, path = self.retrieve_request()
        return Fault(method=method, path=path, **kwargs)

    def _reads(self, faults: Faults) -> int:
        method, path = self.retrieve_request()
        return faults.count(method, path)

    # -- fixtures ----------------------------------------------------------------------

    @pytest.fixture(params=["asyncio", "trio"])
    def anyio_backend(self, request: pytest.FixtureRequest) -> str:
        """Every contract test runs under asyncio and trio."""
        return str(request.param)

    @classmethod
    def pytest_generate_tests(cls, metafunc: pytest.Metafunc) -> None:
        """Run each test over every transport the subclass supports."""
        if "transport" in metafunc.fixturenames:
            metafunc.parametrize("transport", cls.transports, scope="class")

    @pytest.fixture(name="loopback", scope="class")
    @classmethod
    def _loopback(cls, transport: str) -> Iterator[tuple[Relay, str] | None]:
        """One loopback server for the class's tests over real HTTP."""
        if transport != "http":
            yield None
            return
        relay = Relay()
        with serve(relay) as url:
            yield relay, url

    @pytest.fixture(name="emulator_url")
    def _emulator_url(self, loopback: tuple[Relay, str] | None) -> Iterator[tuple[Any, str | None]]:
        """A fresh emulator for each test, and its URL when it is served on loopback."""
        app = self.emulator()
        if app is None or loopback is None:
            yield app, None
            return
        relay, url = loopback
        relay.app = app
        try:
            yield app, url
        finally:
            relay.app = None

    @pytest.fixture(name="harness")
    async def _harness(self, emulator_url: tuple[Any, str | None]) -> AsyncIterator[Harness]:
        app, url = emulator_url
        async with self.connect(app, url) as harness:
            yield harness

    @asynccontextmanager
    async def connect(self, app: Any, url: str | None = None) -> AsyncIterator[Harness]:
        """
        A harness on the emulator `app`: in-process, or over HTTP when `url` serves it.

        The contract's fixtures use it; so can a plugin's own tests, to run one check
        against a modified emulator.
        """
        faults = None
        if app is not None:
            faults = getattr(app, "faults", None)
            if not isinstance(faults, Faults):
                pytest.fail(
                    f"{type(self).__name__}.emulator() must return an app whose outermost "
                    "layer is reelgate.emulation.FaultMiddleware (so that `app.faults` "
                    "scripts faults and records requests): return "
                    "FaultMiddleware(routes, error_body=...)",
                    pytrace=False,
                )
        base = url or IN_PROCESS_URL
        instance = f"contract-{self.provider_type}"
        async with gateway_for(
            self.provider_type,
            plugin=self.plugin(),
            app=app if url is None else None,
            base_url=None,  # the settings hook places the address
            settings=self.settings(base),
            instance=instance,
        ) as gateway:
            yield Harness(gateway, instance, f"{instance}/{self.model}", faults, base)

    # -- helpers -----------------------------------------------------------------------

    def _caps(self, h: Harness) -> frozenset[str]:
        return h.gateway.instance(h.instance).capabilities

    def _need(self, h: Harness, *ops: str) -> None:
        missing = [op for op in ops if op not in self._caps(h)]
        if missing:
            pytest.skip(f"the provider does not implement {', '.join(missing)}")

    async def _completed(self, h: Harness, **kwargs: Any) -> Video:
        video = await h.gateway.create(h.request(**kwargs))
        done = await h.gateway.wait(video.id, timeout=self.wait_timeout)
        assert done.status is VideoStatus.COMPLETED, done
        return done

    async def _gone(self, h: Harness, video_id: str) -> None:
        with pytest.raises(NotFoundError):
            await h.gateway.retrieve(video_id)
        page = await h.gateway.list(h.instance)
        assert video_id not in [v.id for v in page.data]

    # -- lifecycle ---------------------------------------------------------------------

    async def test_create_returns_a_qualified_job(self, harness: Harness) -> None:
        """Create answers at once with a job whose id names the instance."""
        video = await harness.gateway.create(harness.request())
        parsed = VideoId.parse(video.id)
        assert parsed.instance == harness.instance
        assert video.provider == harness.instance
        assert video.status in (VideoStatus.QUEUED, VideoStatus.IN_PROGRESS, VideoStatus.COMPLETED)
        assert video.prompt == "a paper boat"
        assert video.created_at is not None

    async def test_lifecycle_to_completed(self, harness: Harness) -> None:
        """A job completes: status completed, progress 100, timestamps in order."""
        video = await self._completed(harness)
        assert video.progress in (None, 100)
        assert video.error is None
        assert video.created_at is not None
        if video.completed_at is not None:
            assert video.completed_at >= video.created_at
        assert video.raise_for_status() is video

    async def test_lifecycle_to_failed(self, harness: Harness) -> None:
        """A failing job ends failed, with a reason, and raise_for_status raises."""
        video = await harness.gateway.create(self.failing_request(harness.request()))
        done = await harness.gateway.wait(video.id, timeout=self.wait_timeout)
        assert done.status is VideoStatus.FAILED
        assert done.error is not None
        assert done.error.message
        with pytest.raises(VideoFailedError) as caught:
            done.raise_for_status()
        assert caught.value.video is done

    async def test_a_failed_job_is_read_without_retries(self, harness: Harness) -> None:
        """Reading a failed job takes no more upstream requests than reading a completed one."""
        faults = harness.require_faults()
        failed = await harness.gateway.create(self.failing_request(harness.request()))
        completed = await harness.gateway.create(harness.request("completed"))
        await harness.gateway.wait(failed.id, timeout=self.wait_timeout)
        await harness.gateway.wait(completed.id, timeout=self.wait_timeout)
        with faults.recording() as healthy:
            await harness.gateway.retrieve(completed.id)
        with faults.recording() as seen:
            again = await harness.gateway.retrieve(failed.id)
        assert again.status is VideoStatus.FAILED
        assert len(seen) <= len(healthy), (
            f"one retrieve of a failed job made {len(seen)} upstream requests, one of a "
            f"completed job {len(healthy)}: an error answer for a failed job must not be "
            "retried (UpstreamError(retryable=False) from the error parser)" + _listing(seen)
        )

    async def test_id_round_trips(self, harness: Harness) -> None:
        """Retrieve accepts the id create returned and answers with the same id."""
        video = await harness.gateway.create(harness.request())
        again = await harness.gateway.retrieve(video.id)
        assert again.id == video.id
        assert VideoId.parse(again.id) == VideoId.parse(video.id)
        assert VideoId.build(*VideoId.parse(video.id)) == video.id

    async def test_polling_is_monotonic(self, harness: Harness) -> None:
        """While polling, status moves only forward and progress never decreases."""
        seen: list[Video] = []
        video = await harness.gateway.create(harness.request())
        seen.append(video)
        await harness.gateway.wait(video.id, timeout=self.wait_timeout, on_update=seen.append)
        for before, after in itertools.pairwise(seen):
            assert is_legal(before.status, after.status), (before.status, after.status)
            if before.progress is not None and after.progress is not None:
                assert after.progress >= before.progress
        assert seen[-1].done

    async def test_created_at_is_stable(self, harness: Harness) -> None:
        """created_at is the job's creation time, not the time of each poll."""
        video = await harness.gateway.create(harness.request())
        first = await harness.gateway.retrieve(video.id)
        later = await harness.gateway.wait(video.id, timeout=self.wait_timeout)
        assert first.created_at == later.created_at == video.created_at

    # -- listing -----------------------------------------------------------------------

    async def test_list_pages_have_no_gap_and_no_duplicate(self, harness: Harness) -> None:
        """Following cursors two at a time visits every job once, newest first."""
        created = [(await harness.gateway.create(harness.request(f"job {i}"))).id for i in range(5)]
        seen: list[str] = []
        after: str | None = None
        while True:
            page = await harness.gateway.list(harness.instance, limit=2, after=after)
            assert len(page.data) <= 2
            seen += [v.id for v in page.data]
            if not page.has_more:
                break
            assert len(page.data) == 2
            after = page.last_id
        assert len(seen) == len(set(seen))
        assert seen == list(reversed(created))

    async def test_list_orders_and_has_more_is_exact(self, harness: Harness) -> None:
        """order=asc reverses the list; has_more is false exactly on the last page."""
        created = [(await harness.gateway.create(harness.request(f"job {i}"))).id for i in range(3)]
        ascending = await harness.gateway.list(harness.instance, limit=3, order="asc")
        assert [v.id for v in ascending.data] == created
        assert ascending.has_more is False
        first = await harness.gateway.list(harness.instance, limit=2, order="asc")
        assert first.has_more is True
        assert first.first_id == created[0]
        assert first.last_id == created[1]
        streamed = [
            v.id
            async for v in harness.gateway.iter_videos(harness.instance, order="asc", page_size=1)
        ]
        assert streamed == created

    @pytest.mark.parametrize(
        ("kwargs", "param"),
        [
            ({"limit": 0}, "limit"),
            ({"limit": 101}, "limit"),
            ({"limit": "x"}, "limit"),
            ({"order": "sideways"}, "order"),
            ({"after": "no-provider-suffix"}, "video_id"),
        ],
    )
    async def test_list_rejects_bad_parameters(
        self, harness: Harness, kwargs: dict[str, Any], param: str
    ) -> None:
        """A bad limit, order or cursor is an InvalidRequestError naming the parameter."""
        with pytest.raises(InvalidRequestError) as caught:
            await harness.gateway.list(harness.instance, **kwargs)
        assert caught.value.param == param
        assert caught.value.status_code == 400

    # -- download ----------------------------------------------------------------------

    async def test_download_streams_the_video(self, harness: Harness) -> None:
        """A completed job's video streams as MP4 bytes with its content type."""
        self._need(harness, "download")
        video = await self._completed(harness)
        chunks: list[bytes] = []
        async with harness.gateway.download(video.id) as stream:
            assert stream.content_type.startswith("video/")
            async for chunk in stream:
                chunks.append(chunk)
        body = b"".join(chunks)
        assert body[4:8] == b"ftyp"
        if stream.content_length is not None:
            assert stream.content_length == len(body)

    async def test_download_before_completion_is_not_ready(self, harness: Harness) -> None:
        """Downloading an unfinished job is a VideoNotReadyError (HTTP 409)."""
        self._need(harness, "download")
        video = await harness.gateway.create(self.slow_request(harness.request()))
        with pytest.raises(VideoNotReadyError) as caught:
            async with harness.gateway.download(video.id):
                pass
        assert caught.value.status_code == 409

    async def test_download_to_writes_the_file_atomically(
        self, harness: Harness, tmp_path: Any
    ) -> None:
        """download_to writes the whole file and leaves no partial file behind."""
        self._need(harness, "download")
        video = await self._completed(harness)
        path = await harness.gateway.download_to(video.id, tmp_path / "out.mp4")
        assert path.read_bytes()[4:8] == b"ftyp"
        assert sorted(p.name for p in tmp_path.iterdir()) == ["out.mp4"]

    # -- other operations ------------------------------------------------------------

    async def test_unsupported_operations_raise_unsupported(self, harness: Harness) -> None:
        """Every operation a provider lacks raises UnsupportedOperationError, not AttributeError."""
        # The gateway lists from its index and deletes by forgetting: those never raise.
        missing = [op for op in ("download", "remix") if op not in self._caps(harness)]
        if not missing:
            pytest.skip("the provider implements download and remix")
        video = await harness.gateway.create(harness.request())
        for op in missing:
            with pytest.raises(UnsupportedOperationError) as caught:
                if op == "download":
                    async with harness.gateway.download(video.id):
                        pass
                else:
                    await harness.gateway.remix(video.id, "again")
            assert caught.value.code == "unsupported_operation"
            assert caught.value.status_code == 400

    async def test_delete_forgets_a_finished_job(self, harness: Harness) -> None:
        """
        A deleted finished job is gone from reelgate; upstream it is deleted if it can be.

        With `delete` the provider says ``deleted`` (or ``cancelled``); without, the job
        stays with the provider (``kept``): a finished job has nothing left to cancel.
        """
        video = await self._completed(harness)
        deleted = await harness.gateway.delete(video.id)
        assert (deleted.id, deleted.deleted) == (video.id, True)
        if Operation.DELETE in self._caps(harness):
            assert deleted.upstream in ("deleted", "cancelled")
        else:
            assert deleted.upstream == "kept"
        await self._gone(harness, video.id)

    async def test_delete_stops_a_running_job(self, harness: Harness) -> None:
        """
        Deleting a running job stops it where the provider can, and always forgets it.

        `delete`: ``deleted`` or ``cancelled``. Only `cancel`: ``cancelled``, the
        emulator saw a cancel request, and the provider reads the job as failed with
        code ``cancelled``. Neither: ``kept``.
        """
        video = await harness.gateway.create(self.slow_request(harness.request()))
        caps = self._caps(harness)
        native = VideoId.parse(video.id).native
        record = await harness.gateway.index.get(harness.instance, native)
        with harness.recording() as seen:
            deleted = await harness.gateway.delete(video.id)
        if Operation.DELETE in caps:
            assert deleted.upstream in ("deleted", "cancelled")
        elif Operation.CANCEL in caps:
            assert deleted.upstream == "cancelled"
            if harness.faults is not None:
                method, path = self.cancel_request()
                assert any(r.matches(method, path) for r in seen), (
                    f"no request matching {method or 'any method'} {path!r} (cancel_request) "
                    "reached the emulator" + _listing(seen)
                )
            instance = harness.gateway.instance(harness.instance)
            call = Call(
                instance=harness.instance,
                operation=Operation.RETRIEVE,
                key=instance.key_named(record.key_name if record else None),
                job_state=record.provider_state if record else None,
            )
            upstream = await instance.provider.retrieve(native, call=call)  # type: ignore[attr-defined]  # every provider retrieves
            assert upstream.status is VideoStatus.FAILED, upstream
            assert upstream.error is not None
            assert upstream.error.code == CANCELLED, (
                "a cancelled job reads as failed with reelgate.model.cancelled_error()"
            )
        else:
            assert deleted.upstream == "kept"
        await self._gone(harness, video.id)

    async def test_remix_links_to_its_source(self, harness: Harness) -> None:
        """A remix is a new job that names the job it came from."""
        self._need(harness, "remix")
        video = await self._completed(harness)
        remixed = await harness.gateway.remix(video.id, "the same, at night")
        assert remixed.id != video.id
        assert remixed.remixed_from_video_id == video.id
        again = await harness.gateway.retrieve(remixed.id)
        assert again.remixed_from_video_id == video.id

    async def test_unknown_job_is_not_found(self, harness: Harness) -> None:
        """A well-formed id of a job that does not exist is a NotFoundError (404)."""
        missing = VideoId.build(self.unknown_native_id(), harness.instance)
        with pytest.raises(NotFoundError) as caught:
            await harness.gateway.retrieve(missing)
        assert caught.value.status_code == 404

    async def test_malformed_id_is_invalid(self, harness: Harness) -> None:
        """An id without its provider part is an InvalidRequestError."""
        with pytest.raises(InvalidRequestError, match="id:provider"):
            await harness.gateway.retrieve("no-provider-here")

    async def test_idempotent_create_sends_once(self, harness: Harness) -> None:
        """Two creates with one idempotency key give one job and one upstream create."""
        first = await harness.gateway.create(harness.request(idempotency_key="k-1"))
        before = harness.faults.count("POST", self.create_path_pattern()) if harness.faults else 0
        second = await harness.gateway.create(harness.request(idempotency_key="k-1"))
        assert second.id == first.id
        if harness.faults is not None:
            assert harness.faults.count("POST", self.create_path_pattern()) == before

    async def test_jobs_keep_the_key_that_created_them(self, harness: Harness) -> None:
        """Every request about a job uses the key that created it, though creates rotate keys."""
        faults = harness.require_faults()
        jobs: list[tuple[str, set[str]]] = []
        for prompt in ("one", "two"):
            with faults.recording() as seen:
                video = await harness.gateway.create(harness.request(prompt))
            keys = _keys_used(seen)
            assert len(keys) == 1, f"the create of one job used keys {keys}" + _listing(seen)
            jobs.append((video.id, keys))
        assert jobs[0][1] != jobs[1][1], "two creates in a row used the same key"
        for video_id, keys in jobs:
            with faults.recording() as seen:
                await harness.gateway.retrieve(video_id)
            assert _keys_used(seen) == keys, (
                f"a retrieve of a job created with {keys} used {_keys_used(seen)}" + _listing(seen)
            )

    async def test_credentials_stay_on_the_api_host(self, harness: Harness) -> None:
        """After a whole job and its download, no request to another host carried a key."""
        self._need(harness, "download")
        faults = harness.require_faults()
        video = await self._completed(harness)
        async with harness.gateway.download(video.id) as stream:
            async for _ in stream:
                pass
        api_host = urlsplit(harness.base_url).hostname
        elsewhere = [r for r in faults.seen if r.host != api_host]
        markers = self.leak_markers()
        leaks = [r for r in elsewhere if any(r.carries(marker) for marker in markers)]
        assert not leaks, "a key went to another host than the API's" + _listing(leaks)
        asset_host = self.asset_host(harness.base_url)
        if asset_host is None:
            assert not elsewhere, (
                "requests went to another host: if the emulator serves assets there, "
                "asset_host() should name it" + _listing(elsewhere)
            )
        else:
            assert any(asset_host in ("*", r.host) for r in elsewhere), (
                f"the download never reached the asset host {asset_host!r}: serve assets "
                "on reelgate.emulation.asset_origin(request.base_url), or return None "
                "from asset_host() if the API serves videos itself" + _listing(faults.seen)
            )

    # -- upstream faults ---------------------------------------------------------------

    @pytest.mark.parametrize(
        ("status", "error"),
        [
            (401, AuthenticationError),
            (403, PermissionDeniedError),
            (404, NotFoundError),
            (400, InvalidRequestError),
        ],
    )
    async def test_upstream_client_errors_are_mapped(
        self, harness: Harness, status: int, error: type[ReelgateError]
    ) -> None:
        """Upstream 400, 401, 403 and 404 become the matching error, not retried."""
        video = await harness.gateway.create(harness.request())
        faults = harness.require_faults()
        faults.seen.clear()
        faults.add(self._read_fault(status=status, times=5))
        with pytest.raises(error) as caught:
            await harness.gateway.retrieve(video.id)
        assert caught.value.status_code == status
        assert caught.value.upstream is True
        assert caught.value.provider == harness.instance
        assert self._reads(faults) == 1
        _assert_no_secret(caught.value)

    async def test_rate_limit_is_retried_then_succeeds(self, harness: Harness) -> None:
        """One 429 with retry-after-ms is waited out and retried."""
        video = await harness.gateway.create(harness.request())
        faults = harness.require_faults()
        faults.seen.clear()
        faults.add(self._read_fault(status=429, headers={"retry-after-ms": "20"}))
        again = await harness.gateway.retrieve(video.id)
        assert again.id == video.id
        assert self._reads(faults) == 2

    async def test_rate_limit_that_persists_is_raised(self, harness: Harness) -> None:
        """A 429 that outlasts the retries is a RateLimitError with retry_after."""
        video = await harness.gateway.create(harness.request())
        faults = harness.require_faults()
        faults.add(self._read_fault(status=429, headers={"retry-after": "0.01"}, times=10))
        with pytest.raises(RateLimitError) as caught:
            await harness.gateway.retrieve(video.id)
        assert caught.value.status_code == 429
        assert caught.value.retry_after is not None

    async def test_server_errors_are_retried_for_reads(self, harness: Harness) -> None:
        """A 500 then a 503 on a read are retried; the third try succeeds."""
        video = await harness.gateway.create(harness.request())
        faults = harness.require_faults()
        faults.seen.clear()
        faults.add(self._read_fault(status=500))
        faults.add(self._read_fault(status=503))
        again = await harness.gateway.retrieve(video.id)
        assert again.id == video.id
        assert self._reads(faults) == 3

    async def test_server_error_that_persists_is_a_provider_error(self, harness: Harness) -> None:
        """A 5xx that outlasts the retries is a ProviderError (HTTP 502)."""
        video = await harness.gateway.create(harness.request())
        faults = harness.require_faults()
        faults.add(self._read_fault(status=502, times=10))
        with pytest.raises(ProviderError) as caught:
            await harness.gateway.retrieve(video.id)
        assert caught.value.status_code == 502
        _assert_no_secret(caught.value)

    async def test_create_is_not_retried_after_a_server_error(self, harness: Harness) -> None:
        """A 5xx answer to a create may hide a created job: it is raised, not retried."""
        faults = harness.require_faults()
        faults.add(Fault(status=500, method="POST"))
        with pytest.raises(ProviderError) as caught:
            await harness.gateway.create(harness.request())
        assert caught.value.ambiguous is True
        assert faults.count("POST") == 1

    async def test_create_is_not_retried_after_a_dropped_connection(self, harness: Harness) -> None:
        """A connection dropped during a create is raised, not retried."""
        faults = harness.require_faults()
        faults.add(Fault(drop=True, method="POST"))
        with pytest.raises(ProviderError) as caught:
            await harness.gateway.create(harness.request())
        assert caught.value.ambiguous is True
        assert faults.count("POST") == 1

    async def test_create_is_retried_after_a_rate_limit(self, harness: Harness) -> None:
        """A 429 answer to a create is an explicit refusal: it is retried."""
        faults = harness.require_faults()
        faults.add(Fault(status=429, headers={"retry-after-ms": "10"}, method="POST"))
        video = await harness.gateway.create(harness.request())
        assert video.id
        assert faults.count("POST") == 2

    async def test_timeout_is_a_provider_timeout(self, harness: Harness) -> None:
        """An upstream slower than the read timeout is a ProviderTimeoutError (504)."""
        video = await harness.gateway.create(harness.request())
        faults = harness.require_faults()
        faults.add(self._read_fault(delay=2.0, times=10))
        gateway = harness.gateway
        upstream = _upstream_of(gateway, harness.instance)
        upstream.timeouts = attrs.evolve(upstream.timeouts, read=0.2)
        upstream.retry = attrs.evolve(upstream.retry, attempts=2)
        with pytest.raises(ProviderTimeoutError) as caught:
            await gateway.retrieve(video.id)
        assert caught.value.status_code == 504

    async def test_dropped_connection_on_read_is_retried(self, harness: Harness) -> None:
        """A connection dropped during a read is retried; the next try succeeds."""
        video = await harness.gateway.create(harness.request())
        faults = harness.require_faults()
        faults.add(self._read_fault(drop=True))
        again = await harness.gateway.retrieve(video.id)
        assert again.id == video.id

    async def test_malformed_json_is_a_provider_error(self, harness: Harness) -> None:
        """A 200 whose body is not JSON is a ProviderError, not a crash."""
        video = await harness.gateway.create(harness.request())
        faults = harness.require_faults()
        faults.add(self._read_fault(malformed=True, times=10))
        with pytest.raises(ProviderError, match="malformed"):
            await harness.gateway.retrieve(video.id)

    async def test_truncated_download_is_an_error(self, harness: Harness) -> None:
        """A download cut off before its announced length fails while streaming: ProviderError."""
        self._need(harness, "download")
        video = await self._completed(harness)
        faults = harness.require_faults()
        faults.add(Fault(truncate=100, method="GET", path=self.download_path_pattern(), times=10))
        received = 0
        cut: ProviderError | None = None
        try:
            async with harness.gateway.download(video.id) as stream:
                try:
                    async for chunk in stream:
                        received += len(chunk)
                except ProviderError as e:
                    cut = e
        except ProviderError as e:
            pytest.fail(f"the download failed on opening, not while streaming: {e}")
        if cut is None:
            pytest.fail(
                f"a download cut off after 100 bytes streamed {received} bytes and ended "
                "without an error: keep the upstream's content length on the DownloadStream "
                "(it checks what arrives)"
            )
        assert "cut off" in cut.message, cut.message
        assert received <= 100

    # -- secrets -----------------------------------------------------------------------

    async def test_no_secret_in_errors_or_reprs(self, harness: Harness) -> None:
        """The key appears in no error message, repr or raw response, nor in job reprs."""
        video = await harness.gateway.create(harness.request())
        instance = harness.gateway.instance(harness.instance)
        for text in (repr(video), repr(instance), repr(instance.keys), str(instance.keys)):
            assert KEY_A not in text
            assert KEY_B not in text
        faults = harness.require_faults()
        for status in (400, 401, 403, 429, 500):
            faults.add(
                self._read_fault(status=status, message=f"bad key {KEY_A} Bearer {KEY_A}", times=10)
            )
            with pytest.raises(ReelgateError) as caught:
                await harness.gateway.retrieve(video.id)
            _assert_no_secret(caught.value)
            faults.clear()


ProviderContract._contract_tests = frozenset(
    name for name in vars(ProviderContract) if name.startswith("test_")
)


def _keys_used(requests: Sequence[SeenRequest]) -> set[str]:
    """The contract's keys that these requests carried."""
    return {key for key in (KEY_A, KEY_B) for r in requests if r.carries(key)}


def _listing(requests: Sequence[SeenRequest]) -> str:
    """The requests, one a line, for an assertion's message."""
    lines = [
        f"  {r.method} {r.headers.get('host', '?')}{r.path}"
        f"{'?' + r.query if r.query else ''} key={sorted(_keys_used([r])) or '-'}"
        for r in requests
    ]
    return "\nrequests seen:\n" + "\n".join(lines) if lines else "\n(no requests seen)"


def _assert_no_secret(error: BaseException) -> None:
    texts = [str(error), repr(error), repr(getattr(error, "raw_response", None))]
    for text in texts:
        assert KEY_A not in text, text
        assert KEY_B not in text, text


def _upstream_of(gateway: Gateway, instance: str) -> Any:
    provider = gateway.instance(instance).provider
    upstream = getattr(provider, "upstream", None)
    if upstream is None:
        pytest.fail(
            f"{type(provider).__name__} has no `upstream` attribute: keep the "
            "reelgate.http.Upstream the provider sends with as `self.upstream`, so that "
            "the kit can tighten its timeouts",
            pytrace=False,
        )
    return upstream
