"""Caller-supplied URLs are fetched only from public addresses (issue 10, item 9)."""

from __future__ import annotations

import pytest

from reelgate import outbound
from reelgate.errors import InvalidRequestError


@pytest.mark.parametrize(
    "address",
    [
        "127.0.0.1",
        "10.1.2.3",
        "192.168.0.1",
        "172.16.0.1",
        "169.254.169.254",
        "::1",
        "fe80::1",
        "fd00::1",
        "0.0.0.0",  # noqa: S104  # an address refused, not one bound
        "::ffff:127.0.0.1",
        "224.0.0.1",
        "100.64.0.1",
    ],
)
def test_addresses_that_are_not_public(address: str) -> None:
    """Private, loopback, link-local, shared, multicast and mapped loopback are not public."""
    assert not outbound.is_public_address(address)


@pytest.mark.parametrize("address", ["8.8.8.8", "2001:4860:4860::8888", "151.101.1.69"])
def test_public_addresses(address: str) -> None:
    """Global unicast addresses are public."""
    assert outbound.is_public_address(address)


@pytest.mark.anyio
@pytest.mark.parametrize(
    "url",
    [
        "https://127.0.0.1/cat.png",
        "https://localhost:8080/cat.png",
        "http://169.254.169.254/latest/meta-data/",
        "https://[::1]:443/x",
        "https://10.0.0.1/x",
        "ftp://8.8.8.8/x",
        "https://no-such-host.invalid/x",
        "https://[bad/x",
        "https:///x",
    ],
)
async def test_refusals_all_read_the_same(url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """Every refusal is one text: no oracle for what listens where."""
    monkeypatch.delenv(outbound.ALLOW_PRIVATE_ENV, raising=False)
    with pytest.raises(InvalidRequestError) as caught:
        await outbound.check_fetchable(url, "input_reference")
    assert caught.value.message == outbound.FETCH_FAILED.format(param="input_reference")
    assert caught.value.param == "input_reference"


@pytest.mark.anyio
async def test_a_public_address_passes(monkeypatch: pytest.MonkeyPatch) -> None:
    """A URL on a public address literal is let through (no DNS needed)."""
    monkeypatch.delenv(outbound.ALLOW_PRIVATE_ENV, raising=False)
    await outbound.check_fetchable("https://8.8.8.8/cat.png", "input_reference")


@pytest.mark.anyio
async def test_private_urls_allowed_when_configured(monkeypatch: pytest.MonkeyPatch) -> None:
    """The environment switch and the process-wide setting both let private URLs through."""
    monkeypatch.setenv(outbound.ALLOW_PRIVATE_ENV, "1")
    await outbound.check_fetchable("https://127.0.0.1/cat.png", "input_reference")
    monkeypatch.delenv(outbound.ALLOW_PRIVATE_ENV)
    outbound.allow_private_urls(True)
    try:
        await outbound.check_fetchable("https://127.0.0.1/cat.png", "input_reference")
    finally:
        outbound.allow_private_urls(False)
    with pytest.raises(InvalidRequestError):
        await outbound.check_fetchable("https://127.0.0.1/cat.png", "input_reference")
