"""
The ``gemini`` provider type: Veo through the Gemini API (the "Developer API").

* create: ``POST {base}/v1beta/models/{model}:predictLongRunning`` with ``x-goog-api-key``;
* retrieve: ``GET {base}/v1beta/{operation name}``;
* download: ``GET {base}/v1beta/files/{id}:download?alt=media``, following the redirect
  to the file's bytes only to the API's own hosts.

The native id is the operation name, ``models/{model}/operations/{id}``; the gateway
escapes its slashes in the ids callers see.
"""

from __future__ import annotations

import re
from contextlib import AbstractAsyncContextManager
from typing import Any, Self
from urllib.parse import urlsplit

import attrs

import reelgate
from reelgate import Call, DownloadStream, InvalidRequestError, ProviderError, Secret
from reelgate.http import Upstream

from ._request import GEMINI_API
from ._veo import MAX_IMAGE_BYTES, VeoProvider, segment, versioned
from ._wire import parse_error

__all__ = ["DEFAULT_BASE_URL", "GeminiProvider", "GeminiSettings"]

#: The Gemini API's address (the API version is appended).
DEFAULT_BASE_URL = "https://generativelanguage.googleapis.com/"

_OPERATION = re.compile(rf"(?:{segment}/)+operations/{segment}")
_FILE = re.compile(r"/files/([A-Za-z0-9_-]+)(?::download)?")
_API_HOST = "generativelanguage.googleapis.com"


def _api_key(key: Secret) -> dict[str, str]:
    return {"x-goog-api-key": key.reveal()}


@attrs.frozen(kw_only=True)
class GeminiSettings(reelgate.ProviderSettings):
    """
    Settings of a ``gemini`` instance (besides the common ones).

    Attributes:
        base_url: The API's address; ``GOOGLE_GEMINI_BASE_URL``, else Google's.
        api_version: Appended to the base URL (unless it already ends with it).
        max_image_bytes: The largest image reelgate fetches from an https URL.
        download_hosts: Further hosts trusted with the key: a file URI on one is fetched
            with it, and so is a download redirected there (the API's own host and
            ``generativelanguage.googleapis.com`` always are). A redirect to any other
            host, a signed storage URL, is followed without the key.
    """

    base_url: str | None = DEFAULT_BASE_URL
    api_version: str = "v1beta"
    max_image_bytes: int = MAX_IMAGE_BYTES
    download_hosts: tuple[str, ...] = ()


class GeminiProvider(VeoProvider):
    """
    A ``gemini`` instance: create, retrieve and download on the Gemini API.

    Attributes:
        upstream: Requests to ``{base_url}/{api_version}``, keyed with ``x-goog-api-key``.
        download_hosts: Hosts a download sends the key to.
    """

    dialect = GEMINI_API

    def __init__(
        self,
        upstream: Upstream,
        *,
        max_image_bytes: int = MAX_IMAGE_BYTES,
        download_hosts: tuple[str, ...] = (),
    ) -> None:
        super().__init__(upstream, max_image_bytes=max_image_bytes)
        own = urlsplit(upstream.base_url).hostname
        self.download_hosts = tuple(
            dict.fromkeys(h for h in (own, _API_HOST, *download_hosts) if h)
        )

    @classmethod
    def from_setup(cls, setup: reelgate.ProviderSetup) -> Self:
        """
        The factory registered for the ``gemini`` type.

        Raises:
            ConfigurationError: The base URL is not http(s).
        """
        settings = setup.settings
        if not isinstance(settings, GeminiSettings):
            raise reelgate.ConfigurationError("the gemini provider needs GeminiSettings")
        base = settings.base_url or DEFAULT_BASE_URL
        if not base.startswith(("https://", "http://")):
            raise reelgate.ConfigurationError(f"base_url must be an http(s) URL; got {base!r}")
        upstream = attrs.evolve(
            setup.upstream,
            base_url=versioned(base, settings.api_version),
            parse_error=parse_error,
            auth=_api_key,
            headers={"x-goog-api-client": f"reelgate/{reelgate.__version__}"},
        )
        return cls(
            upstream,
            max_image_bytes=settings.max_image_bytes,
            download_hosts=settings.download_hosts,
        )

    async def _start(self, model: str, body: dict[str, Any], call: Call) -> Any:
        return await self.upstream.json(
            "POST", f"models/{model}:predictLongRunning", call=call, idempotent=False, json=body
        )

    async def _poll(self, name: str, call: Call) -> Any:
        if not _OPERATION.fullmatch(name):
            raise InvalidRequestError(
                f"not a Gemini API operation name: {name!r} "
                "(expected models/<model>/operations/<id>)",
                param="video_id",
            )
        return await self.upstream.json("GET", name, call=call, idempotent=True)

    def _open(
        self, url: str, content_type: str, call: Call
    ) -> AbstractAsyncContextManager[DownloadStream]:
        # Like the official SDK, download a generated file from the configured API (the
        # file's URI names Google's public host, which an emulator or proxy is not).
        parts = urlsplit(url)
        if (match := _FILE.search(parts.path)) is not None:
            # The API answers with a redirect to a signed URL, on a storage host: followed
            # wherever it leads, and the key goes on only to the API's hosts.
            return self.upstream.stream(
                f"files/{match.group(1)}:download",
                call=call,
                params={"alt": "media"},
                trusted_hosts=self.download_hosts,
                redirect_hosts="*",
                default_content_type=content_type,
            )
        if parts.scheme != "https" or parts.hostname not in self.download_hosts:
            raise ProviderError(
                f"the video's URI is on {parts.hostname!r}, not a Gemini API host; "
                "reelgate does not send the key there",
                call=call,
            )
        return self.upstream.stream(
            url, call=call, trusted_hosts=self.download_hosts, default_content_type=content_type
        )
