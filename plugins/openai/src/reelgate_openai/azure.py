"""
The ``azure`` provider type: OpenAI's videos API as Azure OpenAI (Microsoft Foundry) serves it.

Azure serves the same wire format as OpenAI at ``{endpoint}/openai/v1/videos``, so every
operation is `OpenAIProvider`'s; what differs is how a request is authenticated and
addressed:

* the key goes in an ``api-key`` header (``AZURE_OPENAI_API_KEY``), or a Microsoft Entra
  token from a ``token_provider`` goes in ``Authorization: Bearer``;
* the base URL is ``AZURE_OPENAI_ENDPOINT`` + ``/openai/v1``;
* an ``api_version`` setting is sent as the ``api-version`` query parameter of every
  request (the v1 API needs none);
* ``model`` is the name of a deployment in the resource.

A token provider is a callable, sync or async, that returns a token; it is called for
every operation, so it should cache (``azure.identity.get_bearer_token_provider`` does)::

    from azure.identity import DefaultAzureCredential, get_bearer_token_provider

    tokens = get_bearer_token_provider(
        DefaultAzureCredential(), "https://cognitiveservices.azure.com/.default"
    )
    config = Config(instances=(InstanceConfig(
        name="azure", type="azure", settings={"token_provider": tokens}),))
"""

from __future__ import annotations

import inspect
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from contextlib import asynccontextmanager
from typing import Any, Self

import attrs

import reelgate
from reelgate.config import Secret
from reelgate.errors import AuthenticationError, ConfigurationError
from reelgate.http import Reply, Upstream

from . import DEFAULT_MODELS, ModelLimits, OpenAIProvider

__all__ = [
    "AZURE_MODELS",
    "ENTRA_TOKEN",
    "AzureProvider",
    "AzureSettings",
    "AzureUpstream",
    "TokenProvider",
    "azure_auth",
    "spec",
]

#: A Microsoft Entra token provider: a callable returning a bearer token, or an awaitable one.
TokenProvider = Callable[[], str | Awaitable[str]]

#: The name of the `Secret` that holds a token from a token provider.
ENTRA_TOKEN = "entra-token"  # noqa: S105  # a name, not a secret

#: What Sora 2 renders on Azure (Microsoft's "Video generation with Sora 2" concepts page):
#: 4, 8 or 12 seconds, portrait or landscape 720p. Deployment names other than the model's
#: own name are not checked unless the ``models`` setting names them.
AZURE_MODELS: Mapping[str, ModelLimits] = {
    "sora-2": ModelLimits(seconds=("4", "8", "12"), sizes=("720x1280", "1280x720")),
}


def _callable_or_none(_instance: object, _attribute: object, value: object) -> None:
    if value is not None and not callable(value):
        raise ConfigurationError(
            f"token_provider must be a callable that returns a token, not {type(value).__name__}"
        )


@attrs.frozen(kw_only=True)
class AzureSettings(reelgate.ProviderSettings):
    """
    An ``azure`` instance's settings.

    Attributes:
        base_url: The API's base URL, ``/openai/v1`` included (default: the endpoint's).
        endpoint: The resource's endpoint, ``https://<resource>.openai.azure.com`` or
            ``https://<resource>.services.ai.azure.com`` (default: ``AZURE_OPENAI_ENDPOINT``).
        api_version: Sent as the ``api-version`` query parameter (e.g. ``preview``);
            nothing is sent when None.
        token_provider: Returns a Microsoft Entra token (sync or async); set in code,
            never in ``reelgate.toml``. When set, it is used instead of the API key.
        models: Durations and sizes per model or deployment name, merged over the
            defaults and checked before a create is sent.
    """

    endpoint: str | None = None
    api_version: str | None = None
    token_provider: Any = attrs.field(default=None, validator=_callable_or_none, repr=False)
    models: Mapping[str, ModelLimits] = attrs.field(factory=dict)


def azure_auth(key: Secret) -> dict[str, str]:
    """An API key in ``api-key``; an Entra token (`ENTRA_TOKEN`) as a bearer token."""
    if key.name == ENTRA_TOKEN:
        return {"Authorization": f"Bearer {key.reveal()}"}
    return {"api-key": key.reveal()}


