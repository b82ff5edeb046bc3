"""
The video job model: the values every provider returns and every front door speaks.

A `Video` carries every field of the `/v1/videos` video object plus the provider instance
and opaque provider metadata. Providers build `Video` values with their *native* ids; the
gateway qualifies them as ``{escaped native id}:{instance}`` (`reelgate.ids`) before a
caller sees them.
"""

from __future__ import annotations

import base64
import binascii
import enum
import os
import re
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any, Literal

import attrs

from ._redact import scrub
from .errors import InvalidRequestError, VideoFailedError

__all__ = [
    "CANCELLED",
    "MAX_FALLBACKS",
    "MAX_IMAGE_BYTES",
    "MAX_PROMPT_CHARS",
    "ContentFilter",
    "CreateVideo",
    "Deleted",
    "ImageInput",
    "ListQuery",
    "Order",
    "UpstreamDeletion",
    "Variant",
    "Video",
    "VideoError",
    "VideoOutput",
    "VideoPage",
    "VideoStatus",
    "cancelled_error",
    "check_model",
]

#: Images larger than this are refused before anything is sent (OpenAI's own limit).
MAX_IMAGE_BYTES = 20 * 1024 * 1024

_SIZE = re.compile(r"[1-9][0-9]{0,4}x[1-9][0-9]{0,4}")
_SECONDS = re.compile(r"[1-9][0-9]{0,3}")


class VideoStatus(enum.StrEnum):
    """Where a job is in its life: queued -> in_progress -> completed | failed."""

    QUEUED = "queued"
    IN_PROGRESS = "in_progress"
    COMPLETED = "completed"
    FAILED = "failed"

    @property
    def is_terminal(self) -> bool:
        """True for completed and failed: nothing changes after these."""
        return self in (VideoStatus.COMPLETED, VideoStatus.FAILED)


class Variant(enum.StrEnum):
    """Which asset of a finished job to download."""

    VIDEO = "video"
    THUMBNAIL = "thumbnail"
    SPRITESHEET = "spritesheet"

    @classmethod
    def parse(cls, value: str | Variant | None) -> Variant:
        """
        Read a variant name; ``sprite_sheet`` is accepted for ``spritesheet``.

        Raises:
            InvalidRequestError: For any other name.
        """
        if value is None or value == "":
            return cls.VIDEO
        if isinstance(value, Variant):
            return value
        if not isinstance(value, str):
            raise InvalidRequestError(
                f"variant must be one of video, thumbnail, spritesheet; got {value!r}",
                param="variant",
            )
        normalized = value.strip().lower().replace("_", "")
        for variant in cls:
            if variant.value == normalized:
                return variant
        raise InvalidRequestError(
            f"variant must be one of video, thumbnail, spritesheet; got {value!r}",
            param="variant",
        )


Order = Literal["asc", "desc"]


def _scrubbed_repr(url: str | None) -> str:
    """A signed URL's repr without its token (``_jwt=``, ``sig=``...)."""
    return repr(url if url is None else scrub(url))


@attrs.frozen
class VideoOutput:
    """One finished asset: a URL to fetch or inline base64 bytes."""

    type: Literal["url", "base64"]
    content_type: str = "video/mp4"
    url: str | None = attrs.field(default=None, repr=_scrubbed_repr)
    base64: str | None = None


@attrs.frozen
class VideoError:
    """Why a job failed: a machine-readable code and a readable message."""

    code: str | None = None
    message: str | None = None


#: The ``error.code`` of a job that was cancelled (the wire keeps four statuses, so a
#: cancelled job reads as failed).
CANCELLED = "cancelled"


def cancelled_error(message: str | None = None) -> VideoError:
    """The error of a cancelled job: code ``cancelled``, the same for every provider."""
    return VideoError(code=CANCELLED, message=message or "the job was cancelled")


@attrs.frozen
class ContentFilter:
    """Safety filtering reported by the provider (Veo's RAI filter)."""

    filtered_count: int = 0
    reasons: tuple[str, ...] = ()


def _outputs(value: Iterable[VideoOutput]) -> tuple[VideoOutput, ...]:
    return tuple(value)


def _videos(value: Iterable[Video]) -> tuple[Video, ...]:
    return tuple(value)


def _strings(value: Iterable[str]) -> tuple[str, ...]:
    return (value,) if isinstance(value, str) else tuple(value)


