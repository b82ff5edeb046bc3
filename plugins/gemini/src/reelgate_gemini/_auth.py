"""
OAuth2 access tokens for Vertex AI, through google-auth.

google-auth (the ``vertex`` extra, imported only when a token is first needed) finds and
signs the credentials: a service account's JSON key named in the settings, or
application default credentials (ADC: ``GOOGLE_APPLICATION_CREDENTIALS``, gcloud's
login, or the metadata server). Its HTTP calls, the token
exchange and the metadata server, go through reelgate's own client, so timeouts,
retries, error mapping and the in-process emulators work as for every other request.

A token is cached until five minutes before it expires, refreshed by one task while the
others wait, and kept in a `reelgate.Secret`: it appears in no error, repr or log.
"""

from __future__ import annotations

import datetime as dt
import importlib
import math
import time
from collections.abc import Mapping
from typing import Any

import anyio
import anyio.from_thread
import anyio.to_thread
import attrs

from reelgate import (
    AuthenticationError,
    Call,
    ConfigurationError,
    ProviderError,
    ReelgateError,
    RetryPolicy,
    Secret,
    Timeouts,
)
from reelgate.http import Upstream, observe_upstream, scrub

__all__ = ["SCOPES", "TokenSource"]

#: What the tokens may do: Vertex AI needs the cloud-platform scope.
SCOPES = ("https://www.googleapis.com/auth/cloud-platform",)

#: Seconds before expiry at which a cached token is replaced.
REFRESH_MARGIN = 300.0


@attrs.frozen
class _Response:
    """google-auth's view of an HTTP response."""

    status: int
    headers: Mapping[str, str]
    data: bytes


def _google(module: str) -> Any:
    try:
        return importlib.import_module(module)
    except ImportError:
        raise ConfigurationError(
            "Vertex AI without an API key needs google-auth: pip install 'reelgate-gemini[vertex]'"
        ) from None


class _Bridge:
    """
    google-auth's transport interface over an `Upstream`.

    google-auth calls it from a worker thread; it runs the request on the event loop.
    """

    def __init__(self, upstream: Upstream, call: Call) -> None:
        self._upstream = upstream
        self._call = call

    def __call__(
        self,
        url: str,
        method: str = "GET",
        body: bytes | None = None,
        headers: Mapping[str, str] | None = None,
        timeout: float | None = None,
        **_kwargs: Any,
    ) -> _Response:
        return anyio.from_thread.run(self._send, url, method, body, dict(headers or {}), timeout)

    async def _send(
        self,
        url: str,
        method: str,
        body: bytes | None,
        headers: dict[str, str],
        seconds: float | None,
    ) -> _Response:
        upstream = self._upstream
        if seconds is not None:
            # google-auth probes the metadata server with a short timeout, once per try.
            t = float(seconds)
            upstream = attrs.evolve(
                upstream,
                timeouts=Timeouts(connect=t, read=t, write=t, pool=t),
                retry=RetryPolicy(attempts=1),
            )
        try:
            # A nested observation keeps token responses out of any raw-response log.
            # google-auth's requests carry their own credentials, never the instance's
            # key (the token endpoint may share the API's host, as the emulator's does).
            with observe_upstream():
                reply = await upstream.request(
                    method,
                    url,
                    call=self._call,
                    idempotent=True,
                    content=body,
                    headers=headers,
                    authenticate=False,
                )
        except ReelgateError as e:
            if e.upstream:
                raise
            exceptions = _google("google.auth.exceptions")
            raise exceptions.TransportError(e.message) from None
        return _Response(reply.status, dict(reply.headers), reply.content)


