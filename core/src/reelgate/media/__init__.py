"""
Sample media: a real H.264 MP4, a WebP thumbnail and a JPEG spritesheet.

The simulator serves them, and so do the provider emulators, so that a download through
any of them is a file a player opens. ``make-media.sh`` in this package remakes them.
"""

from __future__ import annotations

from functools import cache
from importlib.resources import files

from ..model import Variant

__all__ = ["content_type", "sample"]

_FILES = {
    Variant.VIDEO: ("video.mp4", "video/mp4"),
    Variant.THUMBNAIL: ("thumbnail.webp", "image/webp"),
    Variant.SPRITESHEET: ("spritesheet.jpg", "image/jpeg"),
}


@cache
def sample(variant: Variant = Variant.VIDEO) -> bytes:
    """The bytes of the sample file of `variant` (read once)."""
    name, _ = _FILES[Variant(variant)]
    return files(__package__).joinpath(name).read_bytes()


def content_type(variant: Variant = Variant.VIDEO) -> str:
    """The media type of the sample file of `variant`, e.g. ``video/mp4``."""
    return _FILES[Variant(variant)][1]