def _progress(value: float | None) -> float | None:
    if value is None:
        return None
    return min(100.0, max(0.0, float(value)))


@attrs.frozen(kw_only=True)
class Video:
    """
    A video generation job as a provider last reported it.

    Attributes:
        id: ``{escaped native id}:{instance}`` as callers see it; a provider builds it
            with the bare native id and the gateway qualifies it.
        provider: The provider instance name (``openai``, ``my-sora``...).
        status: Where the job is (`VideoStatus`).
        progress: Approximate percent done, 0..100, when the provider says.
        poll_after: The provider's hint, in seconds, of when to poll again.
        provider_metadata: Provider specific data (credits, raw ids), opaque to the core.
        provider_state: Small JSON-able data a provider returns for the gateway to keep
            with the job and hand back on every later call (`Call.job_state`), such as
            the model path a later URL needs. The gateway stores it and strips it from
            what callers see; a provider may return a new one with any later state.
    """

    id: str
    status: VideoStatus = attrs.field(converter=VideoStatus)
    provider: str | None = None
    model: str | None = None
    progress: float | None = attrs.field(default=None, converter=_progress)
    prompt: str | None = None
    remixed_from_video_id: str | None = None
    seconds: str | None = None
    size: str | None = None
    created_at: int | None = None
    completed_at: int | None = None
    expires_at: int | None = None
    videos: tuple[VideoOutput, ...] = attrs.field(default=(), converter=_outputs)
    error: VideoError | None = None
    content_filter: ContentFilter | None = None
    poll_after: float | None = attrs.field(default=None, eq=False)
    provider_metadata: Mapping[str, Any] = attrs.field(factory=dict, eq=False, hash=False)
    provider_state: Mapping[str, Any] | None = attrs.field(
        default=None, eq=False, hash=False, repr=False
    )

    @property
    def done(self) -> bool:
        """True once the job is completed or failed."""
        return self.status.is_terminal

    def raise_for_status(self) -> Video:
        """
        Return the video unless it failed.

        Raises:
            VideoFailedError: The job failed; the error carries the video.
        """
        if self.status is VideoStatus.FAILED:
            code = self.error.code if self.error else None
            detail = self.error.message if self.error and self.error.message else "no reason given"
            raise VideoFailedError(
                f"video {self.id} failed: {detail}",
                code=code,
                provider=self.provider,
                video=self,
            )
        return self


def _sniff_image(data: bytes) -> str | None:
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if data.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    if data[:6] in (b"GIF87a", b"GIF89a"):
        return "image/gif"
    return None


