"""Secrets out of text: every credential scheme, signed URLs, log records; English left alone."""

from __future__ import annotations

import logging

import pytest

from reelgate._redact import ScrubFilter, Secret, scrub, scrub_json

KEY = "sk-acme-test-0123456789abcdef"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # Authorization schemes, in header lines and in free text.
        ("Authorization: Bearer abcdef123456.xyz", "Authorization: Bearer ***"),
        ("authorization: bearer lowercaseonlytoken", "authorization: bearer ***"),
        ("Authorization: Key 1a2b3c4d-aaaa:0f0f0f0f", "Authorization: Key ***"),
        ("Authorization: Token r8_AbC123xyz", "Authorization: Token ***"),
        ("Authorization: Basic dXNlcjpwYXNz", "Authorization: Basic ***"),
        ("Proxy-Authorization: Basic dXNlcjpwYXNz", "Proxy-Authorization: Basic ***"),
        ("sent Bearer eyJhbGciOi.eyJzdWIi.c2ln to it", "sent Bearer *** to it"),
        ("fal said: Key 0c4f2a1e:9b8d7f6e5d4c rejected", "fal said: Key *** rejected"),
        ("replicate: Token r8_Zk3j2k1LmNoP invalid", "replicate: Token *** invalid"),
        ("Basic dXNlcjpwYXNz is wrong", "Basic *** is wrong"),
        # Key headers written out.
        ("api-key: 0123456789abcdef", "api-key: ***"),
        ("x-goog-api-key: AIzaSyDEADBEEF0123", "x-goog-api-key: ***"),
        ("X-Api-Key=Ab12Cd34Ef56", "X-Api-Key=***"),
        ('{"authorization": "Bearer sk-1"}', '{"authorization": "Bearer ***"}'),
        ("{'api-key': 'plainletters'}", "{'api-key': '***'}"),
        ("(b'x-goog-api-key', b'AIzaSyABC')", "(b'x-goog-api-key', b'***')"),
        ('{"access_token": "ya29.a0Af", "expires_in": 3599}', None),
        # Signed and keyed URLs.
        ("https://x.test/v1/files/a:download?alt=media&key=AIzaSyDEAD", None),
        ("https://s.test/o?X-Amz-Signature=abc123&X-Amz-Credential=AKIA%2F1&a=1", None),
        ("https://s.test/o?X-Amz-Security-Token=IQoJ&X-Goog-Credential=sa%40p", None),
        ("https://s.test/o?X-Goog-Signature=abc123def&x=1", None),
        ("https://f.test/f?_jwt=eyJhbGciOi.payload.sig&other=1", None),
        ("https://b.test/c?sv=2024&sig=deadbeef%3D&se=2030", None),
        ("https://r.test/d?token=t-456", None),
        ("https://r.test/d?api_key=k-123&access_token=t-456", None),
        ("&amp;sig=deadbeef in an HTML page", "&amp;sig=*** in an HTML page"),
        ("b'/v1/x?key=AIzaSyQQ'", "b'/v1/x?key=***'"),
        ("https://user:hunter2@host.test/x", "https://user:***@host.test/x"),
    ],
)
def test_scrub_removes_every_scheme(text: str, expected: str | None) -> None:
    """Every credential scheme, key header and token-bearing URL part becomes ***."""
    cleaned = scrub(text)
    if expected is not None:
        assert cleaned == expected
    assert "***" in cleaned
    for secret in (
        "abcdef123456",
        "dXNlcjpwYXNz",
        "AIzaSy",
        "abc123",
        "AKIA",
        "IQoJ",
        "eyJhbGciOi",
        "deadbeef",
        "t-456",
        "k-123",
        "ya29",
        "hunter2",
        "sa%40p",
    ):
        assert secret not in cleaned


@pytest.mark.parametrize(
    "text",
    [
        "Token expired",
        "Token expired at 2024-01-01",
        "the key was not found",
        "The key is invalid, check the key and try again",
        "Bearer authentication required",
        "Bearer token missing",
        "Basic understanding of the API is assumed",
        "Basic plan does not include 1080p",
        "Invalid token",
        "token limit exceeded: 4096 tokens",
        "api-key: missing",
        "Authorization header is missing",
        "monkey 0123456789abcdef",
        "https://x.test/v1/videos?limit=20&after=video_1&order=desc failed: HTTP 500",
        "https://x.test/keys?keyboard=1&tokens=2",
        "a 429 with Retry-After: 30",
        "",
    ],
)
def test_scrub_leaves_ordinary_text_alone(text: str) -> None:
    """English and harmless URLs come out unchanged."""
    assert scrub(text) == text


def test_scrub_replaces_given_keys_anywhere() -> None:
    """A key passed in is removed wherever it appears; empty ones are ignored."""
    text = f"bad key {KEY}; echo:{KEY}"
    assert scrub(text, [Secret(KEY), ""]) == "bad key ***; echo:***"
    assert scrub(text, [KEY]) == "bad key ***; echo:***"


def test_scrub_is_idempotent() -> None:
    """Scrubbing twice changes nothing more."""
    text = "Authorization: Bearer abc123def456 at https://s.test/o?sig=abc&key=k1234567"
    once = scrub(text)
    assert scrub(once) == once


def test_scrub_json_keeps_the_shape() -> None:
    """scrub_json scrubs inside strings and leaves structure, numbers and None."""
    value = {"echo": KEY, "url": "https://s.test/?sig=abc", "n": 3, "nested": [None, True]}
    assert scrub_json(value, [KEY]) == {
        "echo": "***",
        "url": "https://s.test/?sig=***",
        "n": 3,
        "nested": [None, True],
    }
    assert scrub_json(None) is None


def test_secret_stays_out_of_reprs() -> None:
    """A Secret shows its name, never its value."""
    secret = Secret(KEY, name="ACME_KEY")
    assert KEY not in repr(secret)
    assert KEY not in str(secret)
    assert KEY not in f"{[secret]}"
    assert secret.reveal() == KEY


def test_scrub_filter_rewrites_records() -> None:
    """The filter scrubs a record's formatted message and keeps every record."""
    record = logging.LogRecord(
        "httpx2",
        logging.INFO,
        __file__,
        1,
        "HTTP Request: %s %s",
        ("GET", "https://s/?sig=s3"),
        None,
    )
    assert ScrubFilter().filter(record) is True
    assert record.getMessage() == "HTTP Request: GET https://s/?sig=***"
    plain = logging.LogRecord("x", logging.INFO, __file__, 1, "nothing %s", ("here",), None)
    assert ScrubFilter().filter(plain) is True
    assert (plain.msg, plain.args) == ("nothing %s", ("here",))
    broken = logging.LogRecord("x", logging.INFO, __file__, 1, "%d", ("not a number",), None)
    assert ScrubFilter().filter(broken) is True
