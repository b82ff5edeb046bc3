"""
The errors reelgate raises, one tree under `ReelgateError`.

Every error that can cross HTTP has exactly one status code and serialises to the error
body of the `/v1/videos` API (see `reelgate.wire.dumps_error`)::

    ReelgateError
    ├── InvalidRequestError ............ 400  bad field, id, limit, order, model prefix
    │   └── UnsupportedOperationError .. 400  code "unsupported_operation"
    ├── AuthenticationError ............ 401  missing or rejected key
    ├── PermissionDeniedError .......... 403  upstream 403
    ├── NotFoundError .................. 404  unknown job
    ├── VideoNotReadyError ............. 409  download before completion
    ├── ConflictError .................. 409  an idempotency key in conflict: code
    │                                         "idempotency_key_reused" (another request),
    │                                         "idempotency_in_progress" (another create
    │                                         with the key still runs),
    │                                         "idempotency_outcome_unknown" (its create
    │                                         may exist upstream: do not retry blindly)
    ├── RateLimitError ................. 429  upstream 429 after retries; `retry_after`
    ├── ProviderError .................. 502  upstream 5xx, malformed or cut-off response
    │   └── ProviderTimeoutError ....... 504  upstream timed out
    ├── IndexUnavailableError .......... 503  the job index's database cannot be reached
    ├── VideoFailedError ............... ---  `Video.raise_for_status()` on a failed job
    ├── WaitTimeoutError ............... ---  `wait()` ran out of time; carries the last Video
    ├── ConfigurationError ............. ---  a broken `reelgate.toml` or provider setting
    └── PluginError .................... ---  a plugin misbehaved
        └── PluginLoadError ............ ---  a plugin failed to load

Messages never contain a secret: keys and signed URLs' tokens are scrubbed before an
error is built (`reelgate._redact.scrub`).
"""

from __future__ import annotations

from typing import Any, ClassVar, Protocol


class _Context(Protocol):
    """What an error takes its context from: a `reelgate.Call`."""

    @property
    def instance(self) -> str: ...

    @property
    def request_type(self) -> str: ...


__all__ = [
    "AuthenticationError",
    "ConfigurationError",
    "ConflictError",
    "IndexUnavailableError",
    "InvalidRequestError",
    "NotFoundError",
    "PermissionDeniedError",
    "PluginError",
    "PluginLoadError",
    "ProviderError",
    "ProviderTimeoutError",
    "RateLimitError",
    "ReelgateError",
    "UnsupportedOperationError",
    "VideoFailedError",
    "VideoNotReadyError",
    "WaitTimeoutError",
]


