"""The conformance kit's own tests: each check passes a sound provider and fails a broken one."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from typing import Any, ClassVar
from urllib.parse import urlsplit

import attrs
import pytest

import reelgate
from reelgate.call import Call
from reelgate.emulation import serve
from reelgate.errors import ProviderError
from reelgate.model import CANCELLED, VideoError
from reelgate.stream import DownloadStream
from reelgate.testing import KEY_A, KEY_B, ProviderContract, gateway_for
from reelgate_template import TemplateProvider, TemplateSettings
from reelgate_template.emulator import create_app

pytestmark = pytest.mark.anyio

Failed = pytest.fail.Exception


@pytest.fixture(name="anyio_backend")
def _anyio_backend() -> str:
    """The kit runs its checks under both backends in every contract; asyncio is enough here."""
    return "asyncio"


# -- providers: one sound, the others built to break one check each -----------------------


class Sound(TemplateProvider):
    """The template as it is: it streams the job's signed URL, on the asset host, keyless."""

    async def _asset_url(self, video_id: str, call: Call) -> str:
        job = await self.upstream.json("GET", f"/v1/jobs/{video_id}", call=call, idempotent=True)
        if job.get("state") != "done":
            raise reelgate.VideoNotReadyError.for_status(video_id, str(job.get("state")), call=call)
        return str(job["video_url"])


class IgnoresLength(Sound):
    """Streams whatever arrives and calls a short body the whole video."""

    @asynccontextmanager
    async def download(
        self, video_id: str, variant: reelgate.Variant, *, call: Call
    ) -> AsyncIterator[DownloadStream]:
        """Drop the announced length and swallow the cut."""
        url = await self._asset_url(video_id, call)
        async with self.upstream.stream(url, call=call) as stream:

            async def chunks() -> AsyncIterator[bytes]:
                try:
                    async for chunk in stream:
                        yield chunk
                except ProviderError:
                    return

            yield DownloadStream(content_type="video/mp4", content_length=None, chunks=chunks())


class KeyToAssets(Sound):
    """Sends its key along to the asset host."""

    @asynccontextmanager
    async def download(
        self, video_id: str, variant: reelgate.Variant, *, call: Call
    ) -> AsyncIterator[DownloadStream]:
        """Add the Authorization header to the signed URL's request."""
        url = await self._asset_url(video_id, call)
        assert call.key is not None
        headers = {"Authorization": f"Bearer {call.key.reveal()}"}
        async with self.upstream.stream(
            url, call=call, authenticate=False, headers=headers
        ) as stream:
            yield stream


class TokenToAssets(Sound):
    """Sends a token made from its key (not the key itself) along to the asset host."""

    @asynccontextmanager
    async def download(
        self, video_id: str, variant: reelgate.Variant, *, call: Call
    ) -> AsyncIterator[DownloadStream]:
        """Add an Authorization header the raw keys cannot be found in."""
        url = await self._asset_url(video_id, call)
        assert call.key is not None
        headers = {"Authorization": f"Bearer tok.{call.key.reveal()[::-1]}"}
        async with self.upstream.stream(url, call=call, headers=headers) as stream:
            yield stream


class OnApiHost(Sound):
    """Fetches its videos from the API host (the emulator serves its files there too)."""

    @asynccontextmanager
    async def download(
        self, video_id: str, variant: reelgate.Variant, *, call: Call
    ) -> AsyncIterator[DownloadStream]:
        """The signed URL's path and query, on the base URL."""
        url = urlsplit(await self._asset_url(video_id, call))
        async with self.upstream.stream(f"{url.path}?{url.query}", call=call) as stream:
            yield stream


class RereadsFailures(Sound):
    """Reads a failed job twice more, to be sure."""

    async def retrieve(self, video_id: str, *, call: Call) -> reelgate.Video:
        """Retrieve, and again while the job reads failed."""
        video = await super().retrieve(video_id, call=call)
        for _ in range(2):
            if video.status is not reelgate.VideoStatus.FAILED:
                break
            video = await super().retrieve(video_id, call=call)
        return video


class OneKey(Sound):
    """Reads every job with the first key it ever used."""

    first: Any = None

    async def create(self, request: reelgate.CreateVideo, *, call: Call) -> reelgate.Video:
        """Create, remembering the key."""
        type(self).first = type(self).first or call.key
        return await super().create(request, call=call)

    async def retrieve(self, video_id: str, *, call: Call) -> reelgate.Video:
        """Retrieve with the remembered key."""
        return await super().retrieve(video_id, call=attrs.evolve(call, key=type(self).first))


