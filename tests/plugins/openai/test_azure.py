"""How the azure type authenticates and addresses Azure OpenAI's v1 API, on the emulator."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest

import reelgate_openai
from reelgate import (
    AuthenticationError,
    ConfigurationError,
    CreateVideo,
    Gateway,
    InvalidRequestError,
    VideoStatus,
)
from reelgate.config import Config, InstanceConfig
from reelgate.http import emulator_transport, make_client
from reelgate.plugins import Plugins
from reelgate.store import MemoryJobIndex
from reelgate_openai.azure import AzureProvider
from reelgate_openai.emulator import create_app

pytestmark = pytest.mark.anyio

KEY = "azure-key-0123456789abcdef0123456789"
TOKEN = "eyJ0eXAiOiJKV1QiLCJhbGciOiJSUzI1NiJ9.entra-token-body.signature"
KEY_ENV = "REELGATE_AZURE_TEST_KEY"

Build = Callable[..., Gateway]


@pytest.fixture(name="app")
def _app() -> Any:
    """An emulator in azure mode that accepts only `KEY` and `TOKEN`."""
    return create_app(job_seconds=0.2, mode="azure", api_keys={KEY, TOKEN})


@pytest.fixture(name="build")
async def _build(app: Any, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[Build]:
    """Build gateways with one ``azure`` instance (``foundry``) on the emulator."""
    opened: list[tuple[Gateway, Any]] = []

    def build(*, key: str | None = KEY, **settings: Any) -> Gateway:
        if key is None:
            monkeypatch.delenv(KEY_ENV, raising=False)
        else:
            monkeypatch.setenv(KEY_ENV, key)
        client = make_client(transport=emulator_transport(app))
        plugins = Plugins()
        plugins.register(reelgate_openai, name="openai")
        merged = {"endpoint": "http://myresource.openai.azure.test", "poll_interval": 0.02}
        merged.update(settings)
        merged = {name: value for name, value in merged.items() if value is not None}
        config = Config(
            instances=(
                InstanceConfig(name="foundry", type="azure", key_env=(KEY_ENV,), settings=merged),
            ),
            default_instances=False,
        )
        gateway = Gateway(config, plugins=plugins, index=MemoryJobIndex(), http_client=client)
        opened.append((gateway, client))
        return gateway

    yield build
    for gateway, client in opened:
        await gateway.aclose()
        await client.aclose()


async def test_the_key_goes_in_api_key_and_the_version_in_every_query(
    app: Any, build: Build
) -> None:
    """The key is an api-key header (no Authorization); api-version rides on every request."""
    gateway = build(api_version="preview")
    video = await gateway.create(CreateVideo(model="foundry/sora-2", prompt="a paper boat"))
    await gateway.wait(video.id, timeout=10)
    async with gateway.download(video.id) as stream:
        assert (await stream.read())[4:8] == b"ftyp"
    await gateway.list("foundry")
    seen = app.faults.seen
    assert {r.path.split("/videos")[0] for r in seen} == {"/openai/v1"}
    assert all(r.headers.get("api-key") == KEY for r in seen)
    assert not any("authorization" in r.headers for r in seen)
    assert all("api-version=preview" in r.query for r in seen)
    assert any(r.path.endswith("/content") for r in seen)


async def test_no_api_version_is_sent_unless_set(app: Any, build: Build) -> None:
    """The v1 API needs no api-version: none is sent by default."""
    gateway = build()
    await gateway.create(CreateVideo(model="foundry/sora-2", prompt="a paper boat"))
    assert all("api-version" not in r.query for r in app.faults.seen)


@pytest.mark.parametrize("kind", ["sync", "async"])
async def test_a_token_provider_sends_an_entra_bearer_token(
    app: Any, build: Build, kind: str
) -> None:
    """A token provider, sync or async, is asked per operation; its token is a bearer token."""
    asked: list[int] = []

    def sync_tokens() -> str:
        asked.append(1)
        return TOKEN

    async def async_tokens() -> str:
        asked.append(1)
        return TOKEN

    gateway = build(key=None, token_provider=sync_tokens if kind == "sync" else async_tokens)
    assert not gateway.problems, gateway.problems
    video = await gateway.create(CreateVideo(model="foundry/sora-2", prompt="a paper boat"))
    again = await gateway.retrieve(video.id)
    assert again.id == video.id
    assert len(asked) == 2
    assert all(r.headers.get("authorization") == f"Bearer {TOKEN}" for r in app.faults.seen)
    assert not any("api-key" in r.headers for r in app.faults.seen)


async def test_a_token_provider_wins_over_a_key(app: Any, build: Build) -> None:
    """With both a key and a token provider, the Entra token is what is sent."""
    gateway = build(token_provider=lambda: TOKEN)
    await gateway.create(CreateVideo(model="foundry/sora-2", prompt="a paper boat"))
    [seen] = app.faults.seen
    assert seen.headers["authorization"] == f"Bearer {TOKEN}"
    assert "api-key" not in seen.headers


async def test_neither_key_nor_token_is_refused_before_sending(app: Any, build: Build) -> None:
    """Without a key or a token provider, nothing is sent and the error says what to set."""
    gateway = build(key=None)
    with pytest.raises(AuthenticationError, match="AZURE_OPENAI_API_KEY") as caught:
        await gateway.create(CreateVideo(model="foundry/sora-2", prompt="a paper boat"))
    assert caught.value.provider == "foundry"
    assert app.faults.seen == []


async def test_a_token_that_is_empty_is_an_authentication_error(build: Build) -> None:
    """A token provider that returns nothing is an AuthenticationError, not a bare header."""
    gateway = build(key=None, token_provider=lambda: "")
    with pytest.raises(AuthenticationError, match="returned no token"):
        await gateway.create(CreateVideo(model="foundry/sora-2", prompt="a paper boat"))


async def test_a_wrong_key_reads_azures_envelope(build: Build) -> None:
    """Azure's 401 body, {"error": {"code": "401", "message"}}, becomes an AuthenticationError."""
    gateway = build(key="azure-wrong-key-000000000000")
    with pytest.raises(AuthenticationError, match="invalid subscription key") as caught:
        await gateway.create(CreateVideo(model="foundry/sora-2", prompt="a paper boat"))
    assert caught.value.code == "401"
    assert "azure-wrong-key" not in str(caught.value.raw_response)


