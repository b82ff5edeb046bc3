"""
What reelgate knows of Replicate's video models, and how a request becomes a model's input.

The tables come from each model's published input schema (its API page on replicate.com);
`docs/plugins/replicate.md` names the source of each row and what was unclear. Models
that are not listed are sent as given, unchecked.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from math import gcd
from typing import Any

import attrs

import reelgate
from reelgate.errors import InvalidRequestError

__all__ = ["DEFAULT_BASE_URL", "MODELS", "ModelRules", "build_input"]

DEFAULT_BASE_URL = "https://api.replicate.com/v1"

_VEO_RATIOS = ("16:9", "9:16")
_LUMA_RATIOS = ("1:1", "3:4", "4:3", "9:16", "16:9", "9:21", "21:9")
_SEEDANCE_RATIOS = ("16:9", "4:3", "1:1", "3:4", "9:16", "21:9")


@attrs.frozen(kw_only=True)
class ModelRules:
    """
    One model's input schema, as far as reelgate's request fields reach.

    Attributes:
        image_field: The input field of the first-frame image (None: no image input).
        image_required: The model is image-to-video only.
        durations: The values of ``duration`` in seconds (empty: no duration input;
            None: any, unchecked).
        ratios: The values of ``aspect_ratio`` (empty: no aspect ratio input).
        resolutions: The values of ``resolution`` (empty: no resolution input).
        long_resolutions: Durations offered only at some resolutions: seconds -> those.
        negative_prompt: The model takes ``negative_prompt``.
        seed: The model takes ``seed``.
        audio: The model takes ``generate_audio``.
    """

    image_field: str | None = "image"
    image_required: bool = False
    durations: tuple[int, ...] | None = ()
    ratios: tuple[str, ...] = ()
    resolutions: tuple[str, ...] = ()
    long_resolutions: Mapping[int, tuple[str, ...]] = attrs.field(factory=dict)
    negative_prompt: bool = False
    seed: bool = False
    audio: bool = False


_VEO = ModelRules(
    durations=(4, 6, 8),
    ratios=_VEO_RATIOS,
    resolutions=("720p", "1080p"),
    negative_prompt=True,
    seed=True,
    audio=True,
)
_KLING_T2V = ModelRules(
    image_field="start_image",
    durations=(5, 10),
    ratios=("16:9", "9:16", "1:1"),
    negative_prompt=True,
)
_RAY = ModelRules(image_field="start_image", durations=(5, 9), ratios=_LUMA_RATIOS)

#: ``owner/name`` -> the model's rules.
MODELS: Mapping[str, ModelRules] = {
    "google/veo-3": _VEO,
    "google/veo-3-fast": _VEO,
    "google/veo-3.1": _VEO,
    "google/veo-3.1-fast": _VEO,
    "kwaivgi/kling-v2.0": _KLING_T2V,
    "kwaivgi/kling-v2.1": ModelRules(
        image_field="start_image", image_required=True, durations=(5, 10), negative_prompt=True
    ),
    "minimax/hailuo-02": ModelRules(
        image_field="first_frame_image",
        durations=(6, 10),
        resolutions=("512p", "768p", "1080p"),
        long_resolutions={10: ("768p",)},
    ),
    "minimax/hailuo-2.3": ModelRules(
        image_field="first_frame_image",
        durations=(6, 10),
        resolutions=("768p", "1080p"),
        long_resolutions={10: ("768p",)},
    ),
    "bytedance/seedance-1-pro": ModelRules(
        durations=tuple(range(2, 13)),
        ratios=_SEEDANCE_RATIOS,
        resolutions=("480p", "720p", "1080p"),
        seed=True,
    ),
    "wan-video/wan-2.2-t2v-fast": ModelRules(
        image_field=None, ratios=_VEO_RATIOS, resolutions=("480p", "720p"), seed=True
    ),
    "wan-video/wan-2.2-i2v-fast": ModelRules(
        image_required=True, resolutions=("480p", "720p"), seed=True
    ),
    "luma/ray-2-720p": _RAY,
    "luma/ray-2-540p": _RAY,
    "luma/ray-flash-2-720p": _RAY,
    "luma/ray-flash-2-540p": _RAY,
}


_VERSION = re.compile(r"^[0-9a-f]{64}$")


# -- create ------------------------------------------------------------------------------

#: Models outside the table: the near-universal fields pass unchecked, the rest is refused.
_UNKNOWN = ModelRules(image_field=None, durations=None, negative_prompt=True, seed=True)


def _split_model(model: str, call: reelgate.Call) -> tuple[str, str | None]:
    name, _, version = model.partition(":")
    owner, _, rest = name.partition("/")
    if not owner or not rest or "/" in rest or (version and not _VERSION.match(version)):
        raise InvalidRequestError(
            "Replicate models are owner/name or owner/name:version (a 64-character hex "
            f"version id); got {model!r}",
            param="model",
            call=call,
        )
    return name, version or None


def _size_fields(
    size: str, rules: ModelRules, refuse: Callable[[str, str], InvalidRequestError]
) -> dict[str, str]:
    width, height = (int(n) for n in size.split("x"))
    d = gcd(width, height)
    fields = {"aspect_ratio": f"{width // d}:{height // d}", "resolution": f"{min(width, height)}p"}
    if not rules.ratios and not rules.resolutions:
        raise refuse("size", "takes no size")
    for field, allowed in (("aspect_ratio", rules.ratios), ("resolution", rules.resolutions)):
        if allowed and fields[field] not in allowed:
            note = " (the short side)" if field == "resolution" else ""
            raise refuse("size", f"makes {', '.join(allowed)}{note}; {size} is {fields[field]}")
    return {k: v for k, v in fields.items() if (rules.ratios, rules.resolutions)[k == "resolution"]}


def _checked(
    request: reelgate.CreateVideo, name: str, rules: ModelRules, call: reelgate.Call
) -> dict[str, Any]:
    hint = "" if rules is not _UNKNOWN else " (reelgate does not know its fields: use extra_params)"

    def refuse(param: str, why: str) -> InvalidRequestError:
        return InvalidRequestError(f"{name} {why}{hint}", param=param, call=call)

    body: dict[str, Any] = {}
    if request.seconds is not None:
        if rules.durations is not None and int(request.seconds) not in rules.durations:
            allowed = ", ".join(str(d) for d in rules.durations)
            raise refuse(
                "seconds", f"makes {allowed} second videos" if allowed else "takes no duration"
            )
        body["duration"] = int(request.seconds)
    if request.size is not None:
        body.update(_size_fields(request.size, rules, refuse))
    long_only = rules.long_resolutions.get(body.get("duration", 0))
    if long_only and body.get("resolution", long_only[0]) not in long_only:
        raise refuse("seconds", f"makes {body['duration']}-second videos only at {long_only[0]}")
    if (request.input_reference is not None) != rules.image_required and (
        rules.image_field is None or rules.image_required
    ):
        why = (
            "is image-to-video: give an input_reference"
            if rules.image_required
            else "takes no image"
        )
        raise refuse("input_reference", why)
    for param, allowed_, field in (
        ("negative_prompt", rules.negative_prompt, "negative_prompt"),
        ("seed", rules.seed, "seed"),
        ("audio", rules.audio, "generate_audio"),
    ):
        if (value := getattr(request, param)) is not None:
            if not allowed_:
                raise refuse(param, f"takes no {param}")
            body[field] = value
    return body


def build_input(
    request: reelgate.CreateVideo, model: str, call: reelgate.Call
) -> tuple[str, dict[str, Any]]:
    """
    The path and JSON body of a create, checked against the model's table.

    Listed models (`reelgate_replicate.catalog.MODELS`) get their own field names (the
    image as ``image``, ``start_image``, ``first_frame_image``...). Other models get
    ``prompt``, ``duration``, ``seed`` and ``negative_prompt`` unchecked; their size or
    image fields must come in ``extra_params``, which is merged in as given.

    Returns:
        ``/models/{owner}/{name}/predictions`` (or ``/predictions`` for a version) and the body.

    Raises:
        InvalidRequestError: The request cannot succeed on the model; nothing is sent.
    """
    name, version = _split_model(model, call)
    rules = MODELS.get(name, _UNKNOWN)
    fields = {"prompt": request.prompt, **_checked(request, name, rules, call)}
    if request.input_reference is not None and rules.image_field is not None:
        image = request.input_reference
        fields[rules.image_field] = image.url if image.url is not None else image.data_url()
    if repeated := sorted(fields.keys() & request.extra_params.keys()):
        raise InvalidRequestError(
            f"extra_params.{repeated[0]} repeats a field of the request",
            param="extra_params",
            call=call,
        )
    body_input = {**fields, **request.extra_params}
    if version is not None:
        return "/predictions", {"version": version, "input": body_input}
    return f"/models/{name}/predictions", {"input": body_input}
