"""
The JSON shapes of the ``/v1/videos`` API, to and from the core types.

One converter family, as cattrs' ``preconf`` modules build theirs: `configure_converter`
holds what is shared; `make_converter` makes the lenient wire converter (unknown keys are
ignored; optional keys may be missing or null; writing leaves out empty optionals;
``seconds`` is a string on the wire) and `make_settings_converter` the strict one that
structures provider settings (unknown keys are errors that name their path).
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Mapping
from typing import Any, TypeVar

import attrs
import cattrs
from cattrs.gen import make_dict_structure_fn, make_dict_unstructure_fn, override
from cattrs.v import format_exception

from .errors import (
    AuthenticationError,
    ConfigurationError,
    ConflictError,
    InvalidRequestError,
    NotFoundError,
    PermissionDeniedError,
    ProviderError,
    ProviderTimeoutError,
    RateLimitError,
    ReelgateError,
    UnsupportedOperationError,
    VideoNotReadyError,
)
from .ids import VideoId
from .model import ContentFilter, CreateVideo, Deleted, ImageInput, Video, VideoOutput, VideoPage

__all__ = [
    "CREATE_FIELDS",
    "ExtraFields",
    "configure_converter",
    "create_from_dict",
    "deleted_to_dict",
    "dumps_error",
    "dumps_video",
    "error_from_dict",
    "error_to_dict",
    "loads_video",
    "make_converter",
    "make_settings_converter",
    "page_from_dict",
    "page_to_dict",
    "structure_settings",
    "video_from_dict",
    "video_to_dict",
]

#: The create request's own fields; every other top-level key is an extra parameter.
CREATE_FIELDS = frozenset(
    {
        "model",
        "prompt",
        "input_reference",
        "seconds",
        "size",
        "negative_prompt",
        "seed",
        "video_uri",
        "audio",
        "fallbacks",
    }
)

T = TypeVar("T")

_LIST_ITEM_DROP = ("videos", "content_filter")


@attrs.frozen(kw_only=True)
class ExtraFields:
    """
    The ``extra_fields`` object of every response.

    Attributes:
        request_type: ``video_generation``, ``video_retrieve``, ``video_list``...
        provider: The provider instance.
        model_requested: The model the caller asked for.
        latency: Milliseconds spent on the upstream call.
        raw_response: The upstream response, when the caller asked for it (scrubbed).
    """

    request_type: str
    provider: str | None = None
    model_requested: str | None = None
    latency: int = 0
    raw_request: Any = None
    raw_response: Any = None

    def to_dict(self) -> dict[str, Any]:
        """The wire form: empty optionals left out, ``latency`` and ``chunk_index`` kept."""
        out: dict[str, Any] = {"request_type": self.request_type}
        if self.provider is not None:
            out["provider"] = self.provider
        if self.model_requested is not None:
            out["model_requested"] = self.model_requested
        out["latency"] = self.latency
        out["chunk_index"] = 0
        if self.raw_request is not None:
            out["raw_request"] = self.raw_request
        if self.raw_response is not None:
            out["raw_response"] = self.raw_response
        return out


def _progress_out(value: float | None) -> float | int | None:
    if value is None:
        return None
    return int(value) if float(value).is_integer() else value


def _seconds_in(value: Any, _type: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise TypeError(f"seconds must be a string, got {value!r}")
    return str(int(value)) if isinstance(value, float) and value.is_integer() else str(value)


def _int_or_none(value: Any, _type: Any) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise TypeError(f"expected a unix timestamp, got {value!r}")
    return int(value)


def configure_converter(c: cattrs.Converter) -> None:
    """The hooks both converters share: optional strings and timestamps, string tuples."""
    c.register_structure_hook(str | None, lambda v, _: None if v is None else str(v))
    c.register_structure_hook(int | None, _int_or_none)
    c.register_structure_hook_func(
        lambda t: t == tuple[str, ...], lambda v, _: () if v is None else tuple(str(x) for x in v)
    )


def make_settings_converter() -> cattrs.Converter:
    """
    Build the strict converter of provider settings.

    Unknown keys are errors at any depth (``models.sora-2.sizez``), and its errors name
    the path of the bad key or value.
    """
    c = cattrs.Converter(forbid_extra_keys=True)
    configure_converter(c)
    return c


def make_converter() -> cattrs.Converter:
    """Build the lenient converter between the core types and the wire's JSON shapes."""
    c = cattrs.Converter(omit_if_default=True, forbid_extra_keys=False)
    configure_converter(c)
    c.register_structure_hook_func(
        lambda t: t == tuple[VideoOutput, ...],
        lambda v, _: () if v is None else tuple(c.structure(x, VideoOutput) for x in v),
    )
    c.register_structure_hook(
        ContentFilter,
        make_dict_structure_fn(
            ContentFilter, c, filtered_count=override(struct_hook=lambda v, _: int(v or 0))
        ),
    )

    # The wire always names an output's media type, video/mp4 (the default) included.
    c.register_unstructure_hook(
        VideoOutput,
        make_dict_unstructure_fn(
            VideoOutput,
            c,
            _cattrs_omit_if_default=True,
            content_type=override(omit_if_default=False),
        ),
    )

    video_fields: dict[str, Any] = {
        "provider": override(omit=True),
        "poll_after": override(omit=True),
        "provider_metadata": override(omit=True),
        "provider_state": override(omit=True),
    }
    c.register_unstructure_hook(
        Video,
        make_dict_unstructure_fn(
            Video,
            c,
            _cattrs_omit_if_default=True,
            progress=override(unstruct_hook=_progress_out),
            **video_fields,
        ),
    )
    c.register_structure_hook(
        Video,
        make_dict_structure_fn(
            Video,
            c,
            seconds=override(struct_hook=_seconds_in),
            progress=override(struct_hook=lambda v, _: None if v is None else float(v)),
            **video_fields,
        ),
    )
    return c


