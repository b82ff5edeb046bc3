"""
Secrets and their removal from text: the lowest layer, importing nothing of reelgate.

`Secret` holds a key so that it never shows in a repr, a log line or an error message;
`scrub` removes keys, credentials in every scheme a provider uses (``Bearer``, ``Key``,
``Token``, ``Basic``, ``api-key``, ``x-goog-api-key``) and the token-bearing query
parameters of signed URLs (``?key=``, ``sig=``, ``X-Amz-Signature=``...) from text.
"""

from __future__ import annotations

import re
from collections.abc import Collection

import attrs

__all__ = ["Secret", "scrub"]


@attrs.frozen(repr=False)
class Secret:
    """
    A key, kept out of reprs, logs and error messages.

    Attributes:
        name: Where it came from (an environment variable's name): safe to show and to
            record, e.g. as the key that created a job.
    """

    _value: str = attrs.field(alias="value", repr=False)
    name: str = "key"

    def reveal(self) -> str:
        """The secret itself, for an Authorization header and nothing else."""
        return self._value

    def __repr__(self) -> str:
        return f"Secret(name={self.name!r})"

    __str__ = __repr__


_SECRET_QUERY = re.compile(
    r"(?i)([?&](?:key|api_key|apikey|api-key|token|access_token|auth|_jwt|jwt|sig|signature"
    r"|x-goog-signature|x-goog-credential|x-amz-signature|x-amz-credential"
    r"|x-amz-security-token)=)[^&\s\"'#]+"
)
#: ``Authorization`` schemes: ``Bearer sk-...``, fal's ``Key id:secret``, Replicate's
#: ``Token r8_...``, ``Basic ...``.
_SCHEME = re.compile(
    r"(?i)\b(bearer(?=\s)|(?:key|token|basic)(?=\s+[A-Za-z._~+/=:-]*[0-9]))(\s+)[A-Za-z0-9._~+/=:-]{6,}"
)
#: Key headers written out, as in a dump of request headers: ``api-key: ...``.
_HEADER = re.compile(
    r"(?i)\b((?:x-)?api[-_]key|x-goog-api-key|x-api-key|authorization)(['\"]?\s*[:=]\s*['\"]?)"
    r"(?!\*\*\*|(?:bearer|key|token|basic)\s)[^\s'\",}]{6,}"
)


def scrub(text: str, secrets: Collection[Secret | str] = ()) -> str:
    """
    Remove secrets from `text`.

    That is the given keys, credentials after an authorization scheme or a key header's
    name, and the token-bearing query parameters of signed URLs.
    """
    for secret in secrets:
        value = secret.reveal() if isinstance(secret, Secret) else secret
        if value:
            text = text.replace(value, "***")
    text = _SECRET_QUERY.sub(r"\1***", text)
    text = _SCHEME.sub(r"\1\2***", text)
    return _HEADER.sub(r"\1\2***", text)
