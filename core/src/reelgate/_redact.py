"""
Secrets and their removal from text: the lowest layer, importing nothing of reelgate.

`Secret` holds a key so that it never shows in a repr, a log line or an error message;
`scrub` removes from text:

* the keys it is given, wherever they appear;
* credentials after an authorization scheme: ``Bearer``, fal's ``Key``, Replicate's
  ``Token``, ``Basic``;
* the values of key headers written out: ``Authorization:``, Azure's ``api-key:``,
  ``x-api-key``, ``x-goog-api-key``, and OAuth fields such as ``"access_token": ...``;
* the token-bearing query parameters of URLs (``?key=``, ``sig=``, ``token=``, ``_jwt=``,
  ``X-Amz-Signature=``, ``X-Goog-Credential=``...) and passwords in ``user:pass@`` URLs.

Outside a header or a URL, a word after a scheme name counts as a credential only when it
looks like one (8 characters or more, with a digit, ``+/=`` or a capital inside), so
English such as "Token expired" or "the key was not found" is left alone.

`ScrubFilter` applies `scrub` to log records, for libraries whose log lines carry URLs.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Collection
from typing import Any

import attrs

__all__ = ["ScrubFilter", "Secret", "scrub", "scrub_json"]


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


_MASK = "***"
# Characters of a credential: base64, base64url, JWT dots, fal's ``id:secret``.
_CRED = r"[A-Za-z0-9._~+/=:-]"
# A word that looks like a credential rather than English: 8 characters or more, with a
# digit, a base64 symbol or a capital after a small letter somewhere in it.
_LOOKS_SECRET = rf"(?={_CRED}{{8}})(?={_CRED}*?(?:[0-9+/=]|(?-i:[a-z][A-Z]))){_CRED}+"
_SCHEMES = r"(?:bearer|key|token|basic)"
_NAMES = (
    r"(?:proxy-)?authorization|(?:x-)?api[-_]key|x-goog-api-key|x-auth-token"
    r"|access_token|refresh_token|id_token|client_secret"
)

_QUERY = re.compile(
    r"(?i)([?&;](?:key|api_key|apikey|api-key|x-api-key|token|access_token|id_token"
    r"|refresh_token|auth|_jwt|jwt|sig|signature|client_secret|secret|password"
    r"|x-goog-signature|x-goog-credential|x-amz-signature|x-amz-credential"
    r"|x-amz-security-token)=)[^&\s\"'#<>]+"
)
_USERINFO = re.compile(r"(?i)(\b[a-z][a-z0-9+.-]*://[^/\s:@]+:)[^/\s@]+@")
#: A key header or OAuth field with a quoted value: ``"authorization": "Bearer ..."``,
#: ``'api-key': '...'``, httpcore's ``(b'x-goog-api-key', b'...')``.
_QUOTED = re.compile(rf"(?i)\b({_NAMES})(['\"]\s*[:=,]\s*b?['\"](?:{_SCHEMES}\s+)?)[^'\"\s]+")
#: A header line: ``Authorization: Key id:secret``, ``api-key: 0123abcd...``.
_HEADER_SCHEME = re.compile(rf"(?i)\b({_NAMES})(\s*[:=]\s*{_SCHEMES}\s+)[^\s'\",;}}\])]+")
_HEADER = re.compile(rf"(?i)\b({_NAMES})(\s*[:=]\s*)(?!{_SCHEMES}\s){_LOOKS_SECRET}")
#: A credential after a scheme in free text: ``Bearer sk-...``, ``Token r8_...``.
_SCHEME = re.compile(rf"(?i)\b({_SCHEMES})(\s+){_LOOKS_SECRET}")

_NAME_WORDS = ("authorization", "api-key", "api_key", "token", "secret")
#: Each pattern with its replacement, and words one of which the text must contain for
#: the pattern to match: most text has none, and a substring test is 100 times cheaper.
_PATTERNS = (
    (_QUERY, rf"\1{_MASK}", ("=",)),
    (_USERINFO, rf"\1{_MASK}@", ("@",)),
    (_QUOTED, rf"\1\2{_MASK}", _NAME_WORDS),
    (_HEADER_SCHEME, rf"\1\2{_MASK}", _NAME_WORDS),
    (_HEADER, rf"\1\2{_MASK}", _NAME_WORDS),
    (_SCHEME, rf"\1\2{_MASK}", ("bearer", "key", "token", "basic")),
)


def scrub(text: str, secrets: Collection[Secret | str] = ()) -> str:
    """
    Remove secrets from `text`.

    That is the given keys, credentials after an authorization scheme or a key header's
    name, and the token-bearing parts of URLs; each becomes ``***``.
    """
    for secret in secrets:
        value = secret.reveal() if isinstance(secret, Secret) else secret
        if value:
            text = text.replace(value, _MASK)
    lowered = text.lower()
    for pattern, replacement, words in _PATTERNS:
        if any(word in lowered for word in words):
            text = pattern.sub(replacement, text)
    return text


class ScrubFilter(logging.Filter):
    """A logging filter that scrubs each record's message (keys given, or patterns)."""

    def filter(self, record: logging.LogRecord) -> bool:
        """Rewrite the record's message without its secrets; never drops a record."""
        try:
            message = record.getMessage()
        except Exception:  # noqa: BLE001  # a malformed record is logging's to report
            return True
        cleaned = scrub(message)
        if cleaned != message:
            record.msg, record.args = cleaned, None
        return True


def scrub_json(value: Any, secrets: Collection[Secret | str] = ()) -> Any:
    """A JSON-able value with `scrub` applied to its text (None stays None)."""
    if value is None:
        return None
    return json.loads(scrub(json.dumps(value), secrets))