_converter = make_converter()
_settings_converter = make_settings_converter()


def _invalid(exc: Exception, what: str) -> InvalidRequestError:
    if isinstance(exc, cattrs.BaseValidationError):
        reasons = "; ".join(cattrs.transform_error(exc, path=what))
    else:
        reasons = str(exc)
    return InvalidRequestError(f"invalid {what}: {reasons}")


def video_to_dict(video: Video, *, extra_fields: ExtraFields | None = None) -> dict[str, Any]:
    """A video as the wire's video object (``extra_fields`` appended when given)."""
    out: dict[str, Any] = _converter.unstructure(video)
    out = {"id": out.pop("id"), "object": "video", **out}
    if extra_fields is not None:
        out["extra_fields"] = extra_fields.to_dict()
    return out


def video_from_dict(data: Mapping[str, Any]) -> Video:
    """
    Read a wire video object; the provider instance comes from the id.

    Raises:
        InvalidRequestError: The object cannot be a video.
    """
    try:
        video = _converter.structure(dict(data), Video)
    except (cattrs.BaseValidationError, ValueError, TypeError, KeyError) as e:
        raise _invalid(e, "video") from None
    if video.provider is None:
        try:
            return attrs.evolve(video, provider=VideoId.parse(video.id).instance)
        except InvalidRequestError:
            return video
    return video


def dumps_video(video: Video, *, extra_fields: ExtraFields | None = None) -> str:
    """A video as wire JSON text."""
    return json.dumps(video_to_dict(video, extra_fields=extra_fields), separators=(",", ":"))


def loads_video(data: str | bytes | Mapping[str, Any]) -> Video:
    """
    A video from wire JSON (text, bytes or an already parsed object).

    Raises:
        InvalidRequestError: The data is not a video object.
    """
    if isinstance(data, str | bytes):
        try:
            data = json.loads(data)
        except ValueError:
            raise InvalidRequestError("invalid video: not JSON") from None
    if not isinstance(data, Mapping):
        raise InvalidRequestError("invalid video: not a JSON object")
    return video_from_dict(data)