@attrs.define
class AzureUpstream(Upstream):
    """
    An `Upstream` that adds ``api-version`` to every request and fetches Entra tokens.

    Attributes:
        api_version: The ``api-version`` query parameter, if any.
        token_provider: Returns the bearer token for each operation, if set.
    """

    api_version: str | None = None
    token_provider: TokenProvider | None = attrs.field(default=None, repr=False)

    async def _authorized(self, call: reelgate.Call) -> reelgate.Call:
        if not self.base_url:
            raise ConfigurationError(
                f"provider {call.instance!r} needs an endpoint: set AZURE_OPENAI_ENDPOINT "
                "(https://<resource>.openai.azure.com), or the endpoint or base_url setting",
                call=call,
            )
        if self.token_provider is None:
            if call.key is None:
                raise AuthenticationError(
                    f"no API key for provider {call.instance!r}: set AZURE_OPENAI_API_KEY, "
                    "or give the instance a token_provider",
                    call=call,
                )
            return call
        token: object = self.token_provider()
        if inspect.isawaitable(token):
            token = await token
        # A provider typed as returning str may still return None or bytes at run time.
        if not isinstance(token, str) or not token:
            raise AuthenticationError(
                f"the token provider of {call.instance!r} returned no token", call=call
            )
        return attrs.evolve(call, key=Secret(token, name=ENTRA_TOKEN))

    def _params(self, params: Mapping[str, Any] | None) -> Mapping[str, Any] | None:
        if self.api_version is None:
            return params
        return {**(params or {}), "api-version": self.api_version}

    async def request(
        self,
        method: str,
        path: str,
        *,
        call: reelgate.Call,
        params: Mapping[str, Any] | None = None,
        **kwargs: Any,
    ) -> Reply:
        """`Upstream.request`, authorized and versioned."""
        call = await self._authorized(call)
        return await super().request(method, path, call=call, params=self._params(params), **kwargs)

    async def json(
        self, method: str, path: str, *, call: reelgate.Call, idempotent: bool, **kwargs: Any
    ) -> Any:
        """`Upstream.json`, authorized and versioned."""
        call = await self._authorized(call)
        kwargs["params"] = self._params(kwargs.get("params"))
        return await super().json(method, path, call=call, idempotent=idempotent, **kwargs)

    @asynccontextmanager
    async def stream(
        self,
        url: str,
        *,
        call: reelgate.Call,
        params: Mapping[str, Any] | None = None,
        **kwargs: Any,
    ) -> AsyncIterator[reelgate.DownloadStream]:
        """`Upstream.stream`, authorized and versioned."""
        call = await self._authorized(call)
        async with super().stream(url, call=call, params=self._params(params), **kwargs) as body:
            yield body


class AzureProvider(OpenAIProvider):
    """An ``azure`` instance: `OpenAIProvider`'s operations over an `AzureUpstream`."""

    @classmethod
    def from_setup(cls, setup: reelgate.ProviderSetup) -> Self:
        """The factory registered with the spec."""
        settings = setup.settings
        if not isinstance(settings, AzureSettings):  # pragma: no cover - registered with it
            settings = AzureSettings(base_url=settings.base_url)
        base_url = settings.base_url
        if base_url is None and settings.endpoint:
            base_url = settings.endpoint.rstrip("/") + "/openai/v1"
        fields = {
            f.alias or f.name: getattr(setup.upstream, f.name)
            for f in attrs.fields(Upstream)
            if f.init
        }
        # Without an endpoint the instance still builds (every installed type has a default
        # instance); its first request says what to set.
        fields.update(base_url=base_url or "", auth=azure_auth)
        upstream = AzureUpstream(
            **fields, api_version=settings.api_version, token_provider=settings.token_provider
        )
        return cls(upstream, {**AZURE_MODELS, **settings.models})

    def __init__(self, upstream: Upstream, models: Mapping[str, ModelLimits] | None = None) -> None:
        super().__init__(upstream, {**DEFAULT_MODELS, **AZURE_MODELS, **(models or {})})

    def __repr__(self) -> str:
        return f"AzureProvider(base_url={self.upstream.base_url!r})"


#: The ``azure`` provider type, as the plugin's hook registers it.
spec = reelgate.ProviderSpec(
    type="azure",
    factory=AzureProvider.from_setup,
    settings=AzureSettings,
    key_env=("AZURE_OPENAI_API_KEY",),
    env={"endpoint": "AZURE_OPENAI_ENDPOINT"},
    # A token provider stands in for the key; AzureUpstream says when neither is there.
    requires_key=False,
    poll_interval=2.0,
    description="OpenAI's videos API on Azure OpenAI / Microsoft Foundry (/openai/v1/videos)",
)
