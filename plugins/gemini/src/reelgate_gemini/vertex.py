"""
The ``vertex`` provider type: Veo through Vertex AI.

* create: ``POST {base}/v1/projects/{p}/locations/{l}/publishers/google/models/{m}``
  ``:predictLongRunning``;
* retrieve: ``POST .../models/{m}:fetchPredictOperation`` with ``{"operationName": ...}``;
* download: the video Vertex AI returned inline (base64). A video written to Cloud
  Storage (``storageUri``) is reported as such, with how to fetch it.

The base URL is ``https://{location}-aiplatform.googleapis.com/`` (the ``global``
location: ``https://aiplatform.googleapis.com/``) unless ``base_url`` says otherwise.

Authentication: an API key when the instance has one (sent as ``x-goog-api-key``, as
the official SDK sends it), else an OAuth2 bearer token from the ``credentials`` file or
from application default credentials, through google-auth (the ``vertex`` extra).
"""

from __future__ import annotations

import json
import re
from collections.abc import Awaitable
from contextlib import AbstractAsyncContextManager
from typing import Any, Self, TypeVar
from urllib.parse import urlsplit

import attrs

import reelgate
from reelgate import (
    AuthenticationError,
    Call,
    ConfigurationError,
    DownloadStream,
    InvalidRequestError,
    ProviderError,
    Secret,
)
from reelgate.http import Reply, Upstream, UpstreamError, scrub

from ._auth import TokenSource
from ._request import VERTEX_AI
from ._veo import MAX_IMAGE_BYTES, VeoProvider, segment, versioned
from ._wire import parse_error

__all__ = ["VertexProvider", "VertexSettings"]

T = TypeVar("T")

_LOCATION = re.compile(r"[a-z0-9][a-z0-9-]*")
_PROJECT = re.compile(r"[A-Za-z0-9][A-Za-z0-9.:_-]*")
_OPERATION = re.compile(
    rf"(projects/{segment}/locations/([a-z0-9-]+)/publishers/google/models/{segment})/operations/{segment}"
)


def _api_key(key: Secret) -> dict[str, str]:
    return {"x-goog-api-key": key.reveal()}


@attrs.frozen(kw_only=True)
class VertexSettings(reelgate.ProviderSettings):
    """
    Settings of a ``vertex`` instance (besides the common ones).

    Attributes:
        project: The Google Cloud project (``GOOGLE_CLOUD_PROJECT``); by default the
            project the credentials belong to.
        location: The region (``GOOGLE_CLOUD_LOCATION``), or ``global``.
        credentials: A service account's JSON key file; application default
            credentials when None. Unused when the instance has an API key.
        token_uri: Replaces a service account's token endpoint (for an emulator or a
            private endpoint).
        api_version: Appended to the base URL (unless it already ends with it).
        max_image_bytes: The largest image reelgate fetches from an https URL.
    """

    project: str | None = None
    location: str = "us-central1"
    credentials: str | None = None
    token_uri: str | None = None
    api_version: str = "v1"
    max_image_bytes: int = MAX_IMAGE_BYTES