class HiddenUpstream:
    """Keeps its Upstream under another name (it only creates and retrieves)."""

    def __init__(self, upstream: Any) -> None:
        self._inner = Sound(upstream)

    @classmethod
    def from_setup(cls, setup: reelgate.ProviderSetup) -> HiddenUpstream:
        """Wrap the sound provider."""
        return cls(Sound.from_setup(setup).upstream)

    async def create(self, request: reelgate.CreateVideo, *, call: Call) -> reelgate.Video:
        """Create through the hidden provider."""
        return await self._inner.create(request, call=call)

    async def retrieve(self, video_id: str, *, call: Call) -> reelgate.Video:
        """Retrieve through the hidden provider."""
        return await self._inner.retrieve(video_id, call=call)


class CancelledAsPlainFailure(Sound):
    """Cancels, then reports the cancelled job with an error of its own making."""

    def _video(self, job: dict[str, Any], *, call: Call) -> reelgate.Video:
        video = super()._video(job, call=call)
        if video.error is not None and video.error.code == CANCELLED:
            return attrs.evolve(video, error=VideoError(code="job_failed", message="cancelled"))
        return video


class NoHook:
    """A plugin object that forgot its hook."""


class _Plugin:
    def __init__(self, provider: type[Any]) -> None:
        self.provider = provider

    @reelgate.hookimpl
    def reelgate_register_providers(self, registry: reelgate.ProviderRegistry) -> None:
        registry.add(
            reelgate.ProviderSpec(
                type="kit", factory=self.provider.from_setup, settings=TemplateSettings
            )
        )


class Kit(ProviderContract):
    """The contract, on the template emulator, with a provider chosen per test."""

    provider_type: ClassVar[str] = "kit"
    model: ClassVar[str] = "template-1"

    def __init__(
        self,
        provider: type[Any] = Sound,
        *,
        plugin: object = None,
        markers: Sequence[str] | None = None,
    ) -> None:
        self._plugin = plugin if plugin is not None else _Plugin(provider)
        self._markers = markers

    def leak_markers(self) -> Sequence[str]:
        return super().leak_markers() if self._markers is None else self._markers

    def plugin(self) -> object:
        return self._plugin

    def emulator(self) -> Any:
        return create_app(job_seconds=0.2)

    def download_path_pattern(self) -> str | None:
        return r"^/files/"


async def check(kit: Kit, name: str, app: Any = None, url: str | None = None) -> None:
    """Run one contract check as pytest would, in-process (or on `url`)."""
    app = kit.emulator() if app is None else app
    async with kit.connect(app, url) as harness:
        await getattr(kit, name)(harness)


# -- the checks fail where they should -------------------------------------------------------

CHECKS = [
    "test_truncated_download_is_an_error",
    "test_credentials_stay_on_the_api_host",
    "test_a_failed_job_is_read_without_retries",
    "test_jobs_keep_the_key_that_created_them",
    "test_delete_stops_a_running_job",
]


@pytest.mark.parametrize("name", CHECKS)
async def test_a_sound_provider_passes_each_check(name: str) -> None:
    """The sound provider passes every check the broken ones fail."""
    await check(Kit(Sound), name)


async def test_a_download_that_ignores_its_length_fails() -> None:
    """A provider that streams a cut-off body as if whole fails the truncation check."""
    with pytest.raises(Failed, match="ended without an error"):
        await check(Kit(IgnoresLength), "test_truncated_download_is_an_error")


async def test_a_key_sent_to_the_asset_host_fails() -> None:
    """A provider that sends its key to the asset host fails, in-process and on loopback."""
    with pytest.raises(AssertionError, match="a key went to another host"):
        await check(Kit(KeyToAssets), "test_credentials_stay_on_the_api_host")
    kit = Kit(KeyToAssets)
    app = kit.emulator()
    with serve(app) as url, pytest.raises(AssertionError, match="GET localhost:"):
        await check(kit, "test_credentials_stay_on_the_api_host", app, url)


