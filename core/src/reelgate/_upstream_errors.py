"""
Reading upstream answers: `Reply`, error envelopes, ``Retry-After``, the error mapping.

Free of any HTTP library so that it stays testable alone; `reelgate.http` re-exports its
public names and is where providers import them from.
"""

from __future__ import annotations

import email.utils
import json as jsonlib
import math
import time
from collections.abc import Callable, Collection, Mapping
from typing import TYPE_CHECKING, Any

import attrs

from ._redact import Secret, scrub, scrub_json
from .errors import (
    AuthenticationError,
    InvalidRequestError,
    NotFoundError,
    PermissionDeniedError,
    ProviderError,
    ProviderTimeoutError,
    RateLimitError,
    ReelgateError,
)

if TYPE_CHECKING:
    from .call import Call

__all__ = [
    "ErrorParser",
    "Reply",
    "UpstreamError",
    "default_error_parser",
    "error_for_status",
    "parse_retry_after",
    "usable_delay",
]


def parse_retry_after(headers: Mapping[str, str]) -> float | None:
    """
    Read the seconds to wait from a response's headers.

    ``retry-after-ms`` (milliseconds) wins over ``Retry-After`` (seconds or an HTTP
    date; a date in the past means now).

    Returns:
        The seconds; None when neither header is sent (or both are empty); ``math.inf``
        ("too long to wait for") when one is sent but none can be used: ``inf``,
        ``nan``, a negative number, a date that does not parse.
    """
    lowered = {name.lower(): value.strip() for name, value in headers.items()}
    ms, raw = lowered.get("retry-after-ms") or None, lowered.get("retry-after") or None
    if ms is None and raw is None:
        return None
    if ms is not None and (seconds := _seconds(ms)) is not None:
        return seconds / 1000
    if raw is not None:
        if (seconds := _seconds(raw)) is not None:
            return seconds
        try:
            parsed = email.utils.parsedate_tz(raw)
            if parsed is not None:
                return max(0.0, email.utils.mktime_tz(parsed) - time.time())
        except (ValueError, OverflowError):
            pass
    return math.inf


def _seconds(text: str) -> float | None:
    try:
        value = float(text)
    except ValueError:
        return None
    return value if 0 <= value < math.inf else None


def usable_delay(delay: float | None) -> float | None:
    """A delay as given, or `math.inf` when no wait could honour it (nan, negative)."""
    if delay is None or 0 <= delay < math.inf:
        return delay
    return math.inf


@attrs.frozen
class Reply:
    """A successful upstream response, read whole."""

    status: int
    headers: Mapping[str, str]
    content: bytes
    url: str

    def json(self) -> Any:
        """
        The body as JSON.

        Raises:
            ProviderError: The body is not JSON.
        """
        try:
            return jsonlib.loads(self.content)
        except ValueError:
            raise ProviderError(
                f"malformed JSON in the provider's response (HTTP {self.status})"
            ) from None


@attrs.frozen(kw_only=True)
class UpstreamError:
    """
    What a provider's error body says, as its plugin's `ErrorParser` reads it.

    Attributes:
        message: One readable line.
        type: The provider's error type, if it gives one.
        code: The provider's error code, if it gives one.
        param: The request field the error is about, if it says.
        retry_after: Seconds to wait before trying again, if the body says (the
            ``Retry-After`` headers are read when this is None).
        retryable: Whether this answer is worth another try: False stops retries (a
            5xx that means "the job failed"), True makes an idempotent request retried
            whatever the status, None keeps the core's rules (see the module's notes).
        raw: The body, as JSON when it is JSON.
    """

    message: str
    type: str | None = None
    code: str | None = None
    param: str | None = None
    retry_after: float | None = None
    retryable: bool | None = None
    raw: Any = None


#: Reads a provider's error body (a non-2xx `Reply`) into an `UpstreamError`.
ErrorParser = Callable[[Reply], UpstreamError]


def _text(value: Any) -> str | None:
    return None if value is None or value == "" else str(value)


def _detail_text(detail: Any) -> tuple[str | None, str | None]:
    """FastAPI's ``detail``: a string, or a list of ``{"loc", "msg"}``; (message, param)."""
    if not isinstance(detail, list):
        return _text(detail), None
    parts: list[str] = []
    param = None
    for item in detail:
        if not isinstance(item, dict):
            parts.append(str(item))
            continue
        loc = item.get("loc")
        path = [str(p) for p in loc] if isinstance(loc, list) else []
        if path and path[0] in ("body", "query", "path", "header"):
            path = path[1:]
        where = ".".join(path)
        param = param or where or None
        msg = _text(item.get("msg")) or "invalid"
        parts.append(f"{where}: {msg}" if where else msg)
    return "; ".join(parts) or None, param


def default_error_parser(reply: Reply) -> UpstreamError:
    """
    Read the OpenAI-style error envelope and the usual bodies of compatible servers.

    ``{"error": {"message", "type", "code", "param"}}`` (Google's ``status`` stands in
    for a missing type), ``{"error": "text"}``, ``{"detail": "text"}`` or FastAPI's
    ``{"detail": [{"loc", "msg"}]}``, ``{"message": "text"}``; anything else says the
    status.
    """
    try:
        body = jsonlib.loads(reply.content)
    except ValueError:
        body = None
    fallback = f"provider answered HTTP {reply.status}"
    if not isinstance(body, dict):
        return UpstreamError(message=fallback, raw=body)
    error = body.get("error")
    if isinstance(error, dict):
        return UpstreamError(
            message=_text(error.get("message")) or fallback,
            type=_text(error.get("type")) or _text(error.get("status")),
            code=_text(error.get("code")),
            param=_text(error.get("param")),
            raw=body,
        )
    message, param = _detail_text(body.get("detail"))
    if isinstance(error, str) and error:
        message, param = error, None
    return UpstreamError(
        message=message or _text(body.get("message")) or fallback, param=param, raw=body
    )


_STATUS_ERRORS: dict[int, type[ReelgateError]] = {
    401: AuthenticationError,
    403: PermissionDeniedError,
    404: NotFoundError,
    408: ProviderTimeoutError,
    429: RateLimitError,
    504: ProviderTimeoutError,
}


def error_for_status(
    status: int,
    detail: UpstreamError,
    *,
    call: Call | None = None,
    secrets: Collection[Secret | str] = (),
    ambiguous: bool = False,
) -> ReelgateError:
    """
    Build the reelgate error for an upstream status.

    401 authentication, 403 permission, 404 not found, 429 rate limit, 408/504 timeout,
    other 5xx provider error, other 4xx invalid request. Type, code and param are kept
    from the upstream body; a `retry_after` that is not a finite number of seconds is
    left out.
    """
    cls = _STATUS_ERRORS.get(status)
    if cls is None:
        cls = ProviderError if status >= 500 else InvalidRequestError
    kwargs: dict[str, Any] = {
        "type": detail.type,
        "code": detail.code,
        "param": detail.param,
        "upstream": True,
        "ambiguous": ambiguous and status >= 500,
        "raw_response": scrub_json(detail.raw, secrets),
        "call": call,
    }
    message = scrub(detail.message, secrets)
    if cls is RateLimitError:
        delay = usable_delay(detail.retry_after)
        return RateLimitError(message, retry_after=None if delay == math.inf else delay, **kwargs)
    return cls(message, **kwargs)
