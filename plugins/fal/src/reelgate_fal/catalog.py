"""
What reelgate knows of fal's video endpoints, and how a request becomes an endpoint's input.

From each endpoint's published schema (``fal.ai/models/<endpoint>/llms.txt`` and its API
page); `docs/plugins/fal.md` names the source of each row and what was unclear.
Endpoints that are not listed are sent as given, unchecked.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from math import gcd
from typing import Any

import attrs

import reelgate
from reelgate.errors import InvalidRequestError

__all__ = ["DEFAULT_BASE_URL", "MODELS", "NAMESPACES", "ModelRules", "app_path", "build_input"]

DEFAULT_BASE_URL = "https://queue.fal.run"
#: Model paths whose first segment is a namespace: their app is three segments long.
NAMESPACES = ("workflows", "comfy")


def app_path(model: str) -> str:
    """
    The app a model path belongs to: its first two segments (three after a namespace).

    ``fal-ai/kling-video/v2/master/text-to-video`` -> ``fal-ai/kling-video``. fal serves a
    request's status, result and cancel under the app, not the full model path.
    """
    parts = model.strip("/").split("/")
    return "/".join(parts[: 3 if parts[0] in NAMESPACES else 2])


@attrs.frozen(kw_only=True)
class ModelRules:
    """
    One endpoint's input schema, as far as reelgate's request fields reach.

    Attributes:
        image_field: The field of the first-frame image URL (None: no image input).
        image_required: The endpoint is image-to-video.
        durations: The values of ``duration`` in seconds (empty: no duration input).
        duration_format: How ``duration`` is written (fal's enums are strings: ``"5"``,
            ``"8s"``).
        ratios: The values of ``aspect_ratio`` (empty: none).
        resolutions: The values of ``resolution`` (empty: none).
        negative_prompt: The endpoint takes ``negative_prompt``.
        seed: The endpoint takes ``seed``.
        audio: The endpoint takes ``generate_audio``.
    """

    image_field: str | None = None
    image_required: bool = False
    durations: tuple[int, ...] = ()
    duration_format: str = "{}"
    ratios: tuple[str, ...] = ()
    resolutions: tuple[str, ...] = ()
    negative_prompt: bool = False
    seed: bool = False
    audio: bool = False


def _i2v(rules: ModelRules, field: str = "image_url") -> ModelRules:
    return attrs.evolve(rules, image_field=field, image_required=True, ratios=())


_KLING = ModelRules(durations=(5, 10), ratios=("16:9", "9:16", "1:1"), negative_prompt=True)
_VEO3 = ModelRules(
    durations=(4, 6, 8),
    duration_format="{}s",
    ratios=("16:9", "9:16", "1:1"),
    resolutions=("720p", "1080p"),
    negative_prompt=True,
    seed=True,
    audio=True,
)
_HAILUO = ModelRules(durations=(6, 10))
_SEEDANCE = ModelRules(
    durations=tuple(range(2, 13)),
    ratios=("21:9", "16:9", "4:3", "1:1", "3:4", "9:16"),
    resolutions=("480p", "720p", "1080p"),
    seed=True,
)
_WAN = ModelRules(
    ratios=("16:9", "9:16", "1:1"),
    resolutions=("480p", "580p", "720p"),
    negative_prompt=True,
    seed=True,
)
_RAY = ModelRules(
    durations=(5, 9),
    duration_format="{}s",
    ratios=("16:9", "9:16", "4:3", "3:4", "21:9", "9:21"),
    resolutions=("540p", "720p", "1080p"),
)
_PIXVERSE = ModelRules(
    durations=(5, 8),
    ratios=("16:9", "4:3", "1:1", "3:4", "9:16"),
    resolutions=("360p", "540p", "720p", "1080p"),
    negative_prompt=True,
    seed=True,
)

#: Model path -> the endpoint's rules.
MODELS: Mapping[str, ModelRules] = {
    "fal-ai/kling-video/v2/master/text-to-video": _KLING,
    "fal-ai/kling-video/v2.1/master/text-to-video": _KLING,
    "fal-ai/kling-video/v2.1/master/image-to-video": _i2v(_KLING),
    "fal-ai/kling-video/v2.1/pro/image-to-video": _i2v(_KLING),
    "fal-ai/kling-video/v2.1/standard/image-to-video": _i2v(_KLING),
    "fal-ai/veo3": _VEO3,
    "fal-ai/veo3/fast": _VEO3,
    "fal-ai/veo3/image-to-video": attrs.evolve(_i2v(_VEO3), durations=(8,)),
    "fal-ai/minimax/hailuo-02/standard/text-to-video": _HAILUO,
    "fal-ai/minimax/hailuo-02/standard/image-to-video": _i2v(
        attrs.evolve(_HAILUO, resolutions=("512P", "768P"))
    ),
    "fal-ai/minimax/hailuo-02/pro/text-to-video": attrs.evolve(_HAILUO, durations=(6,)),
    "fal-ai/minimax/hailuo-02/pro/image-to-video": _i2v(attrs.evolve(_HAILUO, durations=(6,))),
    "fal-ai/bytedance/seedance/v1/pro/text-to-video": _SEEDANCE,
    "fal-ai/bytedance/seedance/v1/pro/image-to-video": _i2v(_SEEDANCE),
    "fal-ai/wan/v2.2-a14b/text-to-video": _WAN,
    "fal-ai/wan/v2.2-a14b/image-to-video": _i2v(_WAN),
    "fal-ai/luma-dream-machine/ray-2": _RAY,
    "fal-ai/luma-dream-machine/ray-2/image-to-video": _i2v(_RAY),
    "fal-ai/luma-dream-machine/ray-2-flash": _RAY,
    "fal-ai/luma-dream-machine/ray-2-flash/image-to-video": _i2v(_RAY),
    "fal-ai/pixverse/v4.5/text-to-video": _PIXVERSE,
    "fal-ai/pixverse/v4.5/image-to-video": _i2v(_PIXVERSE),
}


#: Endpoints outside the table: the near-universal fields pass unchecked.
_UNKNOWN = ModelRules(negative_prompt=True, seed=True)


# -- create ------------------------------------------------------------------------------


def _size_fields(
    size: str, rules: ModelRules, refuse: Callable[[str, str], InvalidRequestError]
) -> dict[str, str]:
    width, height = (int(n) for n in size.split("x"))
    d = gcd(width, height)
    fields = {"aspect_ratio": f"{width // d}:{height // d}", "resolution": f"{min(width, height)}p"}
    if not rules.ratios and not rules.resolutions:
        raise refuse("size", "takes no size")
    for field, allowed in (("aspect_ratio", rules.ratios), ("resolution", rules.resolutions)):
        # fal spells some resolutions in capitals ("768P"): send the endpoint's spelling.
        spelled = {a.lower(): a for a in allowed}
        if allowed and fields[field].lower() not in spelled:
            note = " (the short side)" if field == "resolution" else ""
            raise refuse("size", f"makes {', '.join(allowed)}{note}; {size} is {fields[field]}")
        fields[field] = spelled.get(fields[field].lower(), fields[field])
    return {k: v for k, v in fields.items() if (rules.ratios, rules.resolutions)[k == "resolution"]}


def _optional_fields(
    request: reelgate.CreateVideo,
    rules: ModelRules,
    refuse: Callable[[str, str], InvalidRequestError],
) -> dict[str, Any]:
    fields = {}
    for param, allowed, field in (
        ("negative_prompt", rules.negative_prompt, "negative_prompt"),
        ("seed", rules.seed, "seed"),
        ("audio", rules.audio, "generate_audio"),
    ):
        if (value := getattr(request, param)) is not None:
            if not allowed:
                raise refuse(param, f"takes no {param}")
            fields[field] = value
    return fields


def build_input(request: reelgate.CreateVideo, model: str, call: reelgate.Call) -> dict[str, Any]:
    """
    The JSON input of ``POST /{model}``, checked against the endpoint's table.

    Listed endpoints (`reelgate_fal.catalog.MODELS`) are checked, and their durations are
    written as fal's string enums (``"5"``, ``"8s"``). Other endpoints get ``prompt``,
    ``duration`` (a string), ``seed`` and ``negative_prompt`` unchecked; their size or
    image fields must come in ``extra_params``, merged in as given.

    Raises:
        InvalidRequestError: The request cannot succeed on the endpoint; nothing is sent.
    """
    rules = MODELS.get(model, _UNKNOWN)
    hint = "" if rules is not _UNKNOWN else " (reelgate does not know its fields: use extra_params)"

    def refuse(param: str, why: str) -> InvalidRequestError:
        return InvalidRequestError(f"fal's {model} {why}{hint}", param=param, call=call)

    body: dict[str, Any] = {"prompt": request.prompt}
    if request.seconds is not None:
        if rules is not _UNKNOWN and int(request.seconds) not in rules.durations:
            allowed = ", ".join(str(d) for d in rules.durations)
            raise refuse(
                "seconds", f"makes {allowed} second videos" if allowed else "takes no duration"
            )
        body["duration"] = rules.duration_format.format(int(request.seconds))
    if request.size is not None:
        body.update(_size_fields(request.size, rules, refuse))
    image = request.input_reference
    if (image is not None) != rules.image_required and (
        rules.image_field is None or rules.image_required
    ):
        why = (
            "is image-to-video: give an input_reference"
            if rules.image_required
            else "takes no image"
        )
        raise refuse("input_reference", why)
    if image is not None and rules.image_field is not None:
        body[rules.image_field] = image.url if image.url is not None else image.data_url()
    body.update(_optional_fields(request, rules, refuse))
    if repeated := sorted(body.keys() & request.extra_params.keys()):
        raise InvalidRequestError(
            f"extra_params.{repeated[0]} repeats a field of the request",
            param="extra_params",
            call=call,
        )
    return {**body, **request.extra_params}