def page_to_dict(page: VideoPage, *, extra_fields: ExtraFields | None = None) -> dict[str, Any]:
    """A page as the wire's list object."""
    data = []
    for video in page.data:
        item = video_to_dict(video)
        for key in _LIST_ITEM_DROP:
            item.pop(key, None)
        data.append(item)
    out: dict[str, Any] = {"object": "list", "data": data}
    if page.data:
        out["first_id"] = page.first_id
        out["last_id"] = page.last_id
    out["has_more"] = page.has_more
    if extra_fields is not None:
        out["extra_fields"] = extra_fields.to_dict()
    return out


def page_from_dict(data: Mapping[str, Any]) -> VideoPage:
    """
    Read a wire list object.

    Raises:
        InvalidRequestError: The object is not a list of videos.
    """
    items = data.get("data")
    if not isinstance(items, list):
        raise InvalidRequestError("invalid list: data must be an array")
    return VideoPage(tuple(video_from_dict(item) for item in items), bool(data.get("has_more")))


def deleted_to_dict(deleted: Deleted, *, extra_fields: ExtraFields | None = None) -> dict[str, Any]:
    """A delete's answer as the wire's object, with ``upstream``: what the provider did."""
    out: dict[str, Any] = {
        "id": deleted.id,
        "object": "video.deleted",
        "deleted": deleted.deleted,
        "upstream": deleted.upstream,
    }
    if extra_fields is not None:
        out["extra_fields"] = extra_fields.to_dict()
    return out


def error_to_dict(error: ReelgateError, *, model_requested: str | None = None) -> dict[str, Any]:
    """An error as the wire's error body."""
    field: dict[str, Any] = {}
    for name in ("type", "code"):
        if (value := getattr(error, name)) is not None:
            field[name] = value
    field["message"] = error.message
    if error.param is not None:
        field["param"] = error.param
    if error.ambiguous:
        # The request may have been acted on upstream (a create whose answer was lost):
        # a client must not simply send it again.
        field["ambiguous"] = True
    extra: dict[str, Any] = {}
    if error.provider is not None:
        extra["provider"] = error.provider
    if model_requested is not None:
        extra["model_requested"] = model_requested
    if error.request_type is not None:
        extra["request_type"] = error.request_type
    if error.raw_response is not None:
        extra["raw_response"] = error.raw_response
    return {
        "is_bifrost_error": not error.upstream,
        "status_code": error.status_code or 500,
        "error": field,
        "extra_fields": extra,
    }


def dumps_error(error: ReelgateError, *, model_requested: str | None = None) -> str:
    """An error as wire JSON text."""
    return json.dumps(error_to_dict(error, model_requested=model_requested), separators=(",", ":"))


_BY_STATUS: dict[int, type[ReelgateError]] = {
    400: InvalidRequestError,
    401: AuthenticationError,
    403: PermissionDeniedError,
    404: NotFoundError,
    409: VideoNotReadyError,
    429: RateLimitError,
    502: ProviderError,
    504: ProviderTimeoutError,
}


def error_from_dict(data: Mapping[str, Any], status: int | None = None) -> ReelgateError:
    """Read a wire error body back into the matching reelgate error."""
    field = data.get("error") if isinstance(data.get("error"), Mapping) else {}
    assert isinstance(field, Mapping)  # noqa: S101  # narrowed above
    extra = data.get("extra_fields") if isinstance(data.get("extra_fields"), Mapping) else {}
    assert isinstance(extra, Mapping)  # noqa: S101  # narrowed above
    try:
        code = int(status or data.get("status_code") or 500)
    except (TypeError, ValueError):
        code = 500  # a status_code that is no number: read leniently, as an unknown failure
    cls = _BY_STATUS.get(code, ProviderError if code >= 500 else InvalidRequestError)
    if cls is InvalidRequestError and field.get("code") == "unsupported_operation":
        cls = UnsupportedOperationError
    if cls is VideoNotReadyError and field.get("type") == ConflictError.default_type:
        cls = ConflictError
    return cls(
        str(field.get("message") or f"HTTP {code}"),
        type=field.get("type"),
        code=field.get("code"),
        param=field.get("param"),
        provider=extra.get("provider"),
        request_type=extra.get("request_type"),
        upstream=not data.get("is_bifrost_error", True),
        ambiguous=field.get("ambiguous") is True,
    )


