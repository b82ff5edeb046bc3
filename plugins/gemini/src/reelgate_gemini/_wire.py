"""
Reading what Google's video APIs answer: error envelopes and long-running operations.

The Gemini API and Vertex AI both answer a create with a long-running operation and
report the job through it. An operation maps to a `reelgate.Video` thus:

* no ``done`` (or ``done: false``): still running, ``in_progress`` (Veo never says
  queued, and reports no progress);
* ``done`` and ``error``: ``failed``, with the operation's gRPC code (as a string) and
  message;
* ``done``, RAI filtering and no sample: ``failed`` with code ``content_filtered`` and
  ``content_filter`` filled;
* ``done`` and samples: ``completed``, every sample an output (a file URI, a ``gs://``
  URI or inline base64 bytes).

Neither API says when a job was created or finished, so ``created_at`` and
``completed_at`` are left to the gateway's job index.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from typing import Any

from reelgate import ContentFilter, ProviderError, Video, VideoError, VideoOutput, VideoStatus
from reelgate.http import Reply, UpstreamError
from reelgate.model import cancelled_error

__all__ = ["model_of", "operation_video", "parse_error", "retry_delay"]

_DURATION = re.compile(r"\s*([0-9]+(?:\.[0-9]+)?)s\s*")
_MODEL = re.compile(r"(?:^|/)models/([^/]+)/operations/")
_RETRY_INFO = "type.googleapis.com/google.rpc.RetryInfo"
_ERROR_INFO = "type.googleapis.com/google.rpc.ErrorInfo"


def retry_delay(details: Any) -> float | None:
    """
    The wait a ``google.rpc.RetryInfo`` detail asks for, in seconds (``"34s"`` -> 34.0).

    Args:
        details: The ``details`` list of a Google error.

    Returns:
        The delay, or None when no detail gives a readable one.
    """
    if not isinstance(details, Sequence) or isinstance(details, str):
        return None
    for detail in details:
        if isinstance(detail, Mapping) and detail.get("@type") == _RETRY_INFO:
            delay = detail.get("retryDelay")
            if isinstance(delay, str) and (match := _DURATION.fullmatch(delay)):
                return float(match.group(1))
    return None


def _reason(details: Any) -> str | None:
    if not isinstance(details, Sequence) or isinstance(details, str):
        return None
    for detail in details:
        if isinstance(detail, Mapping) and detail.get("@type") == _ERROR_INFO:
            reason = detail.get("reason")
            if isinstance(reason, str) and reason:
                return reason
    return None


def parse_error(reply: Reply) -> UpstreamError:
    """
    Read a Google error body into an `UpstreamError`.

    Understands the API envelope ``{"error": {"code", "message", "status", "details"}}``
    (also as a one-element list, as some Google front ends send it) and the OAuth token
    endpoint's ``{"error": "invalid_grant", "error_description": ...}``. The code is the
    ``google.rpc.ErrorInfo`` reason when there is one (``API_KEY_INVALID``), else the
    canonical status (``RESOURCE_EXHAUSTED``); a ``google.rpc.RetryInfo`` delay becomes
    ``retry_after``.

    Args:
        reply: The non-2xx response.

    Returns:
        What the body says.
    """
    try:
        body: Any = json.loads(reply.content)
    except ValueError:
        body = None
    envelope = body[0] if isinstance(body, list) and body else body
    error = envelope.get("error") if isinstance(envelope, Mapping) else None
    fallback = f"Google answered HTTP {reply.status}"
    if isinstance(error, Mapping):
        details = error.get("details")
        status = error.get("status")
        message = error.get("message")
        return UpstreamError(
            message=str(message) if message else fallback,
            code=_reason(details) or (str(status) if status else None),
            retry_after=retry_delay(details),
            raw=body,
        )
    if isinstance(error, str) and isinstance(envelope, Mapping):
        description = envelope.get("error_description")
        return UpstreamError(
            message=f"{error}: {description}" if description else error, code=error, raw=body
        )
    return UpstreamError(message=fallback, raw=body)


def model_of(name: str) -> str | None:
    """The model named in an operation name (``models/{model}/operations/{id}``)."""
    match = _MODEL.search(name)
    return match.group(1) if match else None


def _malformed(what: str) -> ProviderError:
    return ProviderError(f"malformed operation in Google's response: {what}")


def _outputs(samples: Any) -> list[VideoOutput]:
    if not isinstance(samples, Sequence) or isinstance(samples, str):
        raise _malformed("the samples are not a list")
    outputs = []
    for sample in samples:
        if not isinstance(sample, Mapping):
            raise _malformed("a sample is not an object")
        # Gemini API: {"video": {"uri" | "encodedVideo", "encoding"}};
        # Vertex AI: {"gcsUri" | "bytesBase64Encoded", "mimeType"}.
        video = sample.get("video", sample)
        if not isinstance(video, Mapping):
            raise _malformed("a sample's video is not an object")
        content_type = str(video.get("encoding") or video.get("mimeType") or "video/mp4")
        uri = video.get("uri") or video.get("gcsUri")
        data = video.get("encodedVideo") or video.get("bytesBase64Encoded")
        if isinstance(uri, str) and uri:
            outputs.append(VideoOutput(type="url", url=uri, content_type=content_type))
        elif isinstance(data, str) and data:
            outputs.append(VideoOutput(type="base64", base64=data, content_type=content_type))
        else:
            raise _malformed("a sample has neither a URI nor bytes")
    return outputs


def _filter(result: Mapping[str, Any]) -> ContentFilter | None:
    count = result.get("raiMediaFilteredCount")
    reasons = result.get("raiMediaFilteredReasons")
    reasons = (
        tuple(str(r) for r in reasons)
        if isinstance(reasons, Sequence) and not isinstance(reasons, str)
        else ()
    )
    filtered = count if isinstance(count, int) and not isinstance(count, bool) else 0
    if filtered <= 0 and not reasons:
        return None
    return ContentFilter(filtered_count=max(filtered, len(reasons), 1), reasons=reasons)


def _progress(operation: Mapping[str, Any]) -> float | None:
    metadata = operation.get("metadata")
    progress = metadata.get("progressPercent") if isinstance(metadata, Mapping) else None
    if not isinstance(progress, int | float) or isinstance(progress, bool):
        return None
    return float(progress)


#: google.rpc.Code CANCELLED: the operation was cancelled.
_RPC_CANCELLED = 1


def _operation_error(error: Any) -> VideoError:
    if not isinstance(error, Mapping):
        raise _malformed("its error is not an object")
    code = error.get("code")
    message = error.get("message")
    if code == _RPC_CANCELLED:
        return cancelled_error(str(message) if message else None)
    return VideoError(
        code=str(code) if code is not None else "video_generation_failed",
        message=str(message) if message else "the operation failed without a message",
    )


def operation_video(operation: Any, *, native_id: str) -> Video:
    """
    The job a long-running operation describes.

    Args:
        operation: The operation, as JSON.
        native_id: The operation's name, used when the body repeats none.

    Returns:
        The job, with the native id.

    Raises:
        ProviderError: The body is not an operation.
    """
    if not isinstance(operation, Mapping):
        raise _malformed("not an object")
    name = operation.get("name") or native_id
    if not isinstance(name, str):
        raise _malformed("its name is not a string")
    base: dict[str, Any] = {"id": name, "model": model_of(name)}
    if operation.get("done") is not True:
        return Video(status=VideoStatus.IN_PROGRESS, progress=_progress(operation), **base)
    error = operation.get("error")
    if error is not None:
        return Video(status=VideoStatus.FAILED, error=_operation_error(error), **base)
    response = operation.get("response")
    if not isinstance(response, Mapping):
        raise _malformed("it is done with neither an error nor a response")
    # The Gemini API nests the result in generateVideoResponse; Vertex AI does not.
    result = response.get("generateVideoResponse", response)
    if not isinstance(result, Mapping):
        raise _malformed("its response is not an object")
    samples = result.get(
        "generatedSamples", result.get("videos", result.get("generatedVideos", []))
    )
    outputs = _outputs(samples if samples is not None else [])
    content_filter = _filter(result)
    if outputs:
        return Video(
            status=VideoStatus.COMPLETED, videos=outputs, content_filter=content_filter, **base
        )
    if content_filter is not None:
        reasons = "; ".join(content_filter.reasons)
        return Video(
            status=VideoStatus.FAILED,
            error=VideoError(
                code="content_filtered",
                message=reasons or "Google's safety filters blocked the video",
            ),
            content_filter=content_filter,
            **base,
        )
    return Video(
        status=VideoStatus.FAILED,
        error=VideoError(
            code="no_video", message="the operation finished without a video or an error"
        ),
        **base,
    )
