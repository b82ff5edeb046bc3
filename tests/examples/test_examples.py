"""Every script in examples/ runs against the simulator and does what its docstring says."""

from __future__ import annotations

import itertools
import os
import re
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"

#: Every example this module runs; a new example needs a test here.
TESTED = {
    "custom_provider.py",
    "embed_gateway.py",
    "generate.py",
    "list_jobs.py",
    "sync_generate.py",
}


#: Runs an example with arguments and returns what it printed.
Run = Callable[..., str]


@pytest.fixture(name="run")
def _run(tmp_path: Path) -> Run:
    """Run an example in a fresh working directory with its own state directory."""
    workdir = tmp_path / "work"
    workdir.mkdir()
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("REELGATE_CONFIG", "REELGATE_PLUGINS", "REELGATE_DISABLE_PLUGINS")
    }
    env["REELGATE_STATE_DIR"] = str(tmp_path / "state")
    env["XDG_CONFIG_HOME"] = str(tmp_path / "config")
    # The examples need only the built-in simulator; other plugins, working or not,
    # must not change what they print.
    env["REELGATE_PLUGINS"] = "sim"

    def run(name: str, *args: str) -> str:
        done = subprocess.run(
            [sys.executable, str(EXAMPLES / name), *args],
            cwd=workdir,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert done.returncode == 0, done.stderr
        assert done.stderr == ""
        assert list(workdir.iterdir()) == [], "examples write only where they are told"
        return done.stdout

    return run


def _is_mp4(path: Path) -> bool:
    return path.read_bytes()[4:8] == b"ftyp"


def test_every_example_is_tested() -> None:
    """Each script in examples/ is run by a test in this module."""
    assert {p.name for p in EXAMPLES.glob("*.py")} == TESTED


@pytest.mark.parametrize("backend", ["asyncio", "trio"])
def test_generate_writes_an_mp4_with_rising_progress(
    run: Run, tmp_path: Path, backend: str
) -> None:
    """generate.py waits with rising progress and writes the MP4 where it is told."""
    out = tmp_path / "boat.mp4"
    stdout = run("generate.py", str(out), "--backend", backend)
    assert re.match(r"created \S+:sim\n", stdout)
    progress = [float(p) for p in re.findall(r"^\s+\w+\s+([\d.]+)%$", stdout, re.MULTILINE)]
    assert progress[-1] == 100
    assert all(a <= b for a, b in itertools.pairwise(progress))
    assert stdout.rstrip().endswith(f"wrote {out} ({out.stat().st_size} bytes)")
    assert _is_mp4(out)


def test_sync_generate_writes_the_video_and_its_thumbnail(run: Run, tmp_path: Path) -> None:
    """sync_generate.py downloads the video to a file and streams the WebP thumbnail."""
    folder = tmp_path / "out"
    stdout = run("sync_generate.py", str(folder))
    assert "(completed)" in stdout
    assert _is_mp4(folder / "lighthouse.mp4")
    thumb = (folder / "thumb.webp").read_bytes()
    assert thumb[:4] == b"RIFF"
    assert thumb[8:12] == b"WEBP"
    assert "(image/webp)" in stdout


def test_list_jobs_pages_through_the_index(run: Run) -> None:
    """list_jobs.py sees five jobs in three pages, newest first, and a bad limit refused."""
    stdout = run("list_jobs.py")
    assert stdout.splitlines() == [
        "created 5 jobs",
        "page 1: ['scene 4', 'scene 3'] has_more=True",
        "page 2: ['scene 2', 'scene 1'] has_more=True",
        "page 3: ['scene 0'] has_more=False",
        "iter_videos saw 5 of them, oldest first: True",
        "refused: limit must be an integer from 1 to 100; got 0 (param=limit, HTTP 400)",
    ]


def test_list_jobs_lists_earlier_runs_too(run: Run) -> None:
    """A second run of list_jobs.py also lists the first run's jobs: the index persists."""
    run("list_jobs.py")
    stdout = run("list_jobs.py")
    assert "page 5: ['scene 1', 'scene 0'] has_more=False" in stdout.splitlines()


def test_embed_gateway_uses_two_instances_idempotency_and_fallbacks(run: Run) -> None:
    """embed_gateway.py builds its own gateway: two instances, one job per key, a fallback."""
    lines = run("embed_gateway.py").splitlines()
    assert lines[:3] == [
        "drafts: type sim, can create, delete, download, remix, retrieve",
        "finals: type sim, can create, delete, download, remix, retrieve",
        "offline: type x, can create",
    ]
    assert re.fullmatch(r"\S+:drafts is completed", lines[3])
    assert re.fullmatch(r"\S+:finals is completed", lines[4])
    assert lines[5:] == ["idempotent: True", "fallback used: drafts"]


def test_custom_provider_is_used_like_any_other(run: Run, tmp_path: Path) -> None:
    """custom_provider.py registers flipbook by hand and creates, downloads and lists with it."""
    out = tmp_path / "flip.mp4"
    lines = run("custom_provider.py", str(out)).splitlines()
    assert lines[0] == "flipbook can: create, delete, download, retrieve"
    assert re.fullmatch(r"flip_[0-9a-f]+:flipbook is completed", lines[1])
    assert lines[2] == f"wrote {out} ({out.stat().st_size} bytes)"
    assert lines[3] == "remix: video_remix is not supported by flipbook provider (HTTP 400)"
    assert lines[4] == "listed from the job index: True"
    assert _is_mp4(out)
