"""
A multipart/form-data body, built the way OpenAI's SDK sends create requests.

httpx2 encodes a body as multipart only when it has a file; the SDK forces multipart even
without one, and so does reelgate. The body is small (an image of at most 20 MiB), so it
is built whole.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterable

__all__ = ["FilePart", "encode"]

#: (field name, filename, media type, bytes)
FilePart = tuple[str, str, str, bytes]


def _quote(value: str) -> str:
    # The escaping browsers and httpx apply to names in Content-Disposition.
    return value.replace("\\", "\\\\").replace('"', "%22").replace("\r", "%0D").replace("\n", "%0A")


def encode(fields: Iterable[tuple[str, str]], files: Iterable[FilePart] = ()) -> tuple[bytes, str]:
    """
    Encode form fields and file parts.

    Args:
        fields: (name, value) pairs, sent in order.
        files: File parts, sent after the fields.

    Returns:
        The body and its ``Content-Type`` header (with the boundary).
    """
    boundary = secrets.token_hex(16)
    dash = f"--{boundary}\r\n".encode()
    parts: list[bytes] = []
    for name, value in fields:
        parts += [
            dash,
            f'Content-Disposition: form-data; name="{_quote(name)}"\r\n\r\n'.encode(),
            value.encode(),
            b"\r\n",
        ]
    for name, filename, media_type, data in files:
        parts += [
            dash,
            (
                f'Content-Disposition: form-data; name="{_quote(name)}"; '
                f'filename="{_quote(filename)}"\r\nContent-Type: {media_type}\r\n\r\n'
            ).encode(),
            data,
            b"\r\n",
        ]
    parts.append(f"--{boundary}--\r\n".encode())
    return b"".join(parts), f"multipart/form-data; boundary={boundary}"