class VertexProvider(VeoProvider):
    """
    A ``vertex`` instance: create, retrieve and download on Vertex AI.

    Attributes:
        upstream: Requests to Vertex AI (API-key requests carry ``x-goog-api-key``).
        tokens: OAuth2 access tokens, for requests without an API key.
    """

    dialect = VERTEX_AI

    def __init__(self, upstream: Upstream, settings: VertexSettings) -> None:
        if not _LOCATION.fullmatch(settings.location):
            raise ConfigurationError(
                f"location must be a Google Cloud region; got {settings.location!r}"
            )
        if settings.project is not None and not _PROJECT.fullmatch(settings.project):
            raise ConfigurationError(
                f"project must be a Google Cloud project id; got {settings.project!r}"
            )
        base = settings.base_url
        if base is not None and not base.startswith(("https://", "http://")):
            raise ConfigurationError(f"base_url must be an http(s) URL; got {base!r}")
        self.settings = settings
        super().__init__(
            attrs.evolve(
                upstream,
                base_url=self._base(settings.location),
                parse_error=self._parse_error,
                auth=_api_key,
                headers={"x-goog-api-client": f"reelgate/{reelgate.__version__}"},
            ),
            max_image_bytes=settings.max_image_bytes,
        )
        self.tokens = TokenSource(self.upstream, settings.credentials, settings.token_uri)

    @classmethod
    def from_setup(cls, setup: reelgate.ProviderSetup) -> Self:
        """
        The factory registered for the ``vertex`` type.

        Raises:
            ConfigurationError: The location, project or base URL is malformed.
        """
        if not isinstance(setup.settings, VertexSettings):
            raise ConfigurationError("the vertex provider needs VertexSettings")
        return cls(setup.upstream, setup.settings)

    def _base(self, location: str) -> str:
        if self.settings.base_url:
            return versioned(self.settings.base_url, self.settings.api_version)
        host = (
            "aiplatform.googleapis.com"
            if location == "global"
            else f"{location}-aiplatform.googleapis.com"
        )
        return versioned(f"https://{host}", self.settings.api_version)

    def _parse_error(self, reply: Reply) -> UpstreamError:
        detail = parse_error(reply)
        token = self.tokens.current()
        if token is None:
            return detail
        raw = json.loads(scrub(json.dumps(detail.raw), [token])) if detail.raw is not None else None
        return attrs.evolve(detail, message=scrub(detail.message, [token]), raw=raw)

    async def _auth(self, call: Call) -> dict[str, str]:
        if call.key is not None:
            return {}  # the upstream sends the key
        token = await self.tokens.token(call)
        return {"Authorization": f"Bearer {token.reveal()}"}

    async def _guard(self, call: Call, work: Awaitable[T]) -> T:
        try:
            return await super()._guard(call, work)
        except AuthenticationError:
            if call.key is None:
                self.tokens.forget()  # revoked or expired early: the next call gets a new one
            raise

    async def _project(self, call: Call) -> str:
        project = self.settings.project
        if project is None and call.key is None:
            project = await self.tokens.project(call)
        if project is None:
            raise ConfigurationError(
                "Vertex AI needs a project: set project in reelgate.toml or GOOGLE_CLOUD_PROJECT",
                call=call,
            )
        if not _PROJECT.fullmatch(project):
            raise ConfigurationError(f"not a Google Cloud project id: {project!r}")
        return project

    async def _start(self, model: str, body: dict[str, Any], call: Call) -> Any:
        project = await self._project(call)
        location = self.settings.location
        where = f"projects/{project}/locations/{location}"
        path = f"{where}/publishers/google/models/{model}:predictLongRunning"
        return await self.upstream.json(
            "POST",
            f"{self._base(location)}/{path}",
            call=call,
            idempotent=False,
            json=body,
            headers=await self._auth(call),
        )

    async def _poll(self, name: str, call: Call) -> Any:
        match = _OPERATION.fullmatch(name)
        if match is None:
            raise InvalidRequestError(
                f"not a Vertex AI operation name: {name!r} (expected projects/<p>/locations/<l>/"
                "publishers/google/models/<model>/operations/<id>)",
                param="video_id",
            )
        model_path, location = match.groups()
        return await self.upstream.json(
            "POST",
            f"{self._base(location)}/{model_path}:fetchPredictOperation",
            call=call,
            idempotent=True,
            json={"operationName": name},
            headers=await self._auth(call),
        )

    def _open(
        self, url: str, content_type: str, call: Call
    ) -> AbstractAsyncContextManager[DownloadStream]:
        raise ProviderError(
            f"Vertex AI returned the video as a URL on {urlsplit(url).hostname!r}, which reelgate "
            "does not download from; expected inline bytes or a gs:// URI",
            call=call,
        )