def _image_from_wire(value: str | None) -> ImageInput | None:
    """A data URL, an http(s) URL or bare base64; never a path on this machine."""
    if not value:
        return None
    if value.startswith(("data:", "https://", "http://")):
        return ImageInput.coerce(value)
    try:
        data = base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        raise InvalidRequestError(
            "input_reference must be a data URL, an http(s) URL or base64 image bytes",
            param="input_reference",
        ) from None
    return ImageInput.from_bytes(data)


_TYPES: dict[str, tuple[type | tuple[type, ...], str]] = {
    "input_reference": (str, "a string"),
    "size": (str, "a string"),
    "negative_prompt": (str, "a string"),
    "video_uri": (str, "a string"),
    "seed": (int, "an integer"),
    "audio": (bool, "a boolean"),
    "seconds": ((str, int), 'a string such as "8"'),
}


def _check_types(data: Mapping[str, Any]) -> None:
    for name, (kind, described) in _TYPES.items():
        value = data.get(name)
        if value is None:
            continue
        if (isinstance(value, bool) and kind is not bool) or not isinstance(value, kind):
            raise InvalidRequestError(f"{name} must be {described}", param=name)


def create_from_dict(data: Mapping[str, Any]) -> CreateVideo:
    """
    Read a create request body: the known fields, every other key an extra parameter.

    Raises:
        InvalidRequestError: A field has the wrong type or value.
    """
    if not isinstance(data, Mapping):
        raise InvalidRequestError("request body must be a JSON object")
    for name in ("model", "prompt"):
        if not isinstance(data.get(name), str):
            if data.get(name) is None and name == "prompt":
                raise InvalidRequestError("prompt cannot be empty", param="prompt")
            raise InvalidRequestError(f"{name} is required and must be a string", param=name)
    _check_types(data)
    seconds, seed, audio = data.get("seconds"), data.get("seed"), data.get("audio")
    fallbacks = data.get("fallbacks") or []
    if not isinstance(fallbacks, list) or not all(isinstance(f, str) for f in fallbacks):
        raise InvalidRequestError(
            "fallbacks must be an array of provider/model strings", param="fallbacks"
        )
    return CreateVideo(
        model=data["model"],
        prompt=data["prompt"],
        input_reference=_image_from_wire(data.get("input_reference")),
        seconds=seconds,
        size=data.get("size") or None,
        negative_prompt=data.get("negative_prompt"),
        seed=seed,
        video_uri=data.get("video_uri"),
        audio=audio,
        fallbacks=tuple(fallbacks),
        extra_params={k: v for k, v in data.items() if k not in CREATE_FIELDS},
    )


_UNKNOWN = "unknown setting "


def _describe(exc: BaseException, type_: Any) -> str:
    if isinstance(exc, cattrs.ForbiddenExtraKeysError):
        return _UNKNOWN + ",".join(sorted(exc.extra_fields))
    return format_exception(exc, type_)


def _settings_problems(exc: cattrs.BaseValidationError, path: str) -> list[str]:
    """Each problem as ``unknown setting providers.x.models['a'].sizez`` or ``path: why``."""
    problems = []
    for line in cattrs.transform_error(exc, path=path, format_exception=_describe):
        message, _, where = line.rpartition(" @ ")
        if message.startswith(_UNKNOWN):
            keys = message.removeprefix(_UNKNOWN).split(",")
            problems.append(_UNKNOWN + ", ".join(f"{where}.{key}" for key in keys))
        else:
            problems.append(f"{where}: {message}")
    return problems


def structure_settings(data: Mapping[str, Any], cls: type[T], *, path: str) -> T:
    """
    Build a provider's settings from a configuration table, refusing unknown keys.

    Raises:
        ConfigurationError: A key is unknown or a value has the wrong type, at any
            depth; the message names its path (``providers.x.models['sora-2']``).
    """
    try:
        return _settings_converter.structure(dict(data), cls)
    except cattrs.BaseValidationError as e:
        raise ConfigurationError("; ".join(_settings_problems(e, path))) from None
    except (TypeError, ValueError) as e:
        raise ConfigurationError(f"{path}: {e}") from None
