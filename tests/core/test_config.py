"""Configuration: reelgate.toml, where it is found, and where state lives."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from reelgate.config import (
    Config,
    IndexConfig,
    InstanceConfig,
    Secret,
    find_config_file,
    load_config,
    parse_config,
    state_dir,
)
from reelgate.errors import ConfigurationError

EXAMPLE = """
[index]
path = "~/jobs.sqlite3"

[providers.openai]
type = "openai"
api_key_env = "OPENAI_API_KEY"

[providers.my-sora]
type = "openai"
base_url = "http://127.0.0.1:8090/v1"
api_key_env = ["SORA_KEY_A", "SORA_KEY_B"]
timeouts = { read = 120 }
retry = { attempts = 5 }

[gateway]
default_instances = false
"""


def test_the_documented_example_parses(tmp_path: Path) -> None:
    """The example of the module docstring gives instances, keys, settings and the index."""
    path = tmp_path / "reelgate.toml"
    path.write_text(EXAMPLE)
    config = load_config(path)
    assert config.source == path
    assert config.default_instances is False
    assert config.index == IndexConfig(kind="sqlite", path=Path.home() / "jobs.sqlite3")
    openai, sora = config.instances
    assert openai == InstanceConfig(name="openai", type="openai", key_env=("OPENAI_API_KEY",))
    assert sora.name == "my-sora"
    assert sora.type == "openai"
    assert sora.key_env == ("SORA_KEY_A", "SORA_KEY_B")
    assert sora.settings == {
        "base_url": "http://127.0.0.1:8090/v1",
        "timeouts": {"read": 120},
        "retry": {"attempts": 5},
    }


def test_empty_configuration() -> None:
    """No sections: no instances, the SQLite index at its default place, defaults on."""
    assert parse_config({}) == Config()
    assert Config().index == IndexConfig(kind="sqlite", path=None)


def test_type_defaults_to_the_instance_name() -> None:
    """[providers.sim] with no type is of type sim."""
    (instance,) = parse_config({"providers": {"sim": {"duration": 1}}}).instances
    assert (instance.name, instance.type, instance.settings) == ("sim", "sim", {"duration": 1})


def test_memory_index() -> None:
    """kind = memory asks for an in-memory index."""
    assert parse_config({"index": {"kind": "memory"}}).index.kind == "memory"


@pytest.mark.parametrize("forbidden", ["api_key", "api_keys", "key", "keys"])
def test_literal_keys_are_refused(forbidden: str) -> None:
    """A key written into the file is refused, without repeating it."""
    secret = "sk-live-do-not-echo-0123456789"
    with pytest.raises(ConfigurationError, match="api_key_env") as e:
        parse_config({"providers": {"openai": {forbidden: secret}}})
    assert f"providers.openai.{forbidden}" in e.value.message
    assert secret not in e.value.message
    assert secret not in repr(e.value)


@pytest.mark.parametrize("value", ["", [""], [1], 5, ["A", None], {"A": 1}])
def test_bad_api_key_env_is_refused(value: Any) -> None:
    """api_key_env is a variable name or a list of them."""
    with pytest.raises(ConfigurationError, match=r"providers\.openai"):
        parse_config({"providers": {"openai": {"api_key_env": value}}})


@pytest.mark.parametrize(
    ("data", "match"),
    [
        ({"provider": {}}, "unknown section"),
        ({"providers": {"openai": "sk"}}, "providers.openai must be a table"),
        ({"providers": {"bad name": {}}}, "providers.bad name"),
        ({"providers": {"-x": {}}}, "providers.-x"),
        ({"index": {"kind": "redis"}}, "index.kind must be sqlite, memory or postgres"),
    ],
)
def test_invalid_documents_are_configuration_errors(data: dict[str, Any], match: str) -> None:
    """Unknown sections, non-tables, bad instance names and index kinds are refused."""
    with pytest.raises(ConfigurationError, match=match):
        parse_config(data)


@pytest.mark.parametrize(
    "data",
    [
        {"providers": 5},
        {"providers": ["openai"]},
        {"index": "memory"},
        {"index": {"path": 5}},
        {"index": {"pth": "~/jobs.sqlite3"}},
        {"gateway": {"default_instance": False}},
        {"gateway": {"default_instances": "false"}},
        {"gateway": []},
    ],
)
def test_malformed_sections_are_configuration_errors(data: dict[str, Any]) -> None:
    """Sections of the wrong shape, misspelt keys and non-boolean switches are refused."""
    with pytest.raises(ConfigurationError):
        parse_config(data)


def test_bad_toml_is_a_configuration_error(tmp_path: Path) -> None:
    """A file that is not TOML names itself in the error."""
    path = tmp_path / "reelgate.toml"
    path.write_text("[providers.openai\ntype = ")
    with pytest.raises(ConfigurationError, match="is not valid TOML") as e:
        load_config(path)
    assert str(path) in e.value.message


def test_unreadable_file_is_a_configuration_error(tmp_path: Path) -> None:
    """A missing explicit file is an error, not an empty configuration."""
    with pytest.raises(ConfigurationError, match="cannot read"):
        load_config(tmp_path / "missing.toml")
    with pytest.raises(ConfigurationError, match="cannot read"):
        load_config(tmp_path)


def test_no_file_anywhere_is_an_empty_configuration() -> None:
    """With no file to be found, the configuration is empty."""
    assert find_config_file() is None
    assert load_config() == Config()


def test_reelgate_config_wins(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """$REELGATE_CONFIG names the file, even over ./reelgate.toml."""
    explicit = tmp_path / "elsewhere.toml"
    explicit.write_text('[index]\nkind = "memory"\n')
    Path("reelgate.toml").write_text("")
    monkeypatch.setenv("REELGATE_CONFIG", str(explicit))
    assert find_config_file() == explicit
    assert load_config().index.kind == "memory"


def test_reelgate_config_expands_the_home(monkeypatch: pytest.MonkeyPatch) -> None:
    """A ~ in $REELGATE_CONFIG is the user's home."""
    monkeypatch.setenv("REELGATE_CONFIG", "~/conf/reelgate.toml")
    assert find_config_file() == Path.home() / "conf" / "reelgate.toml"


