"""Choosing the PostgreSQL index: the URL variable, reelgate.toml, and a gateway on it."""

from __future__ import annotations

from pathlib import Path

import pytest

import reelgate.sim
from reelgate import ConfigurationError, CreateVideo, Gateway
from reelgate.config import IndexConfig, parse_config
from reelgate.plugins import Plugins
from reelgate.postgres import PostgresJobIndex
from reelgate.store import MemoryJobIndex

pytestmark = pytest.mark.anyio

URL = "postgresql://jobs@db.internal:5432/reelgate"


def test_the_default_variable_selects_postgres() -> None:
    """REELGATE_INDEX_URL (postgresql:// or postgres://) selects PostgreSQL."""
    index = parse_config({}).index
    assert index.url({}) is None
    assert index.url({"REELGATE_INDEX_URL": URL}) == URL
    short = "postgres://db/reelgate"
    assert index.url({"REELGATE_INDEX_URL": short}) == short


def test_url_env_names_the_variable() -> None:
    """[index] url_env names another variable; the default one is then not read."""
    index = parse_config({"index": {"url_env": "JOBS_DB"}}).index
    assert index == IndexConfig(url_env="JOBS_DB")
    assert index.url({"JOBS_DB": URL, "REELGATE_INDEX_URL": "postgresql://other/x"}) == URL
    with pytest.raises(ConfigurationError, match=r"\$JOBS_DB, which is not set"):
        index.url({"REELGATE_INDEX_URL": URL})


def test_kind_postgres_needs_a_url_and_memory_ignores_one() -> None:
    """kind = "postgres" without a URL is an error; kind = "memory" stays in memory."""
    with pytest.raises(ConfigurationError, match=r"\$REELGATE_INDEX_URL, which is not set"):
        parse_config({"index": {"kind": "postgres"}}).index.url({})
    memory = parse_config({"index": {"kind": "memory"}}).index
    assert memory.url({"REELGATE_INDEX_URL": URL}) is None


@pytest.mark.parametrize(
    ("table", "message"),
    [
        ({"url": "postgresql://u:hunter2@db/x"}, "never written in the configuration"),
        ({"url_env": "postgresql://u:hunter2@db/x"}, "never the URL itself"),
        ({"url_env": ["A"]}, "must name the environment variable"),
        ({"kind": "sqlite", "url_env": "JOBS_DB"}, "url_env is for PostgreSQL"),
        ({"kind": "mysql"}, "sqlite, memory or postgres"),
    ],
)
def test_urls_are_never_written_in_the_file(table: dict[str, object], message: str) -> None:
    """A URL in reelgate.toml (where a password would sit) is refused, and not repeated."""
    with pytest.raises(ConfigurationError, match=message) as e:
        parse_config({"index": table})
    assert "hunter2" not in str(e.value)


def test_a_variable_holding_something_else_is_refused() -> None:
    """A URL variable holding no postgresql:// URL is a ConfigurationError."""
    with pytest.raises(ConfigurationError, match="must hold a postgresql:// URL"):
        IndexConfig().url({"REELGATE_INDEX_URL": "sqlite:///jobs.db"})


def _sim_plugins() -> Plugins:
    plugins = Plugins()
    plugins.register(reelgate.sim, name="sim")
    return plugins


async def test_two_gateways_share_one_postgres_index(
    pg_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """from_config picks PostgreSQL from url_env; a job created on one replica is the other's."""
    monkeypatch.setenv("JOBS_DB", pg_url)
    config = tmp_path / "reelgate.toml"
    config.write_text(
        '[index]\nurl_env = "JOBS_DB"\n[providers.fast]\ntype = "sim"\nduration = 0\n'
    )
    async with (
        Gateway.from_config(config, plugins=_sim_plugins()) as one,
        Gateway.from_config(config, plugins=_sim_plugins()) as two,
    ):
        assert isinstance(one.index, PostgresJobIndex)
        video = await one.create(
            CreateVideo(model="fast/sim-1", prompt="p", idempotency_key="k"), owner="alice"
        )
        assert (await two.retrieve(video.id, owner="alice")).id == video.id
        page = await two.list("fast", owner="alice")
        assert [v.id for v in page.data] == [video.id]
        again = await two.create(
            CreateVideo(model="fast/sim-1", prompt="p", idempotency_key="k"), owner="alice"
        )
        assert again.id == video.id
        await two.delete(video.id, owner="alice")
        assert not (await one.list("fast", owner="alice")).data


async def test_memory_kind_stays_in_memory(monkeypatch: pytest.MonkeyPatch) -> None:
    """An explicit in-memory index is not replaced by a URL in the environment."""
    monkeypatch.setenv("REELGATE_INDEX_URL", URL)
    config = parse_config({"index": {"kind": "memory"}})
    async with Gateway.from_config(config, plugins=_sim_plugins()) as gw:
        assert isinstance(gw.index, MemoryJobIndex)
