"""The error taxonomy: one tree, one HTTP status each, no secret in a repr."""

from __future__ import annotations

import inspect

import pytest

from reelgate import Video, errors
from reelgate.errors import (
    AuthenticationError,
    ConfigurationError,
    ConflictError,
    IndexUnavailableError,
    InvalidRequestError,
    NotFoundError,
    PermissionDeniedError,
    PluginError,
    PluginLoadError,
    ProviderError,
    ProviderTimeoutError,
    RateLimitError,
    ReelgateError,
    UnsupportedOperationError,
    VideoFailedError,
    VideoNotReadyError,
    WaitTimeoutError,
)

#: class -> (parent, HTTP status, default type), as the module docstring draws the tree.
TREE: dict[type[ReelgateError], tuple[type[Exception], int | None, str | None]] = {
    ReelgateError: (Exception, 500, None),
    InvalidRequestError: (ReelgateError, 400, "invalid_request_error"),
    UnsupportedOperationError: (InvalidRequestError, 400, "invalid_request_error"),
    AuthenticationError: (ReelgateError, 401, "authentication_error"),
    PermissionDeniedError: (ReelgateError, 403, "permission_denied"),
    NotFoundError: (ReelgateError, 404, "not_found"),
    VideoNotReadyError: (ReelgateError, 409, "video_not_ready"),
    ConflictError: (ReelgateError, 409, "conflict"),
    RateLimitError: (ReelgateError, 429, "rate_limit_exceeded"),
    ProviderError: (ReelgateError, 502, "provider_error"),
    ProviderTimeoutError: (ProviderError, 504, "request_timed_out"),
    IndexUnavailableError: (ReelgateError, 503, "index_unavailable"),
    VideoFailedError: (ReelgateError, None, None),
    WaitTimeoutError: (ReelgateError, None, None),
    ConfigurationError: (ReelgateError, None, None),
    PluginError: (ReelgateError, None, None),
    PluginLoadError: (PluginError, None, None),
}

VIDEO = Video(id="job:sim", status="failed")


def _make(
    cls: type[ReelgateError], message: str = "something went wrong", **kw: object
) -> ReelgateError:
    if cls in (VideoFailedError, WaitTimeoutError):
        kw.setdefault("video", VIDEO)
    return cls(message, **kw)  # type: ignore[arg-type]


def test_the_tree_is_complete() -> None:
    """Every error class of the module is in the tree, and every name ends in Error."""
    defined = {
        obj
        for _, obj in inspect.getmembers(errors, inspect.isclass)
        if issubclass(obj, BaseException) and obj.__module__ == errors.__name__
    }
    assert defined == set(TREE)
    assert all(cls.__name__.endswith("Error") for cls in defined)


@pytest.mark.parametrize("cls", list(TREE))
def test_each_class_has_its_parent_status_and_type(cls: type[ReelgateError]) -> None:
    """Each class sits under its parent, with exactly one HTTP status and a default type."""
    parent, status, default_type = TREE[cls]
    assert cls.__bases__ == (parent,)
    error = _make(cls)
    assert error.status_code == status
    assert error.type == default_type
    assert error.message == str(error) == "something went wrong"
    assert error.upstream is False
    assert error.ambiguous is False


@pytest.mark.parametrize("cls", list(TREE))
def test_every_field_is_kept(cls: type[ReelgateError]) -> None:
    """The constructor's keyword fields all land on the error."""
    error = _make(
        cls,
        type="upstream_type",
        code="c",
        param="p",
        provider="openai",
        request_type="video_retrieve",
        upstream=True,
        ambiguous=True,
        raw_response={"error": "x"},
    )
    fields = (error.type, error.code, error.param, error.provider, error.request_type)
    assert fields == ("upstream_type", "c", "p", "openai", "video_retrieve")
    assert (error.upstream, error.ambiguous, error.raw_response) == (True, True, {"error": "x"})


def test_unsupported_operation_has_its_code() -> None:
    """UnsupportedOperationError says unsupported_operation unless told otherwise."""
    assert UnsupportedOperationError("no remix").code == "unsupported_operation"
    assert UnsupportedOperationError("no remix", code="other").code == "other"


def test_rate_limit_carries_retry_after() -> None:
    """RateLimitError keeps the seconds the provider asked to wait."""
    assert RateLimitError("slow down", retry_after=2.5).retry_after == 2.5
    assert RateLimitError("slow down").retry_after is None


@pytest.mark.parametrize("cls", [VideoFailedError, WaitTimeoutError])
def test_video_errors_carry_the_video(cls: type[ReelgateError]) -> None:
    """The failed job, or the last state seen, travels with the error."""
    assert _make(cls).video is VIDEO  # type: ignore[attr-defined]


def test_errors_are_catchable_by_family() -> None:
    """A timeout is a provider error; an unsupported operation is an invalid request."""
    with pytest.raises(ProviderError):
        raise ProviderTimeoutError("slow")
    with pytest.raises(InvalidRequestError):
        raise UnsupportedOperationError("nope")
    with pytest.raises(ReelgateError):
        raise PluginLoadError("broken")


def test_repr_names_the_fields_but_no_raw_body() -> None:
    """The repr shows message, code, param, provider and request type, never the raw body."""
    secret = "sk-live-0123456789abcdef"
    error = NotFoundError(
        "no such video",
        code="404",
        param="video_id",
        provider="openai",
        request_type="video_retrieve",
        raw_response={"error": {"message": f"key {secret}"}},
    )
    text = repr(error)
    assert text == (
        "NotFoundError('no such video', code='404', param='video_id', provider='openai', "
        "request_type='video_retrieve')"
    )
    assert secret not in text
    assert secret not in str(error)
    assert repr(ReelgateError("plain")) == "ReelgateError('plain')"
