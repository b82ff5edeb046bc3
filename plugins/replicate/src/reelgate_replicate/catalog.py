"""
What reelgate knows of Replicate's video models: each one's input fields and values.

The tables come from each model's published input schema (its API page on replicate.com);
`docs/plugins/replicate.md` names the source of each row and what was unclear. Models
that are not listed are sent as given, unchecked.
"""

from __future__ import annotations

from collections.abc import Mapping

import attrs

__all__ = ["DEFAULT_BASE_URL", "MODELS", "ModelRules"]

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