@attrs.frozen
class ImageInput:
    """
    An image to start a video from: bytes (with their media type) or an https URL.

    Build one with `from_bytes`, `from_path`, `from_data_url`, `from_url`, or let
    `coerce` pick from bytes, a path, a data URL or a URL.
    """

    data: bytes | None = attrs.field(
        default=None, repr=lambda d: f"<{len(d)} bytes>" if d else "None"
    )
    media_type: str | None = None
    url: str | None = None

    @classmethod
    def from_bytes(cls, data: bytes, media_type: str | None = None) -> ImageInput:
        """
        Wrap image bytes, checking that they are a PNG, JPEG, WebP or GIF image.

        Raises:
            InvalidRequestError: The bytes are not an image, or are too large.
        """
        if len(data) > MAX_IMAGE_BYTES:
            raise InvalidRequestError(
                f"input_reference is {len(data)} bytes; the limit is {MAX_IMAGE_BYTES}",
                param="input_reference",
            )
        sniffed = _sniff_image(data)
        if sniffed is None:
            raise InvalidRequestError(
                "input_reference is not an image (expected PNG, JPEG, WebP or GIF)",
                param="input_reference",
            )
        return cls(data=data, media_type=media_type or sniffed)

    @classmethod
    def from_path(cls, path: str | os.PathLike[str]) -> ImageInput:
        """
        Read an image file.

        Raises:
            InvalidRequestError: The file cannot be read or is not an image.
        """
        try:
            data = Path(path).read_bytes()
        except OSError as e:
            raise InvalidRequestError(
                f"cannot read input_reference {os.fspath(path)!r}: {e.strerror or e}",
                param="input_reference",
            ) from None
        return cls.from_bytes(data)

    @classmethod
    def from_data_url(cls, url: str) -> ImageInput:
        """
        Decode a ``data:<type>;base64,...`` URL.

        Raises:
            InvalidRequestError: The data URL is malformed or holds no image.
        """
        header, sep, payload = url.partition(",")
        if not sep or not header.startswith("data:") or not header.endswith(";base64"):
            raise InvalidRequestError(
                "input_reference data URL must look like data:image/png;base64,...",
                param="input_reference",
            )
        try:
            data = base64.b64decode(payload, validate=True)
        except (binascii.Error, ValueError):
            raise InvalidRequestError(
                "input_reference data URL is not valid base64", param="input_reference"
            ) from None
        return cls.from_bytes(data)

    @classmethod
    def from_url(cls, url: str) -> ImageInput:
        """
        Refer to an image by URL; the provider (or reelgate on its behalf) fetches it.

        Raises:
            InvalidRequestError: The URL is not http(s).
        """
        if not url.startswith(("https://", "http://")):
            raise InvalidRequestError(
                "input_reference URL must be http(s)", param="input_reference"
            )
        return cls(url=url)

    @classmethod
    def coerce(cls, value: ImageInput | bytes | str | os.PathLike[str]) -> ImageInput:
        """
        Turn bytes, a path, a data URL or an http(s) URL into an `ImageInput`.

        Raises:
            InvalidRequestError: The value names no readable image.
        """
        if isinstance(value, ImageInput):
            return value
        if isinstance(value, bytes | bytearray | memoryview):
            return cls.from_bytes(bytes(value))
        if isinstance(value, str):
            if value.startswith("data:"):
                return cls.from_data_url(value)
            if value.startswith(("https://", "http://")):
                return cls.from_url(value)
        if not isinstance(value, str | os.PathLike):
            raise InvalidRequestError(
                "input_reference must be image bytes, a path, a data URL or an http(s) URL; "
                f"got {type(value).__name__}",
                param="input_reference",
            )
        return cls.from_path(value)

    def data_url(self) -> str:
        """The image as a ``data:`` URL (only for byte images)."""
        return f"data:{self.media_type};base64,{self.base64()}"

    def base64(self) -> str:
        """The image bytes as base64 (only for byte images)."""
        if self.data is None:
            raise InvalidRequestError(
                "input_reference is a URL, not bytes", param="input_reference"
            )
        return base64.b64encode(self.data).decode("ascii")


def _seconds(value: str | int | None) -> str | None:
    if value is None:
        return None
    text = str(value).strip()
    if isinstance(value, bool) or not _SECONDS.fullmatch(text):
        raise InvalidRequestError(
            f"seconds must be a positive whole number of seconds; got {value!r}", param="seconds"
        )
    return text


def _size(value: str | None) -> str | None:
    if value is None:
        return None
    text = value.strip().lower()
    if not _SIZE.fullmatch(text):
        raise InvalidRequestError(
            f"size must be WIDTHxHEIGHT, e.g. 1280x720; got {value!r}", param="size"
        )
    return text


def _image(value: ImageInput | bytes | str | os.PathLike[str] | None) -> ImageInput | None:
    return None if value is None else ImageInput.coerce(value)


def _model(_instance: object, _attribute: object, value: str) -> None:
    check_model(value)


def check_model(value: str, *, param: str = "model") -> tuple[str, str]:
    """
    Split ``provider/model`` at the first ``/``.

    Raises:
        InvalidRequestError: The string has no provider prefix.
    """
    provider, sep, model = value.partition("/")
    if not sep or not provider or not model:
        raise InvalidRequestError(
            f"{param} should be in provider/model format (e.g. sim/sim-1); got {value!r}",
            param=param,
        )
    return provider, model


#: The longest prompt any request may carry (providers may allow less).
MAX_PROMPT_CHARS = 32_000
#: The most fallbacks one create may name.
MAX_FALLBACKS = 3


def _prompt(_instance: object, _attribute: object, value: Any) -> None:
    if not isinstance(value, str) or not value.strip():
        raise InvalidRequestError("prompt cannot be empty", param="prompt")
    if len(value) > MAX_PROMPT_CHARS:
        raise InvalidRequestError(
            f"prompt is {len(value)} characters; at most {MAX_PROMPT_CHARS} are accepted",
            param="prompt",
        )


def _fallbacks(_instance: object, _attribute: object, value: tuple[str, ...]) -> None:
    if len(value) > MAX_FALLBACKS:
        raise InvalidRequestError(
            f"at most {MAX_FALLBACKS} fallbacks may be given; got {len(value)}",
            param="fallbacks",
        )


