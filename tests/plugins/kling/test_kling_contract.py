"""The Kling plugin passes the provider contract against its emulator."""

from __future__ import annotations

from typing import Any

import pytest
from kling_support import claims

import reelgate_kling
from reelgate.testing import KEY_A, KEY_B, Harness, ProviderContract
from reelgate_kling import sign_jwt
from reelgate_kling.emulator import DEFAULT_SECRET, create_app

SECRET_ENV = "REELGATE_KLING_CONTRACT_SECRET"


class TestKlingContract(ProviderContract):
    """Kling, in-process and over loopback HTTP; the contract's keys are access keys."""

    provider_type = "kling"
    model = "kling-v2-5-turbo"

    @pytest.fixture(autouse=True)
    def _secret_key(self, monkeypatch: pytest.MonkeyPatch) -> None:
        monkeypatch.setenv(SECRET_ENV, DEFAULT_SECRET)

    def plugin(self) -> object:
        return reelgate_kling

    def emulator(self) -> Any:
        return create_app(job_seconds=0.1)

    def settings(self, base_url: str) -> dict[str, Any]:
        return {"base_url": base_url, "secret_key_env": SECRET_ENV}

    def retrieve_request(self) -> tuple[str, str | None]:
        """Tasks are read with ``GET /v1/videos/{endpoint}/{task_id}``."""
        return "GET", r"^/v1/videos/(text2video|image2video)/[^/]+$"

    def create_path_pattern(self) -> str | None:
        """Creates go to ``POST /v1/videos/text2video`` (or image2video)."""
        return r"^/v1/videos/(text2video|image2video)$"

    def download_path_pattern(self) -> str | None:
        """Videos are served by the CDN under ``/kcdn/``."""
        return r"^/kcdn/"

    def leak_markers(self) -> tuple[str, ...]:
        """
        Kling sends a signed JWT, never the key: its header segment marks every token.

        Every token the plugin signs begins with the same HS256 header, and one that
        reached the CDN would carry it; the raw keys (access and secret) must not go there
        either.
        """
        header = sign_jwt(KEY_A, DEFAULT_SECRET, 0.0).split(".", 1)[0]
        return (KEY_A, KEY_B, DEFAULT_SECRET, header)

    def unknown_native_id(self) -> str:
        """A task id Kling never issued."""
        return "999999999999999999"

    @ProviderContract.override
    async def test_jobs_keep_the_key_that_created_them(self, harness: Harness) -> None:
        """Polls use the access key that created the job: the ``iss`` of its signed token."""
        faults = harness.require_faults()
        first = await harness.gateway.create(harness.request("one"))
        second = await harness.gateway.create(harness.request("two"))
        faults.seen.clear()
        await harness.gateway.retrieve(first.id)
        await harness.gateway.retrieve(second.id)
        used = [claims(r.headers["authorization"])["iss"] for r in faults.seen]
        assert used == [KEY_A, KEY_B]
        assert all(
            KEY_A not in v and KEY_B not in v for r in faults.seen for v in r.headers.values()
        )