async def test_the_token_is_scrubbed_from_errors(app: Any, build: Build) -> None:
    """An upstream error that echoes the Entra token does not carry it to the caller."""
    from reelgate.emulation import Fault  # noqa: PLC0415  # only this test scripts a fault

    gateway = build(key=None, token_provider=lambda: TOKEN)
    app.faults.add(Fault(status=400, message=f"bad token {TOKEN}", method="POST"))
    with pytest.raises(InvalidRequestError) as caught:
        await gateway.create(CreateVideo(model="foundry/sora-2", prompt="a paper boat"))
    assert TOKEN not in str(caught.value)
    assert TOKEN not in repr(caught.value.raw_response)


async def test_sora_2_on_azure_is_checked_before_sending(app: Any, build: Build) -> None:
    """Azure's sora-2 offers 4, 8 or 12 seconds at 720p: 16 seconds is refused locally."""
    gateway = build()
    with pytest.raises(InvalidRequestError, match="choose one of 4, 8, 12") as caught:
        await gateway.create(CreateVideo(model="foundry/sora-2", prompt="a boat", seconds=16))
    assert caught.value.param == "seconds"
    assert app.faults.seen == []


async def test_a_deployment_name_passes_unchecked(build: Build) -> None:
    """A deployment named otherwise is sent as it is (the emulator serves sora-2 only)."""
    gateway = build(models={"my-sora": {"seconds": ["4"], "sizes": ["720x1280"]}})
    with pytest.raises(InvalidRequestError, match="choose one of 4"):
        await gateway.create(CreateVideo(model="foundry/my-sora", prompt="a boat", seconds=8))
    with pytest.raises(InvalidRequestError) as caught:
        await gateway.create(CreateVideo(model="foundry/other-deployment", prompt="a boat"))
    assert caught.value.upstream is True


