"""
`Gateway` and `SyncGateway`: the facade callers use.

The gateway owns what every provider shares: ids (``native:instance``), the job index,
key affinity, idempotent create, fallbacks, the status machine, bounded waiting and
streamed downloads. Providers only speak their upstream API.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import time
from collections.abc import (
    AsyncGenerator,
    AsyncIterator,
    Awaitable,
    Callable,
    Mapping,
    Sequence,
)
from contextlib import (
    AbstractAsyncContextManager,
    AsyncExitStack,
    asynccontextmanager,
)
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any, Self, TypeVar

import anyio
import anyio.from_thread
import attrs

from .config import Config, load_config, state_dir
from .errors import (
    InvalidRequestError,
    NotFoundError,
    PermissionDeniedError,
    ProviderError,
    ReelgateError,
    UnsupportedOperationError,
    WaitTimeoutError,
)
from .ids import VideoId
from .instances import ProviderInstance, build_instances
from .model import (
    CreateVideo,
    Deleted,
    ListQuery,
    Order,
    UpstreamDeletion,
    Variant,
    Video,
    VideoPage,
    VideoStatus,
    check_model,
)
from .pagination import iter_pages
from .plugins import PluginFailure, Plugins
from .provider import (
    Call,
    Operation,
    SupportsCancel,
    SupportsCreate,
    SupportsDelete,
    SupportsDownload,
    SupportsList,
    SupportsRemix,
    SupportsRetrieve,
)
from .store import JobIndex, JobRecord, MemoryJobIndex
from .stream import DownloadStream

if TYPE_CHECKING:
    import httpx2

__all__ = ["Gateway", "ProviderInstance"]

T = TypeVar("T")

_WRITE_BUFFER = 1024 * 1024
#: The shortest pause between polls, whatever a provider hints.
_MIN_POLL = 0.01
#: How many unfinished jobs of an index-backed page are polled at once, and for how long.
_REFRESH_CONCURRENCY = 8
_REFRESH_DEADLINE = 5.0


class Gateway:
    """
    One API over every configured provider instance.

    Build it with `from_config` (plugins, ``reelgate.toml``, environment, the SQLite job
    index) or explicitly for embedding; use it as an async context manager.

    Args:
        config: The configuration (default: none, so every installed provider with its
            environment defaults).
        plugins: Loaded plugins (default: every entry point of the ``reelgate`` group).
        index: The job index (default: `MemoryJobIndex`).
        http_client: An httpx2 client to share (the gateway does not close it).
        instances: Provider instances built by hand, added to the configured ones.
    """

    def __init__(
        self,
        config: Config | None = None,
        *,
        plugins: Plugins | None = None,
        index: JobIndex | None = None,
        http_client: httpx2.AsyncClient | None = None,
        instances: Mapping[str, ProviderInstance] | None = None,
    ) -> None:
        from .http import make_client  # noqa: PLC0415  # keeps httpx2 out of `import reelgate`

        self.config = config or Config()
        self.plugins = plugins if plugins is not None else Plugins.load()
        self.index: JobIndex = index if index is not None else MemoryJobIndex()
        self._owns_client = http_client is None
        self.http_client = http_client or make_client()
        registry = self.plugins.provider_registry()
        self._instances, self.problems = build_instances(
            self.config, registry.specs, self.http_client, registry.origin
        )
        self._instances.update(instances or {})
        self._creating: dict[tuple[str | None, str], anyio.Lock] = {}
        self._closed = False

    @classmethod
    def from_config(
        cls,
        path: str | os.PathLike[str] | Config | None = None,
        *,
        plugins: Plugins | None = None,
        index: JobIndex | None = None,
        http_client: httpx2.AsyncClient | None = None,
    ) -> Self:
        """
        Build a gateway from ``reelgate.toml`` (or `path`) and the environment.

        The job index is the one the configuration names (default: SQLite under the
        user's state directory; PostgreSQL when ``REELGATE_INDEX_URL`` or the variable
        ``[index] url_env`` names holds a ``postgresql://`` URL).

        Raises:
            ConfigurationError: The configuration is invalid.
        """
        config = path if isinstance(path, Config) else load_config(path)
        if index is None:
            if (url := config.index.url()) is not None:
                from .postgres import PostgresJobIndex  # noqa: PLC0415  # an optional extra

                index = PostgresJobIndex(url)
            elif config.index.kind == "memory":
                index = MemoryJobIndex()
            else:
                from .store import SQLiteJobIndex  # noqa: PLC0415

                index = SQLiteJobIndex(config.index.path or state_dir() / "jobs.sqlite3")
        return cls(config, plugins=plugins, index=index, http_client=http_client)

    # -- lifecycle -------------------------------------------------------------------

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Close providers, the job index and the HTTP client (if the gateway made it)."""
        if self._closed:
            return
        self._closed = True
        with anyio.CancelScope(shield=True):
            for instance in self._instances.values():
                closer = getattr(instance.provider, "aclose", None)
                if callable(closer):
                    await closer()
            await self.index.aclose()
            if self._owns_client:
                await self.http_client.aclose()

    # -- introspection ---------------------------------------------------------------

    @property
    def instances(self) -> Mapping[str, ProviderInstance]:
        """Every usable provider instance by name."""
        return dict(self._instances)

    @property
    def plugin_failures(self) -> list[PluginFailure]:
        """Plugins that failed to load or register."""
        return list(self.plugins.failures)

    def instance(self, name: str) -> ProviderInstance:
        """
        The instance called `name`.

        Raises:
            InvalidRequestError: No such instance is configured, or it is broken.
        """
        try:
            return self._instances[name]
        except KeyError:
            pass
        if name in self.problems:
            raise InvalidRequestError(
                f"provider {name!r} is not available: {self.problems[name]}",
                param="provider",
                provider=name,
            )
        known = ", ".join(sorted(self._instances)) or "none"
        raise InvalidRequestError(
            f"unknown provider {name!r} (configured: {known})", param="provider", provider=name
        )

    # -- helpers -----------------------------------------------------------------------

    @staticmethod
    def _provider(instance: ProviderInstance, operation: Operation) -> Any:
        """
        The instance's provider, for `operation`; callers type it as its ``Supports*``.

        Raises:
            UnsupportedOperationError: The provider does not implement `operation`.
        """
        if operation.value not in instance.capabilities:
            raise UnsupportedOperationError(
                f"{operation.request_type} is not supported by {instance.name} provider",
                provider=instance.name,
                request_type=operation.request_type,
            )
        return instance.provider

    async def _guarded(self, call: Call, work: Awaitable[T]) -> T:
        """Await a provider's work; anything it raises that is not a reelgate error is mapped."""
        try:
            return await work
        except ReelgateError as e:
            if e.provider is None:
                e.provider = call.instance
            if e.request_type is None:
                e.request_type = call.request_type
            raise
        except Exception as e:
            raise _misbehaved(call, e) from e

    async def _job(
        self, video_id: str, owner: str | None, operation: Operation
    ) -> tuple[VideoId, ProviderInstance, JobRecord | None]:
        vid = VideoId.parse(video_id)
        instance = self._instance_of_job(vid, video_id, operation)
        record = await self.index.get(instance.name, vid.native)
        if (record is not None and record.deleted) or (
            owner is not None and (record is None or record.owner != owner)
        ):
            raise NotFoundError(
                f"no video {video_id!r}",
                provider=instance.name,
                request_type=operation.request_type,
            )
        return vid, instance, record

    def _instance_of_job(
        self, vid: VideoId, video_id: str, operation: Operation
    ) -> ProviderInstance:
        """The instance a job id names; an instance nobody configured holds no jobs: 404."""
        if vid.instance not in self._instances and vid.instance not in self.problems:
            raise NotFoundError(f"no video {video_id!r}", request_type=operation.request_type)
        return self.instance(vid.instance)

    @staticmethod
    def _call(instance: ProviderInstance, record: JobRecord | None, operation: Operation) -> Call:
        """The call for an existing job: the key that created it, the state it keeps."""
        return Call(
            instance=instance.name,
            operation=operation,
            key=instance.key_named(record.key_name if record else None),
            job_state=record.provider_state if record else None,
        )

    @staticmethod
    def _qualify(video: Video, instance: ProviderInstance) -> Video:
        remixed = video.remixed_from_video_id
        if remixed is not None and not remixed.endswith(f":{instance.name}"):
            remixed = VideoId.build(remixed, instance.name)
        return attrs.evolve(
            video,
            id=VideoId.build(video.id, instance.name),
            provider=instance.name,
            remixed_from_video_id=remixed,
            provider_state=None,
        )

    async def _observe(self, instance: ProviderInstance, native: Video) -> Video:
        """Record a state the provider reported (and any new provider state); return it."""
        video = self._qualify(native, instance)
        if native.provider_state is None:
            return await self.index.observe(instance.name, native.id, video)
        return await self.index.observe(
            instance.name, native.id, video, provider_state=dict(native.provider_state)
        )

    # -- operations ------------------------------------------------------------------

    async def create(self, request: CreateVideo, *, owner: str | None = None) -> Video:
        """
        Start a job.

        With an idempotency key already used (by this owner), return that job as last seen
        instead, sending nothing upstream.
        Fallbacks are tried in order only when the previous attempt failed before the
        provider could have accepted the job.

        Raises:
            InvalidRequestError: The model names an unknown provider, or the request is
                invalid for the provider.
            ReelgateError: The provider's failure, mapped.
        """
        candidates = [
            check_model(request.model),
            *(check_model(f, param="fallbacks") for f in request.fallbacks),
        ]
        targets = [(self.instance(name), model) for name, model in candidates]
        if request.idempotency_key is None:
            return await self._create_first(request, targets, owner)
        # Creates with one key are serialised in this process, so the second finds the
        # first's job in the index instead of sending a second create upstream.
        slot = (owner, request.idempotency_key)
        lock = self._creating.setdefault(slot, anyio.Lock())
        try:
            async with lock:
                known = await self.index.find_idempotent(owner, request.idempotency_key)
                if known is not None:
                    # The job as last seen: a repeated create sends nothing upstream.
                    if known.video is not None and not known.deleted:
                        return known.video
                    return await self.retrieve(
                        VideoId.build(known.native_id, known.instance), owner=owner
                    )
                return await self._create_first(request, targets, owner)
        finally:
            if not lock.locked() and lock.statistics().tasks_waiting == 0:
                self._creating.pop(slot, None)

    async def _create_first(
        self, request: CreateVideo, targets: list[tuple[ProviderInstance, str]], owner: str | None
    ) -> Video:
        for position, (instance, model) in enumerate(targets):
            try:
                return await self._create_on(instance, model, request, owner)
            except ReelgateError as e:
                if e.ambiguous or position == len(targets) - 1:
                    raise
        raise AssertionError("unreachable")  # pragma: no cover

    async def _create_on(
        self, instance: ProviderInstance, model: str, request: CreateVideo, owner: str | None
    ) -> Video:
        provider: SupportsCreate = self._provider(instance, Operation.CREATE)
        key = instance.next_key()
        call = Call(instance=instance.name, operation=Operation.CREATE, key=key, model=model)
        native = await self._guarded(call, provider.create(request, call=call))
        stored = await self.index.add(
            JobRecord(
                instance=instance.name,
                native_id=native.id,
                created_at=native.created_at or time.time(),
                key_name=key.name if key else None,
                owner=owner,
                idempotency_key=request.idempotency_key,
                provider_state=_state(native),
            )
        )
        if (stored.instance, stored.native_id) != (instance.name, native.id):
            # Another process created a job with this idempotency key first: answer with
            # that one, as a create after it would have.
            return await self.retrieve(
                VideoId.build(stored.native_id, stored.instance), owner=owner
            )
        video = self._qualify(native, instance)
        if video.prompt is None or video.model is None:
            video = attrs.evolve(
                video, prompt=video.prompt or request.prompt, model=video.model or model
            )
        return await self.index.observe(instance.name, native.id, video)

    async def retrieve(self, video_id: str, *, owner: str | None = None) -> Video:
        """
        The job's current state.

        Raises:
            InvalidRequestError: The id is malformed or names an unknown provider.
            NotFoundError: No such job.
        """
        vid, instance, record = await self._job(video_id, owner, Operation.RETRIEVE)
        provider: SupportsRetrieve = self._provider(instance, Operation.RETRIEVE)
        call = self._call(instance, record, Operation.RETRIEVE)
        native = await self._guarded(call, provider.retrieve(vid.native, call=call))
        return await self._observe(instance, attrs.evolve(native, id=vid.native))

    async def wait(
        self,
        video_id: str,
        *,
        timeout: float = 600.0,  # noqa: ASYNC109  # the public API's name for the deadline
        poll_interval: float | None = None,
        on_update: Callable[[Video], object] | None = None,
        owner: str | None = None,
    ) -> Video:
        """
        Poll until the job completes or fails, and return it.

        A failed job is returned, not raised: call `Video.raise_for_status`.

        Polls start at the provider's interval (or `poll_interval`), follow the
        provider's own hint when it gives one, and back off gently otherwise.

        Args:
            video_id: The job.
            timeout: Seconds to wait in all.
            poll_interval: Seconds between polls, instead of the provider's.
            on_update: Called with every state seen (e.g. to draw progress).
            owner: The caller, for front doors that separate callers.

        Raises:
            WaitTimeoutError: Time ran out; the error carries the last state seen.
        """
        vid = VideoId.parse(video_id)
        instance = self._instance_of_job(vid, video_id, Operation.RETRIEVE)
        base = poll_interval if poll_interval is not None else instance.poll_interval
        ceiling = max(base, min(base * 5, 30.0))
        delay = base
        deadline = anyio.current_time() + timeout
        video = await self.retrieve(video_id, owner=owner)
        while True:
            if on_update is not None:
                on_update(video)
            if video.done:
                return video
            remaining = deadline - anyio.current_time()
            if remaining <= 0:
                break
            hint = video.poll_after
            pause = max(hint, _MIN_POLL) if hint is not None else delay
            await anyio.sleep(min(pause, remaining))
            delay = min(delay * 1.5, ceiling)
            # A poll that hangs past the deadline ends the wait like any other lateness.
            with anyio.move_on_after(max(deadline - anyio.current_time(), _MIN_POLL)):
                video = await self.retrieve(video_id, owner=owner)
                continue
            break
        raise WaitTimeoutError(
            f"video {video_id} is still {video.status.value} after {timeout:g} s",
            video=video,
            provider=instance.name,
        )

    async def list(
        self,
        provider: str,
        *,
        limit: int | str | None = 20,
        order: str | None = "desc",
        after: str | None = None,
        owner: str | None = None,
    ) -> VideoPage:
        """
        One page of a provider instance's jobs, newest first by default.

        Providers with a list endpoint are asked; for the others (and for an `owner`,
        who sees only their own jobs) the job index answers, with the same cursors, and
        the page's unfinished jobs are polled so that it shows their state now (within a
        few seconds; a job that cannot be polled shows the last state seen).

        Args:
            provider: The instance name.
            limit: 1..100.
            order: ``asc`` or ``desc`` by creation time.
            after: The last id of the previous page.
            owner: The caller, for front doors that separate callers.

        Raises:
            InvalidRequestError: A bad limit, order or cursor, or an unknown provider.
        """
        query = ListQuery(limit=limit, order=order, after=after)
        instance = self.instance(provider)
        native_after: str | None = None
        if query.after is not None:
            cursor = VideoId.parse(query.after)
            if cursor.instance != instance.name:
                raise InvalidRequestError(
                    f"after: {query.after!r} is not a video of provider {instance.name!r}",
                    param="after",
                )
            native_after = cursor.native
            if owner is not None:
                # Another caller's job is no cursor of this caller's: the same answer as
                # for an id that names no job, so the answer tells nothing about it.
                known = await self.index.get(instance.name, native_after)
                if known is None or known.owner != owner:
                    raise InvalidRequestError(
                        f"after: no video {native_after!r} in this list", param="after"
                    )
        if owner is None and Operation.LIST.value in instance.capabilities:
            lister: SupportsList = self._provider(instance, Operation.LIST)
            call = self._call(instance, None, Operation.LIST)
            native_query = attrs.evolve(query, after=native_after)
            page = await self._guarded(call, lister.list(native_query, call=call))
            videos = []
            for item in page.data:
                known = await self.index.get(instance.name, item.id)
                if known is not None and known.deleted:
                    continue  # deleted through reelgate, though the provider keeps it
                videos.append(await self._observe(instance, item))
            return VideoPage(tuple(videos), page.has_more)
        records, has_more = await self.index.page(
            instance.name, limit=query.limit, order=query.order, after=native_after, owner=owner
        )
        current = await self._refreshed(instance, [_record_video(r) for r in records])
        return VideoPage(current, has_more)

    async def _refreshed(
        self, instance: ProviderInstance, videos: Sequence[Video]
    ) -> tuple[Video, ...]:
        """
        Poll the unfinished jobs of an index-backed page, so it shows their state now.

        Polls run a few at a time within a short deadline; a job that cannot be polled in
        time (or at all) keeps the last state seen.
        """
        unfinished = [i for i, video in enumerate(videos) if not video.done]
        if not unfinished or "retrieve" not in instance.capabilities:
            return tuple(videos)
        fresh: dict[int, Video] = {}
        limiter = anyio.CapacityLimiter(_REFRESH_CONCURRENCY)

        async def poll(i: int) -> None:
            async with limiter:
                with contextlib.suppress(ReelgateError):  # the last state seen stands
                    fresh[i] = await self.retrieve(videos[i].id)

        with anyio.move_on_after(_REFRESH_DEADLINE):
            async with anyio.create_task_group() as tasks:
                for i in unfinished:
                    tasks.start_soon(poll, i)
        return tuple(fresh.get(i, video) for i, video in enumerate(videos))

    async def iter_videos(
        self,
        provider: str,
        *,
        order: Order = "desc",
        page_size: int = 100,
        owner: str | None = None,
    ) -> AsyncGenerator[Video]:
        """Every job of a provider instance, following cursors page by page."""

        def fetch(after: str | None) -> Awaitable[VideoPage]:
            return self.list(provider, limit=page_size, order=order, after=after, owner=owner)

        async for page in iter_pages(fetch):
            for video in page.data:
                yield video

    @asynccontextmanager
    async def download(
        self, video_id: str, variant: str | Variant = Variant.VIDEO, *, owner: str | None = None
    ) -> AsyncIterator[DownloadStream]:
        """
        Stream a finished job's asset; the connection is released when the block exits.

        Raises:
            VideoNotReadyError: The job has not completed.
            UnsupportedOperationError: The provider has no such variant or no download.
        """
        chosen = Variant.parse(variant)
        vid, instance, record = await self._job(video_id, owner, Operation.DOWNLOAD)
        provider: SupportsDownload = self._provider(instance, Operation.DOWNLOAD)
        call = self._call(instance, record, Operation.DOWNLOAD)
        async with AsyncExitStack() as stack:
            opened: AbstractAsyncContextManager[DownloadStream] = provider.download(
                vid.native, chosen, call=call
            )
            stream = await self._guarded(call, stack.enter_async_context(opened))
            stream.provider = instance.name
            stack.push_async_callback(stream.aclose)
            yield stream

    async def download_to(
        self,
        video_id: str,
        path: str | os.PathLike[str],
        *,
        variant: str | Variant = Variant.VIDEO,
        on_progress: Callable[[int, int | None], object] | None = None,
        owner: str | None = None,
    ) -> Path:
        """
        Download a finished job's asset to `path` atomically.

        The bytes go to a temporary file beside it, renamed into place once complete.

        Args:
            video_id: The job.
            path: Where to write.
            variant: ``video``, ``thumbnail`` or ``spritesheet``.
            on_progress: Called with (bytes so far, total or None) as bytes arrive.
            owner: The caller, for front doors that separate callers.

        Returns:
            The path written.
        """
        target = Path(path)
        partial = target.with_name(f".{target.name}.{secrets.token_hex(4)}.part")
        try:
            async with (
                self.download(video_id, variant, owner=owner) as stream,
                await anyio.open_file(partial, "wb") as out,
            ):
                pending: list[bytes] = []
                buffered = 0
                async for chunk in stream:
                    pending.append(chunk)
                    buffered += len(chunk)
                    if buffered >= _WRITE_BUFFER:
                        await out.write(b"".join(pending))
                        pending.clear()
                        buffered = 0
                    if on_progress is not None:
                        on_progress(stream.received, stream.content_length)
                if pending:
                    await out.write(b"".join(pending))
            await anyio.Path(partial).replace(target)
        except BaseException:
            with anyio.CancelScope(shield=True):
                await anyio.Path(partial).unlink(missing_ok=True)
            raise
        return target

    async def delete(self, video_id: str, *, owner: str | None = None) -> Deleted:
        """
        Stop a job and forget it.

        Where the provider can delete the job, it is deleted upstream (the provider
        cancels it first if it runs); where it can only cancel, a job that has not
        finished is cancelled; otherwise it stays with the provider. In every case the
        gateway forgets it: it is gone from lists, and reading it is a `NotFoundError`.

        Returns:
            `Deleted`, whose ``upstream`` says ``deleted``, ``cancelled`` or ``kept``.

        Raises:
            NotFoundError: No such job, or it was deleted already.
        """
        vid, instance, record = await self._job(video_id, owner, Operation.DELETE)
        capabilities = instance.capabilities
        upstream: UpstreamDeletion = "kept"
        try:
            if Operation.DELETE.value in capabilities:
                deleter: SupportsDelete = self._provider(instance, Operation.DELETE)
                call = self._call(instance, record, Operation.DELETE)
                answer = await self._guarded(call, deleter.delete(vid.native, call=call))
                upstream = answer.upstream
            elif Operation.CANCEL.value in capabilities and not _finished(record):
                canceller: SupportsCancel = self._provider(instance, Operation.CANCEL)
                call = self._call(instance, record, Operation.CANCEL)
                upstream = await self._cancel(canceller, vid.native, call)
        except NotFoundError:
            if record is None:
                raise
            # The index knew the job and the provider no longer does: it is gone there.
            upstream = "deleted"
        await self.index.mark_deleted(instance.name, vid.native)
        return Deleted(id=VideoId.build(vid.native, instance.name), upstream=upstream)

    async def _cancel(self, canceller: SupportsCancel, native: str, call: Call) -> UpstreamDeletion:
        """Cancel a job; one the provider refuses to stop (it runs past cancelling) is kept."""
        try:
            await self._guarded(call, canceller.cancel(native, call=call))
        except (InvalidRequestError, PermissionDeniedError) as refused:
            if not refused.upstream:
                raise
            return "kept"
        return "cancelled"

    async def remix(self, video_id: str, prompt: str, *, owner: str | None = None) -> Video:
        """
        Start a new job from a finished one with a new prompt.

        Raises:
            InvalidRequestError: The prompt is empty.
            UnsupportedOperationError: The provider cannot remix.
        """
        if not prompt.strip():
            raise InvalidRequestError(
                "prompt is required", param="prompt", request_type=Operation.REMIX.request_type
            )
        vid, instance, record = await self._job(video_id, owner, Operation.REMIX)
        provider: SupportsRemix = self._provider(instance, Operation.REMIX)
        call = self._call(instance, record, Operation.REMIX)
        native = await self._guarded(call, provider.remix(vid.native, prompt, call=call))
        source = VideoId.build(vid.native, instance.name)
        video = self._qualify(native, instance)
        video = attrs.evolve(video, remixed_from_video_id=source, prompt=video.prompt or prompt)
        await self.index.add(
            JobRecord(
                instance=instance.name,
                native_id=native.id,
                created_at=native.created_at or time.time(),
                key_name=call.key.name if call.key else None,
                owner=owner,
                remixed_from=source,
                provider_state=_state(native),
            )
        )
        return await self.index.observe(instance.name, native.id, video)


def _state(video: Video) -> dict[str, Any] | None:
    return None if video.provider_state is None else dict(video.provider_state)


def _finished(record: JobRecord | None) -> bool:
    """Whether the index saw the job finish (then there is nothing left to cancel)."""
    return record is not None and record.video is not None and record.video.done


def _record_video(record: JobRecord) -> Video:
    if record.video is not None:
        return record.video
    return Video(
        id=VideoId.build(record.native_id, record.instance),
        provider=record.instance,
        status=VideoStatus.QUEUED,
        created_at=int(record.created_at),
    )


def _misbehaved(call: Call, exc: Exception) -> ProviderError:
    return ProviderError(
        f"provider {call.instance!r} failed unexpectedly in {call.request_type}: "
        f"{type(exc).__name__}",
        provider=call.instance,
        request_type=call.request_type,
        ambiguous=call.operation in (Operation.CREATE, Operation.REMIX),
    )