def test_a_file_in_the_working_directory(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """./reelgate.toml is found, before the user's config directory."""
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg"))
    user = tmp_path / "xdg" / "reelgate" / "reelgate.toml"
    user.parent.mkdir(parents=True)
    user.write_text("")
    assert find_config_file() == user
    Path("reelgate.toml").write_text("")
    assert find_config_file() == Path("reelgate.toml")


def test_state_dir_follows_the_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """$REELGATE_STATE_DIR, else $XDG_STATE_HOME/reelgate, else ~/.local/state/reelgate."""
    monkeypatch.setenv("REELGATE_STATE_DIR", str(tmp_path / "state"))
    assert state_dir() == tmp_path / "state"
    monkeypatch.setenv("REELGATE_STATE_DIR", "~/st")
    assert state_dir() == Path.home() / "st"
    monkeypatch.delenv("REELGATE_STATE_DIR")
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "xdg-state"))
    assert state_dir() == tmp_path / "xdg-state" / "reelgate"
    monkeypatch.delenv("XDG_STATE_HOME")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert state_dir() == tmp_path / "home" / ".local" / "state" / "reelgate"


def test_secrets_never_show() -> None:
    """A Secret shows its name, never its value, in repr, str and f-strings."""
    secret = Secret("sk-live-0123456789", name="OPENAI_API_KEY")
    for text in (repr(secret), str(secret), f"{secret}", repr([secret])):
        assert "sk-live" not in text
        assert "OPENAI_API_KEY" in text
    assert secret.reveal() == "sk-live-0123456789"


def test_a_relative_index_path_is_beside_the_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A relative index path means the same file wherever reelgate runs from."""
    conf = tmp_path / "conf"
    conf.mkdir()
    (conf / "reelgate.toml").write_text('[index]\npath = "state/jobs.sqlite3"\n')
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    assert load_config(conf / "reelgate.toml").index.path == conf / "state" / "jobs.sqlite3"
    assert parse_config({"index": {"path": "jobs.db"}}).index.path == Path("jobs.db")