class ReelgateError(Exception):
    """
    The root of every error reelgate raises.

    Args:
        message: One readable line; never contains a secret.
        type: The error's type, e.g. upstream's ``invalid_request_error``.
        code: A machine-readable code, e.g. ``unsupported_operation``.
        param: The request field the error is about, if any.
        provider: The provider instance involved, if any.
        request_type: The operation, e.g. ``video_retrieve``.
        upstream: True when the provider reported the error, False when reelgate did.
        ambiguous: True when the request may have been acted on upstream (a create that
            timed out after it was sent); such a create is never retried elsewhere.
        raw_response: The upstream error body (scrubbed), for callers who ask for it.
        call: The operation the error happened in (a `reelgate.Call`): gives
            `provider` and `request_type` when they are not passed.
    """

    #: The HTTP status this error answers with, or None for errors that never cross HTTP.
    http_status: ClassVar[int | None] = 500
    default_type: ClassVar[str | None] = None

    def __init__(
        self,
        message: str,
        *,
        type: str | None = None,
        code: str | None = None,
        param: str | None = None,
        provider: str | None = None,
        request_type: str | None = None,
        upstream: bool = False,
        ambiguous: bool = False,
        raw_response: Any = None,
        call: _Context | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.type = type if type is not None else self.default_type
        self.code = code
        self.param = param
        if call is not None:
            provider = provider if provider is not None else call.instance
            request_type = request_type if request_type is not None else call.request_type
        self.provider = provider
        self.request_type = request_type
        self.upstream = upstream
        self.ambiguous = ambiguous
        self.raw_response = raw_response

    @property
    def status_code(self) -> int | None:
        """The HTTP status this error answers with."""
        return self.http_status

    def __repr__(self) -> str:
        fields = [repr(self.message)]
        fields += [
            f"{name}={value!r}"
            for name in ("code", "param", "provider", "request_type")
            if (value := getattr(self, name)) is not None
        ]
        return f"{type(self).__name__}({', '.join(fields)})"


class InvalidRequestError(ReelgateError):
    """The request is malformed: a bad field, id, limit, order or model prefix."""

    http_status = 400
    default_type = "invalid_request_error"


class UnsupportedOperationError(InvalidRequestError):
    """The provider does not offer this operation (e.g. remix on Gemini)."""

    def __init__(self, message: str, **kwargs: Any) -> None:
        kwargs.setdefault("code", "unsupported_operation")
        super().__init__(message, **kwargs)


class AuthenticationError(ReelgateError):
    """A key is missing, or the provider rejected it."""

    http_status = 401
    default_type = "authentication_error"


class PermissionDeniedError(ReelgateError):
    """The provider refused access (HTTP 403)."""

    http_status = 403
    default_type = "permission_denied"


class NotFoundError(ReelgateError):
    """No such job, here or upstream."""

    http_status = 404
    default_type = "not_found"


class VideoNotReadyError(ReelgateError):
    """The job has not completed, so there is nothing to download yet."""

    http_status = 409
    default_type = "video_not_ready"

    @classmethod
    def for_status(cls, video_id: str, status: str, **kwargs: Any) -> VideoNotReadyError:
        """The one way to say a job is not ready: ``video X is queued; only completed...``."""
        return cls(
            f"video {video_id} is {status}; only completed videos can be downloaded", **kwargs
        )


class ConflictError(ReelgateError):
    """
    The request conflicts with an earlier one that used the same idempotency key.

    The ``code`` says how: ``idempotency_key_reused`` (the key was used for a different
    request), ``idempotency_in_progress`` (a create with the key is still running
    elsewhere; ask again shortly), ``idempotency_outcome_unknown`` (an earlier create
    with the key may or may not exist upstream: check the provider before creating
    again, or use a new key).
    """

    http_status = 409
    default_type = "conflict"

    KEY_REUSED: ClassVar[str] = "idempotency_key_reused"
    IN_PROGRESS: ClassVar[str] = "idempotency_in_progress"
    OUTCOME_UNKNOWN: ClassVar[str] = "idempotency_outcome_unknown"


class RateLimitError(ReelgateError):
    """
    The provider kept answering 429 after every allowed retry.

    Attributes:
        retry_after: Seconds the provider asked to wait, when it said.
    """

    http_status = 429
    default_type = "rate_limit_exceeded"

    def __init__(self, message: str, *, retry_after: float | None = None, **kwargs: Any) -> None:
        super().__init__(message, **kwargs)
        self.retry_after = retry_after


class ProviderError(ReelgateError):
    """The provider failed: a 5xx, a malformed body, a dropped connection."""

    http_status = 502
    default_type = "provider_error"


class ProviderTimeoutError(ProviderError):
    """The provider did not answer in time."""

    http_status = 504
    default_type = "request_timed_out"


class IndexUnavailableError(ReelgateError):
    """
    The job index's database cannot be reached (a PostgreSQL index that went away).

    Nothing recorded is lost; the request can be repeated once the database is back.
    """

    http_status = 503
    default_type = "index_unavailable"


class VideoFailedError(ReelgateError):
    """
    Raised by `Video.raise_for_status` for a failed job.

    Attributes:
        video: The failed job, a `reelgate.Video`.
    """

    http_status = None

    def __init__(self, message: str, *, video: Any, **kwargs: Any) -> None:
        super().__init__(message, **kwargs)
        self.video = video


class WaitTimeoutError(ReelgateError):
    """
    `Gateway.wait` ran out of time before the job finished.

    Attributes:
        video: The last state seen, a `reelgate.Video`.
    """

    http_status = None

    def __init__(self, message: str, *, video: Any, **kwargs: Any) -> None:
        super().__init__(message, **kwargs)
        self.video = video


class ConfigurationError(ReelgateError):
    """The configuration (``reelgate.toml`` or a provider's settings) is invalid."""

    http_status = None


class PluginError(ReelgateError):
    """A plugin misbehaved: a bad registration, or an exception it should not raise."""

    http_status = None


class PluginLoadError(PluginError):
    """A plugin could not be imported or registered; the others still load."""