async def test_assets_on_the_api_host_must_be_declared() -> None:
    """An emulator that never uses its asset host fails unless the contract says so."""
    with pytest.raises(AssertionError, match="never reached the asset host"):
        await check(Kit(OnApiHost), "test_credentials_stay_on_the_api_host")


async def test_a_token_sent_to_the_asset_host_fails_when_its_marker_is_named() -> None:
    """A derived token is invisible to the raw keys; leak_markers() names what to look for."""
    await check(Kit(TokenToAssets), "test_credentials_stay_on_the_api_host")
    markers = (KEY_A[::-1], KEY_B[::-1])
    with pytest.raises(AssertionError, match="a key went to another host"):
        await check(Kit(TokenToAssets, markers=markers), "test_credentials_stay_on_the_api_host")


async def test_rereading_a_failed_job_fails() -> None:
    """A provider that reads a failed job again fails the one-read check."""
    with pytest.raises(AssertionError, match="must not be retried"):
        await check(Kit(RereadsFailures), "test_a_failed_job_is_read_without_retries")


async def test_reading_with_another_key_fails() -> None:
    """A provider that reads a job with another key than the one that created it fails."""
    OneKey.first = None
    with pytest.raises(AssertionError, match="a retrieve of a job created with"):
        await check(Kit(OneKey), "test_jobs_keep_the_key_that_created_them")


async def test_a_cancel_only_provider_is_checked_as_one() -> None:
    """Deleting a running job of a cancel-only provider cancels it; a wrong error code fails."""
    await check(Kit(Sound), "test_delete_stops_a_running_job")
    await check(Kit(Sound), "test_delete_forgets_a_finished_job")
    with pytest.raises(AssertionError, match="cancelled_error"):
        await check(Kit(CancelledAsPlainFailure), "test_delete_stops_a_running_job")


async def test_a_plugin_without_a_hook_fails_with_what_to_add() -> None:
    """A plugin module that registers nothing fails the harness, naming the hook to add."""
    with pytest.raises(Failed, match="reelgate_register_providers"):
        await check(Kit(plugin=NoHook()), "test_create_returns_a_qualified_job")


async def test_an_emulator_without_its_fault_layer_fails() -> None:
    """An emulator not wrapped in FaultMiddleware fails, naming it, instead of skipping."""
    bare = Kit().emulator().app
    with pytest.raises(Failed, match="FaultMiddleware"):
        await check(Kit(), "test_server_errors_are_retried_for_reads", bare)


async def test_a_provider_without_upstream_fails() -> None:
    """A provider without an `upstream` attribute fails the timeout check, saying what to add."""
    with pytest.raises(Failed, match="`upstream` attribute"):
        await check(Kit(HiddenUpstream), "test_timeout_is_a_provider_timeout")


# -- gateway_for ------------------------------------------------------------------------------


async def test_gateway_for_wires_an_instance_to_an_emulator() -> None:
    """gateway_for builds one instance with the given keys, in-process, and closes it after."""
    app = create_app(job_seconds=0.05)
    async with gateway_for("kit", plugin=_Plugin(Sound), app=app, instance="k") as gateway:
        assert gateway.instance("k").capabilities >= {"create", "retrieve", "download"}
        video = await gateway.create(reelgate.CreateVideo(model="k/template-1", prompt="x"))
        await gateway.wait(video.id, timeout=5)
    assert [r.carries(KEY_A) for r in app.faults.seen][:1] == [True]
    assert not any(r.carries(KEY_B) for r in app.faults.seen)


async def test_gateway_for_over_loopback_with_named_keys(monkeypatch) -> None:
    """Without an app, gateway_for talks to a served emulator; a mapping names the key variables."""
    monkeypatch.delenv("KIT_KEY", raising=False)
    app = create_app(job_seconds=0.05)
    with serve(app) as url:
        async with gateway_for(
            "kit", plugin=_Plugin(Sound), base_url=url, keys={"KIT_KEY": "sk-kit-0123456789"}
        ) as gateway:
            keys = gateway.instance("kit-test").keys
            assert [k.name for k in keys] == ["KIT_KEY"]
            await gateway.create(reelgate.CreateVideo(model="kit-test/template-1", prompt="x"))
    assert app.faults.seen[0].host == "127.0.0.1"
    assert app.faults.seen[0].carries("sk-kit-0123456789")
    import os  # noqa: PLC0415  # the environment is checked after the gateway is gone

    assert "KIT_KEY" not in os.environ
