"""
What Runway accepts, model by model.

The provider checks a request against these rules before sending it, and the emulator
enforces them.

The table follows Runway's API reference (version ``2024-11-06``) for the models it
documents in detail. Runway also serves many third-party models (``kling*``,
``seedance2*``, ``aleph2``...); those are not in the table, and requests for them are
passed through for Runway to validate.
"""

from __future__ import annotations

from collections.abc import Mapping

import attrs

__all__ = [
    "DEFAULT_BASE_URL",
    "ENDPOINTS",
    "IMAGE_TO_VIDEO",
    "MAX_DATA_URI_CHARS",
    "MAX_PROMPT_UTF16",
    "MODELS",
    "RUNWAY_VERSION",
    "TEXT_TO_VIDEO",
    "VIDEO_TO_VIDEO",
    "ModelRules",
    "utf16_length",
]

#: Where the Runway API lives.
DEFAULT_BASE_URL = "https://api.dev.runwayml.com"
#: The API version every request names in ``X-Runway-Version``.
RUNWAY_VERSION = "2024-11-06"

TEXT_TO_VIDEO = "text_to_video"
IMAGE_TO_VIDEO = "image_to_video"
VIDEO_TO_VIDEO = "video_to_video"
#: The create endpoints, each ``POST /v1/<name>``.
ENDPOINTS = (TEXT_TO_VIDEO, IMAGE_TO_VIDEO, VIDEO_TO_VIDEO)

#: A ``data:`` URI given as ``promptImage`` may be this long, encoded (Runway's 5 MB).
MAX_DATA_URI_CHARS = 5 * 1024 * 1024
#: ``promptText`` may be this many UTF-16 code units long.
MAX_PROMPT_UTF16 = 1000

_LANDSCAPE_PORTRAIT = ("1280:720", "720:1280")
_GEN4 = ("1280:720", "720:1280", "1104:832", "832:1104", "960:960", "1584:672")
_GEN45_IMAGE = ("1280:720", "720:1280", "1104:832", "960:960", "832:1104", "1584:672")
_VEO = ("1280:720", "720:1280", "1080:1920", "1920:1080")


@attrs.frozen(kw_only=True)
class ModelRules:
    """
    One model's rules.

    Attributes:
        name: The model's name on the wire.
        ratios: For each endpoint the model serves, the ``W:H`` ratios it takes; the first
            is sent when the request names no size.
        durations: The whole seconds it takes.
        default_duration: Sent when the request names no duration and Runway requires one.
        prompt_required: The endpoints on which ``promptText`` is required.
        negative_prompt: Whether it takes ``negativePrompt``.
        audio: Whether it takes ``audio``.
        last_frame: Whether ``promptImage`` may carry a ``last`` frame as well.
    """

    name: str
    ratios: Mapping[str, tuple[str, ...]]
    durations: tuple[int, ...]
    default_duration: int | None = None
    prompt_required: frozenset[str] = frozenset()
    negative_prompt: bool = False
    audio: bool = False
    last_frame: bool = False

    @property
    def endpoints(self) -> tuple[str, ...]:
        """The create endpoints that serve this model."""
        return tuple(e for e in ENDPOINTS if e in self.ratios)

    @property
    def is_veo(self) -> bool:
        """Whether this is one of Google's Veo models, served through Runway."""
        return self.name.startswith("veo")


def _rules(*models: ModelRules) -> Mapping[str, ModelRules]:
    return {m.name: m for m in models}


#: The documented video models by name.
MODELS: Mapping[str, ModelRules] = _rules(
    ModelRules(
        name="gen4.5",
        ratios={TEXT_TO_VIDEO: _LANDSCAPE_PORTRAIT, IMAGE_TO_VIDEO: _GEN45_IMAGE},
        durations=tuple(range(2, 11)),
        default_duration=5,
        prompt_required=frozenset({TEXT_TO_VIDEO, IMAGE_TO_VIDEO}),
    ),
    ModelRules(
        name="gen4_turbo",
        ratios={IMAGE_TO_VIDEO: _GEN4},
        durations=(5, 10),
    ),
    ModelRules(
        name="veo3",
        ratios={TEXT_TO_VIDEO: _VEO, IMAGE_TO_VIDEO: _VEO},
        durations=(8,),
        prompt_required=frozenset({TEXT_TO_VIDEO}),
        negative_prompt=True,
    ),
    ModelRules(
        name="veo3.1",
        ratios={TEXT_TO_VIDEO: _VEO, IMAGE_TO_VIDEO: _VEO},
        durations=(4, 6, 8),
        prompt_required=frozenset({TEXT_TO_VIDEO}),
        negative_prompt=True,
        audio=True,
        last_frame=True,
    ),
    ModelRules(
        name="veo3.1_fast",
        ratios={TEXT_TO_VIDEO: _VEO, IMAGE_TO_VIDEO: _VEO},
        durations=(4, 6, 8),
        prompt_required=frozenset({TEXT_TO_VIDEO}),
        negative_prompt=True,
        audio=True,
        last_frame=True,
    ),
)


def utf16_length(text: str) -> int:
    """How many UTF-16 code units `text` takes (how Runway measures ``promptText``)."""
    return len(text.encode("utf-16-le")) // 2