@attrs.define
class TokenSource:
    """
    Access tokens for one Vertex AI instance.

    Attributes:
        upstream: Carries google-auth's requests.
        credentials_file: A service account's JSON key; application default credentials
            if None.
        token_uri: Replaces a service account's token endpoint (for an emulator or a
            private endpoint).
    """

    upstream: Upstream = attrs.field(repr=False)
    credentials_file: str | None = None
    token_uri: str | None = None
    _credentials: Any = attrs.field(default=None, init=False, repr=False)
    _project: str | None = attrs.field(default=None, init=False)
    _token: Secret | None = attrs.field(default=None, init=False, repr=False)
    _expires: float = attrs.field(default=0.0, init=False, repr=False)
    _lock: anyio.Lock | None = attrs.field(default=None, init=False, repr=False)

    def current(self) -> Secret | None:
        """The cached token, if any (so that errors can be scrubbed of it)."""
        return self._token

    def forget(self) -> None:
        """Drop the cached token (after Google rejected it)."""
        self._token = None
        self._expires = 0.0

    def _fresh(self) -> bool:
        return self._token is not None and time.monotonic() < self._expires - REFRESH_MARGIN

    async def project(self, call: Call) -> str | None:
        """
        The project the credentials belong to, when they name one.

        Raises:
            ReelgateError: The credentials cannot be loaded.
        """
        if self._credentials is None:
            await self._in_thread(self._load, call)
        return self._project

    async def token(self, call: Call) -> Secret:
        """
        A valid access token, from the cache or freshly obtained.

        Raises:
            AuthenticationError: No credentials were found, or Google refused them.
            ConfigurationError: google-auth is missing, or the credentials file is unusable.
            ProviderError: The token endpoint could not be reached.
        """
        if self._lock is None:
            self._lock = anyio.Lock()
        async with self._lock:
            if not self._fresh():
                await self._in_thread(self._refresh, call)
            token = self._token
        if token is None:
            raise ProviderError("Google's token endpoint returned no access token")
        return token

    async def _in_thread(self, work: Any, call: Call) -> None:
        bridge = _Bridge(self.upstream, call)
        try:
            await anyio.to_thread.run_sync(work, bridge)
        except ReelgateError as e:
            if e.upstream and e.status_code is not None and 400 <= e.status_code < 500:
                raise AuthenticationError(
                    f"Google refused the credentials: {e.message}",
                    code=e.code,
                    call=call,
                    upstream=True,
                ) from None
            raise
        except Exception as e:  # noqa: BLE001  # google-auth's exceptions, mapped below
            raise self._mapped(e, call) from None

    @staticmethod
    def _mapped(error: Exception, call: Call) -> ReelgateError:
        exceptions = _google("google.auth.exceptions")
        where: dict[str, Any] = {"provider": call.instance, "request_type": call.request_type}
        text = scrub(str(error))
        if isinstance(error, exceptions.MalformedError | OSError):
            return ConfigurationError(f"cannot use the Vertex AI credentials: {text}", **where)
        if isinstance(error, exceptions.DefaultCredentialsError):
            return AuthenticationError(
                "no Google credentials for Vertex AI: set credentials in reelgate.toml, "
                "GOOGLE_APPLICATION_CREDENTIALS, or run `gcloud auth application-default login`; "
                f"({text})",
                **where,
            )
        if isinstance(error, exceptions.RefreshError):
            return AuthenticationError(f"Google refused the credentials: {text}", **where)
        if isinstance(error, exceptions.TransportError):
            return ProviderError(f"could not reach Google's token endpoint: {text}", **where)
        if isinstance(error, ValueError):
            return ConfigurationError(f"cannot use the Vertex AI credentials: {text}", **where)
        return ProviderError(f"obtaining a Vertex AI token failed: {type(error).__name__}", **where)

    def _load(self, bridge: _Bridge) -> None:
        """Find the credentials (in a worker thread)."""
        if self.credentials_file is not None:
            service_account = _google("google.oauth2.service_account")
            credentials = service_account.Credentials.from_service_account_file(
                self.credentials_file, scopes=SCOPES
            )
            project = credentials.project_id
        else:
            credentials, project = _google("google.auth").default(scopes=SCOPES, request=bridge)
        if self.token_uri is not None:
            if not hasattr(credentials, "with_token_uri"):
                msg = "token_uri applies to service-account credentials only"
                raise ValueError(msg)
            credentials = credentials.with_token_uri(self.token_uri)
        self._credentials = credentials
        self._project = project if isinstance(project, str) and project else None

    def _refresh(self, bridge: _Bridge) -> None:
        """Obtain a new token (in a worker thread)."""
        if self._credentials is None:
            self._load(bridge)
        self._credentials.refresh(bridge)
        token = self._credentials.token
        if not isinstance(token, str) or not token:
            raise ProviderError("Google's token endpoint returned no access token")
        expiry = self._credentials.expiry
        if isinstance(expiry, dt.datetime):
            now = dt.datetime.now(dt.UTC).replace(tzinfo=None)
            self._expires = time.monotonic() + (expiry - now).total_seconds()
        else:
            self._expires = math.inf
        self._token = Secret(token, name="vertex-access-token")
