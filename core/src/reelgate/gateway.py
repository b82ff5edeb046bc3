"""
`Gateway` and `SyncGateway`: the facade callers use.

The gateway owns what every provider shares: ids (``native:instance``), the job index,
key affinity, idempotent create, fallbacks, the status machine, bounded waiting and
streamed downloads. Providers only speak their upstream API.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
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

from .claims import Claim, SupportsClaims
from .config import Config, load_config, state_dir
from .errors import (
    ConflictError,
    IndexUnavailableError,
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
    MAX_PROMPT_CHARS,
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
from .store import JobIndex, JobRecord, MemoryJobIndex, Observation, observe_all
from .stream import DownloadStream

if TYPE_CHECKING:
    import httpx2

    from .watch import Watcher

__all__ = ["Gateway", "ProviderInstance"]

T = TypeVar("T")
log = logging.getLogger(__name__)

_WRITE_BUFFER = 1024 * 1024
#: The shortest pause between polls, whatever a provider hints.
_MIN_POLL = 0.01
#: How many unfinished jobs of an index-backed page are polled at once, at most, and how long.
_REFRESH_CONCURRENCY = 8
_REFRESH_MOST = 20
_REFRESH_DEADLINE = 5.0
#: Pauses between tries to record a job the provider created, when the index fails.
_RECORD_RETRIES = (0.05, 0.2, 0.5)


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
        claim_wait: Seconds a create waits for another create with the same idempotency
            key (in any process sharing the index) to finish, before answering a
            `ConflictError` ``idempotency_in_progress``.
        claim_lease: Seconds an idempotency key's claim is held while its create runs;
            a claim whose holder died is taken over after it. Longer than any create.
        spool: A file where jobs the provider created are written when the index cannot
            record them (a locked or full database); replayed into the index at the next
            start (and by the watcher). None: such a failure is an error naming the job.
    """

    def __init__(
        self,
        config: Config | None = None,
        *,
        plugins: Plugins | None = None,
        index: JobIndex | None = None,
        http_client: httpx2.AsyncClient | None = None,
        instances: Mapping[str, ProviderInstance] | None = None,
        claim_wait: float = 5.0,
        claim_lease: float = 120.0,
        spool: str | os.PathLike[str] | None = None,
    ) -> None:
        from .http import make_client  # noqa: PLC0415  # keeps httpx2 out of `import reelgate`

        self.config = config or Config()
        self.plugins = plugins if plugins is not None else Plugins.load()
        self.index: JobIndex = index if index is not None else MemoryJobIndex()
        self._owns_client = http_client is None
        self.http_client = http_client or make_client()
        # Each instance gets its own connection pool unless a client was handed in: one
        # slow or busy provider must not take every connection the others need.
        self._instance_clients: list[httpx2.AsyncClient] = []

        def client_for(_instance: str) -> httpx2.AsyncClient:
            if not self._owns_client:
                return self.http_client
            client = make_client()
            self._instance_clients.append(client)
            return client

        registry = self.plugins.provider_registry()
        self._instances, self.problems = build_instances(
            self.config, registry.specs, client_for, registry.origin
        )
        self._instances.update(instances or {})
        # Serialises creates with one key in this process, for an index without claims.
        self._creating: dict[tuple[str | None, str], anyio.Lock] = {}
        self.claim_wait = claim_wait
        self.claim_lease = claim_lease
        self.spool = Path(spool) if spool is not None else None
        self._spool_checked = False
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
                spool: Path | None = state_dir() / "index-spool.jsonl"
            elif config.index.kind == "memory":
                index = MemoryJobIndex()
                spool = None
            else:
                from .store import SQLiteJobIndex  # noqa: PLC0415

                path = Path(config.index.path or state_dir() / "jobs.sqlite3")
                index = SQLiteJobIndex(path)
                spool = path.with_name(f"{path.name}.spool")
        else:
            spool = None
        return cls(config, plugins=plugins, index=index, http_client=http_client, spool=spool)

    # -- lifecycle -------------------------------------------------------------------

    async def __aenter__(self) -> Self:
        await self.replay_spool()
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
                for client in self._instance_clients:
                    await client.aclose()
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
    def _qualify(
        video: Video, instance: ProviderInstance, *, native_id: str | None = None
    ) -> Video:
        """The video as callers see it: qualified ids, no provider state."""
        remixed = video.remixed_from_video_id
        if remixed is not None and not remixed.endswith(f":{instance.name}"):
            remixed = VideoId.build(remixed, instance.name)
        return attrs.evolve(
            video,
            id=VideoId.build(native_id or video.id, instance.name),
            provider=instance.name,
            remixed_from_video_id=remixed,
            provider_state=None,
        )

    # -- operations ------------------------------------------------------------------

    async def create(self, request: CreateVideo, *, owner: str | None = None) -> Video:
        """
        Start a job.

        With an idempotency key already used (by this owner), return that job as last seen
        instead, sending nothing upstream. With an index that claims keys
        (`reelgate.store.SupportsClaims`: every index reelgate ships), the key is claimed
        before the create is sent, so creates racing one key in any process sharing the
        index send one create upstream: the others wait (``claim_wait`` seconds at most)
        and answer the winner's job.
        Fallbacks are tried in order only when the previous attempt failed before the
        provider could have accepted the job.

        Raises:
            InvalidRequestError: The model names an unknown provider, or the request is
                invalid for the provider.
            ConflictError: The key was used for another request
                (``idempotency_key_reused``), its create still runs elsewhere
                (``idempotency_in_progress``), or an earlier create with it may or may not
                exist upstream (``idempotency_outcome_unknown``).
            ReelgateError: The provider's failure, mapped; ``ambiguous`` when the job may
                exist upstream all the same.
        """
        candidates = [
            check_model(request.model),
            *(check_model(f, param="fallbacks") for f in request.fallbacks),
        ]
        targets = [(self.instance(name), model) for name, model in candidates]
        await self.replay_spool()
        key = request.idempotency_key
        if key is None:
            return await self._create_first(request, targets, owner, _Progress())
        if isinstance(self.index, SupportsClaims):
            return await self._create_claimed(self.index, request, targets, owner, key)
        # An index without claims: creates with one key are serialised in this process,
        # so the second finds the first's job in the index instead of creating again.
        slot = (owner, key)
        lock = self._creating.setdefault(slot, anyio.Lock())
        try:
            async with lock:
                known = await self.index.find_idempotent(owner, key)
                if known is not None:
                    return await self._known(known, owner)
                return await self._create_first(request, targets, owner, _Progress())
        finally:
            if not lock.locked() and lock.statistics().tasks_waiting == 0:
                self._creating.pop(slot, None)

    async def _known(self, known: JobRecord, owner: str | None) -> Video:
        """The job created with a key, as last seen: a repeated create sends nothing."""
        if known.video is not None and not known.deleted:
            return known.video
        return await self.retrieve(VideoId.build(known.native_id, known.instance), owner=owner)

    async def _create_claimed(
        self,
        index: SupportsClaims,
        request: CreateVideo,
        targets: list[tuple[ProviderInstance, str]],
        owner: str | None,
        key: str,
    ) -> Video:
        fingerprint = request_fingerprint(request)
        deadline = anyio.current_time() + self.claim_wait
        pause = 0.02
        while True:
            claim = await index.claim(owner, key, fingerprint, lease=self.claim_lease)
            if claim.outcome == "won":
                break
            if claim.outcome == "existing":
                known = claim.record or await self.index.find_idempotent(owner, key)
                if known is not None:
                    return await self._known(known, owner)
            elif claim.outcome == "mismatch":
                raise ConflictError(
                    f"idempotency key {key!r} was already used for a different request; "
                    "use a new key for a new request",
                    code=ConflictError.KEY_REUSED,
                    param="idempotency_key",
                    request_type=Operation.CREATE.request_type,
                )
            elif claim.outcome == "unknown":
                raise _outcome_unknown(key)
            remaining = deadline - anyio.current_time()
            if remaining <= 0:
                raise ConflictError(
                    f"a create with idempotency key {key!r} is still in progress; "
                    "ask again shortly with the same key",
                    code=ConflictError.IN_PROGRESS,
                    param="idempotency_key",
                    request_type=Operation.CREATE.request_type,
                )
            await anyio.sleep(min(pause, remaining))
            pause = min(pause * 1.5, 0.5)
        return await self._create_holding(index, claim, request, targets, owner, key)

    async def _create_holding(  # noqa: PLR0917  # private; each argument is needed
        self,
        index: SupportsClaims,
        claim: Claim,
        request: CreateVideo,
        targets: list[tuple[ProviderInstance, str]],
        owner: str | None,
        key: str,
    ) -> Video:
        """Create holding a won claim; end it: add (in `_create_on`), release or mark."""
        assert claim.holder is not None  # noqa: S101  # every won claim has one
        holder = claim.holder
        progress = _Progress()
        try:
            return await self._create_first(request, targets, owner, progress)
        except ReelgateError as e:
            sent_nothing = not (e.ambiguous or progress.created)
            await _settle(index, owner, key, holder, release=sent_nothing)
            if not sent_nothing and not e.ambiguous and progress.created:
                e.ambiguous = True
            raise
        except BaseException:
            # Cancelled (a client gone, a shutdown) or broken mid-create: the job may
            # exist upstream.
            await _settle(index, owner, key, holder, release=False)
            raise

    async def _create_first(
        self,
        request: CreateVideo,
        targets: list[tuple[ProviderInstance, str]],
        owner: str | None,
        progress: _Progress,
    ) -> Video:
        for position, (instance, model) in enumerate(targets):
            try:
                return await self._create_on(instance, model, request, owner, progress)
            except ReelgateError as e:
                if e.ambiguous or progress.created or position == len(targets) - 1:
                    raise
        raise AssertionError("unreachable")  # pragma: no cover

    async def _create_on(
        self,
        instance: ProviderInstance,
        model: str,
        request: CreateVideo,
        owner: str | None,
        progress: _Progress,
    ) -> Video:
        provider: SupportsCreate = self._provider(instance, Operation.CREATE)
        key = instance.next_key()
        call = Call(instance=instance.name, operation=Operation.CREATE, key=key, model=model)
        native = await self._guarded(call, provider.create(request, call=call))
        progress.created = True
        video = self._qualify(native, instance)
        if video.prompt is None or video.model is None:
            video = attrs.evolve(
                video, prompt=video.prompt or request.prompt, model=video.model or model
            )
        record = JobRecord(
            instance=instance.name,
            native_id=native.id,
            created_at=native.created_at or time.time(),
            key_name=key.name if key else None,
            owner=owner,
            idempotency_key=request.idempotency_key,
            provider_state=_state(native),
        )
        stored = await self._record_created(record, video)
        if stored is None:
            return video  # spooled: the index records it once it can
        if (
            record.idempotency_key is not None
            and stored.idempotency_key is None
            and (complete := getattr(self.index, "complete_claim", None)) is not None
        ):
            # Another process's poll recorded the job first, without the key.
            await complete(owner, record.idempotency_key, stored.instance, stored.native_id)
        if (stored.instance, stored.native_id) != (instance.name, native.id):
            # Another process created a job with this idempotency key first: answer with
            # that one, as a create after it would have.
            return await self.retrieve(
                VideoId.build(stored.native_id, stored.instance), owner=owner
            )
        return await self.index.observe(instance.name, native.id, video)

    async def _record_created(self, record: JobRecord, video: Video) -> JobRecord | None:
        """
        Record a job the provider created; the index failing is retried, then spooled.

        Returns:
            What the index stored, or None when the record was spooled.

        Raises:
            IndexUnavailableError: The index failed and no spool is configured; the
                message names the job.
        """
        failure: Exception | None = None
        for pause in (*_RECORD_RETRIES, None):
            try:
                return await self.index.add(record)
            except InvalidRequestError:
                raise
            except Exception as e:  # noqa: BLE001  # a locked, full or unreachable database
                failure = e
            if pause is not None:
                await anyio.sleep(pause)
        job = VideoId.build(record.native_id, record.instance)
        log.warning("recording job %s failed: %s", job, failure)
        if self.spool is None:
            raise IndexUnavailableError(
                f"the provider created job {job}, but the job index could not record it: {failure}",
                ambiguous=True,
                request_type=Operation.CREATE.request_type,
            ) from failure
        line = _spool_line(record, video)
        await anyio.to_thread.run_sync(_append, self.spool, line)
        return None

    async def replay_spool(self) -> int:
        """
        Record the jobs spooled while the index could not (see the ``spool`` argument).

        Called when the gateway is entered, before creates, and by the watcher; cheap when
        there is nothing to replay.

        Returns:
            How many jobs were replayed.
        """
        spool = self.spool
        if spool is None or not await anyio.Path(spool).exists():
            return 0
        # Claim the file by renaming it, so two processes never replay one line twice
        # (a repeat would be harmless: recording a known job changes nothing).
        taken = spool.with_name(f"{spool.name}.{os.getpid()}.{secrets.token_hex(4)}")
        try:
            await anyio.Path(spool).rename(taken)
        except FileNotFoundError:
            return 0
        text = await anyio.Path(taken).read_text(encoding="utf-8")
        replayed = 0
        left: list[str] = []
        for line in text.splitlines():
            if not line.strip():
                continue
            try:
                record, video = _from_spool_line(line)
            except (ValueError, KeyError, TypeError):
                log.exception("spool %s: an unreadable line is skipped: %.200s", spool, line)
                continue
            try:
                await self.index.add(record)
                if video is not None:
                    await self.index.observe(record.instance, record.native_id, video)
                replayed += 1
            except Exception:  # noqa: BLE001  # still failing: keep it for later
                left.append(line)
        if left:
            await anyio.to_thread.run_sync(_append, spool, "".join(f"{x}\n" for x in left))
        await anyio.Path(taken).unlink(missing_ok=True)
        if replayed:
            log.info("recorded %d spooled job(s) from %s", replayed, spool)
        return replayed

    # -- the watcher -----------------------------------------------------------------

    @asynccontextmanager
    async def watch(self, **options: Any) -> AsyncIterator[Watcher]:
        """
        Run the watcher in the background while the block runs.

        The watcher drives every unfinished job the index knows toward a terminal state,
        so lists are fresh without clients polling, and jobs created before a restart are
        still followed (see `reelgate.watch`). Processes sharing an index share the work:
        each job is polled by one watcher at a time.

        Args:
            options: `reelgate.watch.Watcher`'s settings: ``concurrency``,
                ``per_instance``, ``lease``, ``interval``, ``max_delay``.

        Yields:
            The running `reelgate.watch.Watcher`.

        Raises:
            TypeError: The index cannot lease jobs (`reelgate.store.SupportsWatch`).
        """
        from .watch import Watcher  # noqa: PLC0415

        watcher = Watcher(gateway=self, **options)
        _ = watcher.index  # refuse an index without leases before anything starts
        async with anyio.create_task_group() as tasks:
            tasks.start_soon(watcher.run)
            try:
                yield watcher
            finally:
                tasks.cancel_scope.cancel()

    async def watch_forever(self, **options: Any) -> None:
        """Run the watcher until cancelled (the options of `watch`)."""
        from .watch import Watcher  # noqa: PLC0415

        await Watcher(gateway=self, **options).run()

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
        return await self.index.observe(
            instance.name,
            vid.native,
            self._qualify(native, instance, native_id=vid.native),
            provider_state=_state(native),
        )

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
            seen: list[Observation] = []
            for item in page.data:
                known = await self.index.get(instance.name, item.id)
                if known is not None and known.deleted:
                    continue  # deleted through reelgate, though the provider keeps it
                seen.append((item.id, self._qualify(item, instance), _state(item)))
            videos = await observe_all(self.index, instance.name, seen)
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

        Polls run a few at a time within a short deadline, for the first `_REFRESH_MOST`
        unfinished jobs; a job that cannot be polled in time (or at all) keeps the last
        state seen.
        """
        # At most _REFRESH_MOST polls a page, however long: a list is no way to make the
        # server poll a provider a hundred times per request.
        unfinished = [i for i, video in enumerate(videos) if not video.done][:_REFRESH_MOST]
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

        The bytes go to ``.<name>.part`` beside it (one partial name per target, so an
        interrupted download leaves at most one, overwritten by the next attempt), which
        is flushed to disk and renamed into place once complete; the directory is synced
        after the rename, so a crash leaves either the old file or the whole new one.

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
        partial = target.with_name(f".{target.name}.part")
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
                await out.flush()
                await anyio.to_thread.run_sync(os.fsync, out.wrapped.fileno())
            await anyio.Path(partial).replace(target)
            await anyio.to_thread.run_sync(_sync_directory, target.parent)
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
        if len(prompt) > MAX_PROMPT_CHARS:
            raise InvalidRequestError(
                f"prompt is {len(prompt)} characters; at most {MAX_PROMPT_CHARS} are accepted",
                param="prompt",
                request_type=Operation.REMIX.request_type,
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


@attrs.define
class _Progress:
    """How far a create went: whether the provider created the job."""

    created: bool = False


def request_fingerprint(request: CreateVideo) -> str:
    """
    What identifies a create request, for its idempotency key: a SHA-256 of its fields.

    Every field that changes the job counts (model, prompt, image, duration, size, the
    optional fields, extra parameters, fallbacks); the key itself does not. Stable across
    processes and versions of Python: a hash of canonical JSON.
    """
    image = request.input_reference
    fields: dict[str, Any] = {
        "model": request.model,
        "prompt": request.prompt,
        "input_reference": None
        if image is None
        else {
            "sha256": hashlib.sha256(image.data).hexdigest() if image.data else None,
            "media_type": image.media_type,
            "url": image.url,
        },
        "seconds": request.seconds,
        "size": request.size,
        "negative_prompt": request.negative_prompt,
        "seed": request.seed,
        "video_uri": request.video_uri,
        "audio": request.audio,
        "extra_params": dict(request.extra_params),
        "fallbacks": list(request.fallbacks),
    }
    text = json.dumps(fields, sort_keys=True, separators=(",", ":"), default=repr)
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()


def _outcome_unknown(key: str) -> ConflictError:
    return ConflictError(
        f"an earlier create with idempotency key {key!r} failed in a way that leaves its "
        "outcome unknown: the job may exist upstream (and be billed). Do not retry blindly: "
        "check the provider's jobs, then create again with a new key if there is none",
        code=ConflictError.OUTCOME_UNKNOWN,
        param="idempotency_key",
        request_type=Operation.CREATE.request_type,
    )


async def _settle(
    index: SupportsClaims, owner: str | None, key: str, holder: str, *, release: bool
) -> None:
    """End a won claim after a failed create, shielded from cancellation."""
    with anyio.CancelScope(shield=True):
        try:
            if release:
                await index.release(owner, key, holder=holder)
            else:
                await index.mark_unknown(owner, key, holder=holder)
        except Exception:  # the claim's lease ends it; the create's own error matters more
            log.warning("ending the claim of idempotency key %r failed", key, exc_info=True)


def _spool_line(record: JobRecord, video: Video) -> str:
    from . import wire  # noqa: PLC0415

    data = {
        "instance": record.instance,
        "native_id": record.native_id,
        "created_at": record.created_at,
        "key_name": record.key_name,
        "owner": record.owner,
        "idempotency_key": record.idempotency_key,
        "remixed_from": record.remixed_from,
        "provider_state": record.provider_state,
        "video": wire.video_to_dict(video),
    }
    return json.dumps(data, separators=(",", ":")) + "\n"


def _from_spool_line(line: str) -> tuple[JobRecord, Video | None]:
    from . import wire  # noqa: PLC0415

    data = json.loads(line)
    video = data.get("video")
    record = JobRecord(
        instance=str(data["instance"]),
        native_id=str(data["native_id"]),
        created_at=float(data["created_at"]),
        key_name=data.get("key_name"),
        owner=data.get("owner"),
        idempotency_key=data.get("idempotency_key"),
        remixed_from=data.get("remixed_from"),
        provider_state=data.get("provider_state"),
    )
    return record, wire.video_from_dict(video) if isinstance(video, dict) else None


def _append(path: Path, text: str) -> None:
    """Append to a file and flush it to disk (one write: lines never interleave)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    try:
        os.write(fd, text.encode("utf-8"))
        os.fsync(fd)
    finally:
        os.close(fd)


def _state(video: Video) -> dict[str, Any] | None:
    return None if video.provider_state is None else dict(video.provider_state)


def _finished(record: JobRecord | None) -> bool:
    """Whether the index saw the job finish (then there is nothing left to cancel)."""
    return record is not None and record.video is not None and record.video.done


def _sync_directory(directory: Path) -> None:
    """Flush a directory's entries (a rename) to disk, where the platform allows it."""
    if not hasattr(os, "O_DIRECTORY"):  # Windows: directories cannot be opened
        return
    fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


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