@attrs.frozen(kw_only=True)
class CreateVideo:
    """
    A request to generate a video.

    Invalid values raise `InvalidRequestError` when the request is built, so nothing is
    sent for a request that cannot succeed.

    Attributes:
        model: ``provider/model``, the provider part being a configured instance name.
        prompt: What to generate; must not be empty.
        input_reference: An image to start from: bytes, a path, a data URL or a URL.
        seconds: Duration, as the wire's string (``"8"``); an int is accepted.
        size: ``WIDTHxHEIGHT``.
        extra_params: Provider specific parameters, passed through by name.
        fallbacks: Further ``provider/model`` strings, tried in order only when the
            primary create failed before the provider accepted the job.
        idempotency_key: Creating twice with the same key returns the first job.
    """

    model: str = attrs.field(validator=_model)
    prompt: str = attrs.field(validator=_prompt)
    input_reference: ImageInput | None = attrs.field(default=None, converter=_image)
    seconds: str | None = attrs.field(default=None, converter=_seconds)
    size: str | None = attrs.field(default=None, converter=_size)
    negative_prompt: str | None = None
    seed: int | None = None
    video_uri: str | None = None
    audio: bool | None = None
    extra_params: Mapping[str, Any] = attrs.field(factory=dict, hash=False)
    fallbacks: tuple[str, ...] = attrs.field(default=(), converter=_strings, validator=_fallbacks)
    idempotency_key: str | None = None

    def __attrs_post_init__(self) -> None:
        for fallback in self.fallbacks:
            check_model(fallback, param="fallbacks")

    @property
    def provider(self) -> str:
        """The instance part of `model`."""
        return self.model.partition("/")[0]

    @property
    def native_model(self) -> str:
        """The model part of `model`, as the provider names it."""
        return self.model.partition("/")[2]


def _limit(value: int | str | None) -> int:
    if value is None or value == "":
        return 20
    try:
        limit = int(value)
    except (TypeError, ValueError):
        raise InvalidRequestError(
            f"limit must be an integer from 1 to 100; got {value!r}", param="limit"
        ) from None
    fractional = isinstance(value, float) and not float(value).is_integer()
    if isinstance(value, bool) or fractional or not 1 <= limit <= 100:
        raise InvalidRequestError(
            f"limit must be an integer from 1 to 100; got {value!r}", param="limit"
        )
    return limit


def _order(value: str | None) -> Order:
    if value is None or value == "":
        return "desc"
    if value not in ("asc", "desc"):
        raise InvalidRequestError(f"order must be asc or desc; got {value!r}", param="order")
    return value  # type: ignore[return-value]  # narrowed by the check above


def _after(value: str | None) -> str | None:
    return value or None


@attrs.frozen(kw_only=True)
class ListQuery:
    """
    One page's worth of a list.

    ``limit`` 1..100 (20), ``order`` asc | desc (desc), and ``after``, the id of the
    last video of the previous page.
    """

    limit: int = attrs.field(default=20, converter=_limit)
    order: Order = attrs.field(default="desc", converter=_order)
    after: str | None = attrs.field(default=None, converter=_after)


@attrs.frozen
class VideoPage:
    """One page of jobs; ``has_more`` is exact."""

    data: tuple[Video, ...] = attrs.field(converter=_videos)
    has_more: bool = False

    @property
    def first_id(self) -> str | None:
        """The id of the first job on the page."""
        return self.data[0].id if self.data else None

    @property
    def last_id(self) -> str | None:
        """The id of the last job on the page: the ``after`` of the next page."""
        return self.data[-1].id if self.data else None

    def __len__(self) -> int:
        return len(self.data)


#: What a delete did upstream: the job was deleted there, only cancelled (it stays in
#: the provider's records), or kept (the provider can neither: reelgate forgot it).
UpstreamDeletion = Literal["deleted", "cancelled", "kept"]


@attrs.frozen
class Deleted:
    """
    The answer to a delete: the job is gone from reelgate.

    `upstream` says what happened at the provider.

    Attributes:
        id: The job's id.
        deleted: Always true once the gateway answers.
        upstream: ``deleted``, ``cancelled`` or ``kept``.
    """

    id: str
    deleted: bool = True
    upstream: UpstreamDeletion = "deleted"