async def test_the_endpoint_comes_from_the_environment(
    app: Any, build: Build, monkeypatch: pytest.MonkeyPatch
) -> None:
    """AZURE_OPENAI_ENDPOINT (trailing slash or not) gives the base URL, + /openai/v1."""
    monkeypatch.setenv("AZURE_OPENAI_ENDPOINT", "http://from-env.openai.azure.test/")
    gateway = build(endpoint=None)
    provider = gateway.instance("foundry").provider
    assert isinstance(provider, AzureProvider)
    assert provider.upstream.base_url == "http://from-env.openai.azure.test/openai/v1"
    video = await gateway.create(CreateVideo(model="foundry/sora-2", prompt="a paper boat"))
    assert (await gateway.wait(video.id, timeout=10)).status is VideoStatus.COMPLETED


async def test_without_an_endpoint_the_first_request_says_what_to_set(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """An azure instance with no endpoint builds, and refuses to work, naming the variable."""
    monkeypatch.delenv("AZURE_OPENAI_ENDPOINT", raising=False)
    plugins = Plugins()
    plugins.register(reelgate_openai, name="openai")
    config = Config(
        instances=(InstanceConfig(name="foundry", type="azure", key_env=(KEY_ENV,)),),
        default_instances=False,
    )
    monkeypatch.setenv(KEY_ENV, KEY)
    gateway = Gateway(config, plugins=plugins, index=MemoryJobIndex())
    assert not gateway.problems
    with pytest.raises(ConfigurationError, match="AZURE_OPENAI_ENDPOINT"):
        await gateway.create(CreateVideo(model="foundry/sora-2", prompt="a paper boat"))
    await gateway.aclose()


def test_a_token_provider_must_be_callable() -> None:
    """A token_provider that cannot be called is a configuration problem of the instance."""
    plugins = Plugins()
    plugins.register(reelgate_openai, name="openai")
    settings = {"endpoint": "https://x.openai.azure.com", "token_provider": "not-callable"}
    config = Config(
        instances=(InstanceConfig(name="foundry", type="azure", settings=settings),),
        default_instances=False,
    )
    gateway = Gateway(config, plugins=plugins, index=MemoryJobIndex())
    assert "token_provider" in gateway.problems["foundry"]


async def test_an_instance_built_in_code_takes_a_token_provider(app: Any) -> None:
    """Gateway(instances=...) with an AzureProvider built by hand, as the docs show it."""
    from reelgate.instances import ProviderInstance  # noqa: PLC0415  # the embedder's route
    from reelgate_openai.azure import AzureUpstream, azure_auth  # noqa: PLC0415

    async def tokens() -> str:
        return TOKEN

    client = make_client(transport=emulator_transport(app))
    upstream = AzureUpstream(
        client=client,
        base_url="http://myresource.openai.azure.test/openai/v1",
        instance="foundry",
        auth=azure_auth,
        token_provider=tokens,
    )
    instance = ProviderInstance(
        name="foundry", type="azure", provider=AzureProvider(upstream), requires_key=False
    )
    config = Config(default_instances=False)
    async with Gateway(
        config,
        plugins=Plugins(),
        index=MemoryJobIndex(),
        http_client=client,
        instances={"foundry": instance},
    ) as gateway:
        video = await gateway.create(CreateVideo(model="foundry/sora-2", prompt="a paper boat"))
        assert (await gateway.wait(video.id, timeout=10)).status is VideoStatus.COMPLETED
    await client.aclose()
    assert all(r.headers["authorization"] == f"Bearer {TOKEN}" for r in app.faults.seen)
