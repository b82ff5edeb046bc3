"""
Video ids as callers see them: ``{escaped native id}:{provider instance}``.

The native id is percent-escaped *fully* (everything but ``A-Z a-z 0-9 - . _ ~``), so it
never contains a ``:`` or a ``/``; the id is split at its *last* ``:``. Any native id
round-trips, with slashes, colons, percent signs, spaces or non-ASCII text in it, except
``.`` and ``..`` segments (which would walk out of a provider's URL path) and ids longer
than `MAX_ID_LENGTH`.
"""

from __future__ import annotations

import re
from typing import NamedTuple
from urllib.parse import quote, unquote

from .errors import InvalidRequestError

__all__ = ["MAX_ID_LENGTH", "VideoId", "check_instance_name"]

_INSTANCE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")
_BAD_ESCAPE = re.compile(r"%(?![0-9A-Fa-f]{2})")
_FORMAT = "video_id must be in id:provider format"
#: The longest id accepted: longer than any provider's, short enough for any URL.
MAX_ID_LENGTH = 1024


def check_instance_name(name: str) -> str:
    """
    Check a provider instance name: letters, digits, ``_ . -``, at most 64 characters.

    Raises:
        InvalidRequestError: The name cannot be part of a video id.
    """
    if not _INSTANCE.fullmatch(name):
        raise InvalidRequestError(
            f"provider instance names are letters, digits, '_', '.' and '-'; got {name!r}",
            param="provider",
        )
    return name


class VideoId(NamedTuple):
    """A parsed video id: the provider's native id and the instance it belongs to."""

    native: str
    instance: str

    def __str__(self) -> str:
        return f"{quote(self.native, safe='')}:{self.instance}"

    @classmethod
    def build(cls, native: str, instance: str) -> str:
        """Qualify a native id: ``VideoId.build("a/b", "gemini") == "a%2Fb:gemini"``."""
        return str(cls(native, instance))

    @classmethod
    def parse(cls, video_id: str) -> VideoId:
        """
        Split a video id at its last ``:`` and unescape the native part.

        Raises:
            InvalidRequestError: The id is not ``id:provider``, or its escapes are broken.
        """
        if not isinstance(video_id, str):
            raise InvalidRequestError(_FORMAT, param="video_id")
        if len(video_id) > MAX_ID_LENGTH:
            raise InvalidRequestError(
                f"video_id is longer than {MAX_ID_LENGTH} characters", param="video_id"
            )
        escaped, sep, instance = video_id.rpartition(":")
        if not sep or not escaped or not _INSTANCE.fullmatch(instance):
            raise InvalidRequestError(f"{_FORMAT}; got {video_id!r}", param="video_id")
        if _BAD_ESCAPE.search(escaped):
            raise InvalidRequestError(f"invalid video_id encoding: {video_id!r}", param="video_id")
        try:
            native = unquote(escaped, errors="strict")
        except UnicodeDecodeError:
            raise InvalidRequestError(
                f"invalid video_id encoding: {video_id!r}", param="video_id"
            ) from None
        if any(segment in (".", "..") for segment in native.split("/")):
            # Providers put native ids in URL paths: a dot segment would walk out of them.
            raise InvalidRequestError(
                f"invalid video_id: {video_id!r} has a '.' or '..' segment", param="video_id"
            )
        return cls(native, instance)
