"""The reelgate command: output, exit codes, and one-line errors."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from reelgate.cli import main

FAST = ["--param", "sim_duration=0.3"]


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    """Run the command in-process; return its exit code, stdout and stderr."""
    with pytest.raises(SystemExit) as exited:
        main(list(args))
    captured = capsys.readouterr()
    code = exited.value.code
    return (code if isinstance(code, int) else 0), captured.out, captured.err


def test_generate_writes_a_playable_mp4(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    """generate creates, waits, downloads, and prints the path of a real MP4."""
    target = tmp_path / "boat.mp4"
    code, out, err = run(capsys, "generate", "a paper boat", *FAST, "-o", str(target))
    assert code == 0, err
    assert out.strip() == str(target)
    assert target.read_bytes()[4:8] == b"ftyp"
    assert "completed 100%" in err


def test_generate_json(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    """generate --json prints the finished video and the path as JSON."""
    code, out, _ = run(capsys, "generate", "a boat", *FAST, "-o", str(tmp_path / "b.mp4"), "--json")
    assert code == 0
    body = json.loads(out)
    assert body["video"]["status"] == "completed"
    assert body["video"]["id"].endswith(":sim")
    assert Path(body["path"]).exists()


def test_failed_job_exits_1(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    """A job that fails exits 1 with one line saying why, and writes nothing."""
    code, _, err = run(
        capsys,
        "generate",
        "x",
        *FAST,
        "--param",
        "sim_outcome=failed",
        "-o",
        str(tmp_path / "x.mp4"),
    )
    assert code == 1
    assert err.strip().splitlines()[-1].startswith("error: video ")
    assert "failed" in err
    assert not list(tmp_path.iterdir())


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["get", "bad"], "video_id must be in id:provider format"),
        (["get", "abc:nosuch"], "no video 'abc:nosuch'"),
        (["list", "--provider", "sim", "--limit", "0"], "limit must be an integer from 1 to 100"),
        (["list", "--provider", "sim", "--limit", "101"], "limit must be an integer from 1 to 100"),
        (["list", "--provider", "sim", "--limit", "x"], "limit must be an integer from 1 to 100"),
        (["list", "--provider", "sim", "--order", "sideways"], "order must be asc or desc"),
        (["list", "--provider", "nosuch"], "unknown provider 'nosuch'"),
        (["generate", "", "-o", "x.mp4"], "prompt cannot be empty"),
        (["generate", "x", "--model", "noprefix", "-o", "x.mp4"], "provider/model format"),
        (["generate", "x", "--model", "nosuch/m", "-o", "x.mp4"], "unknown provider 'nosuch'"),
        (["generate", "x", "--image", "/etc/hostname", "-o", "x.mp4"], "not an image"),
        (
            ["generate", "x", "--image", "/no/such/file.png", "-o", "x.mp4"],
            "cannot read input_reference",
        ),
        (["generate", "x", "--size", "big", "-o", "x.mp4"], "size must be WIDTHxHEIGHT"),
        (["download", "abc:sim", "--variant", "poster"], "variant must be one of"),
    ],
)
def test_invalid_requests_exit_2_with_one_line(
    capsys: pytest.CaptureFixture[str], args: list[str], message: str
) -> None:
    """Each bad input is exit 2 and one readable line, never a traceback."""
    code, _, err = run(capsys, *args)
    assert code == 2
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("error: ")
    assert message in lines[0]
    assert "Traceback" not in err


def test_json_errors_carry_the_wire_body(capsys: pytest.CaptureFixture[str]) -> None:
    """With --json, an error also prints the wire's error body on stdout."""
    code, out, _ = run(capsys, "get", "bad", "--json")
    assert code == 2
    body = json.loads(out)
    assert body["status_code"] == 400
    assert body["is_bifrost_error"] is True
    assert "id:provider" in body["error"]["message"]


def test_unknown_job_is_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    """A well-formed id of no job is a not-found error: exit 2."""
    code, _, err = run(capsys, "get", "sim_0_0_c_0_000000_0000:sim")
    assert code == 2
    assert "no video" in err


def test_lifecycle_across_processes(tmp_path: Path) -> None:
    """create in one process; get, wait, list, download, remix, delete in the next ones."""
    env = {**os.environ, "REELGATE_STATE_DIR": str(tmp_path / "state")}

    def cli(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "reelgate.cli", *args],
            env=env,
            capture_output=True,
            text=True,
            check=False,
        )

    created = cli("create", "a paper boat", *FAST, "--json")
    assert created.returncode == 0, created.stderr
    video_id = json.loads(created.stdout)["id"]
    got = cli("get", video_id, "--json")
    assert json.loads(got.stdout)["prompt"] == "a paper boat"
    waited = cli("wait", video_id, "--json", "-q")
    assert json.loads(waited.stdout)["status"] == "completed"
    listed = cli("list", "--provider", "sim", "--json")
    assert [v["id"] for v in json.loads(listed.stdout)["data"]] == [video_id]
    table = cli("list", "--provider", "sim", "--all")
    assert video_id in table.stdout
    downloaded = cli("download", video_id, "-o", str(tmp_path / "v.mp4"), "-q")
    assert downloaded.returncode == 0, downloaded.stderr
    assert (tmp_path / "v.mp4").read_bytes()[4:8] == b"ftyp"
    thumb = cli(
        "download", video_id, "--variant", "thumbnail", "-o", str(tmp_path / "t.webp"), "-q"
    )
    assert thumb.returncode == 0
    assert (tmp_path / "t.webp").read_bytes()[8:12] == b"WEBP"
    remixed = cli("remix", video_id, "at night", "--json")
    assert json.loads(remixed.stdout)["remixed_from_video_id"] == video_id
    deleted = cli("delete", video_id, "--json")
    assert json.loads(deleted.stdout) == {
        "id": video_id,
        "object": "video.deleted",
        "deleted": True,
        "upstream": "deleted",
    }
    gone = cli("get", video_id)
    assert gone.returncode == 2
    assert "no video" in gone.stderr


def test_providers_lists_sim_and_plugin_failures(capsys: pytest.CaptureFixture[str]) -> None:
    """providers shows the simulator and what it implements (its list is the index's)."""
    code, out, _ = run(capsys, "providers", "--json")
    assert code == 0
    info = json.loads(out)
    sim = next(p for p in info["providers"] if p["name"] == "sim")
    assert sim["capabilities"] == ["create", "delete", "download", "remix", "retrieve"]
    assert sim["keys"] == []
    assert sim["needs_key"] is False
    assert info["plugin_errors"] == []


def test_broken_config_is_one_line(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    """A configuration with a literal key is refused in one line, exit 2, key not echoed."""
    config = tmp_path / "reelgate.toml"
    config.write_text('[providers.openai]\ntype = "openai"\napi_key = "sk-literal-secret"\n')
    code, _, err = run(capsys, "--config", str(config), "providers")
    assert code == 2
    assert "api_key_env" in err
    assert "sk-literal-secret" not in err
