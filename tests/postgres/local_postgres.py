"""
A throwaway PostgreSQL server for the tests and the benchmark.

It uses the machine's server binaries (``$REELGATE_TEST_PG_BINDIR``, ``pg_config
--bindir``, ``/usr/lib/postgresql/*/bin``, ``initdb`` on PATH), else those the ``pgserver``
wheel bundles when it is installed: ``initdb`` into a fresh temporary directory, then
``pg_ctl start`` on a free port of 127.0.0.1 with its unix socket inside that directory,
so several servers (one per pytest-xdist worker) never meet. PostgreSQL refuses to run
as root; as root the data directory is handed to the ``postgres`` user (or ``nobody``)
and the binaries run as that user through ``runuser``.

Connections need the superuser's password (scram), so tests can show a password never
reaches an error message.
"""

from __future__ import annotations

import contextlib
import importlib.util
import os
import pwd
import secrets
import shutil
import socket
import subprocess
import tempfile
from pathlib import Path
from urllib.parse import quote

__all__ = ["LocalPostgres", "find_bindir", "started"]

USER = "reelgate"


def find_bindir() -> Path | None:
    """The directory holding ``initdb``, ``pg_ctl`` and ``postgres``, or None."""
    candidates: list[Path] = []
    if forced := os.environ.get("REELGATE_TEST_PG_BINDIR"):
        candidates.append(Path(forced))
    if pg_config := shutil.which("pg_config"):
        with contextlib.suppress(OSError, subprocess.CalledProcessError):
            out = subprocess.run(
                [pg_config, "--bindir"], capture_output=True, text=True, check=True, timeout=10
            )
            candidates.append(Path(out.stdout.strip()))
    candidates += sorted(Path("/usr/lib/postgresql").glob("*/bin"), reverse=True)
    if initdb := shutil.which("initdb"):
        candidates.append(Path(initdb).resolve().parent)
    # Where the machine has no server: the one the pgserver wheel bundles, if installed.
    if (spec := importlib.util.find_spec("pgserver")) is not None and spec.origin:
        candidates.append(Path(spec.origin).parent / "pginstall" / "bin")
    for bindir in candidates:
        if all((bindir / name).is_file() for name in ("initdb", "pg_ctl", "postgres")):
            return bindir
    return None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def _unprivileged_user() -> str | None:
    """The user to run the server as when we are root; None when we are not."""
    if os.geteuid() != 0:
        return None
    for name in ("postgres", "nobody"):
        with contextlib.suppress(KeyError):
            pwd.getpwnam(name)
            return name
    raise RuntimeError("running as root and no postgres or nobody user to run PostgreSQL as")


class LocalPostgres:
    """
    One PostgreSQL server in a temporary directory.

    Args:
        bindir: The server binaries.
    """

    def __init__(self, bindir: Path) -> None:
        self.bindir = bindir
        self.password = secrets.token_hex(12)
        self.port = _free_port()
        self.host = "127.0.0.1"
        self._user = _unprivileged_user()
        # Not under pytest's tmp dirs: those are private to root, and the server's user
        # must be able to reach its directory.
        self.root = Path(tempfile.mkdtemp(prefix="reelgate-pg-"))
        self.data = self.root / "data"
        self.socket_dir = self.root / "run"
        self.log = self.root / "server.log"

    def _run(self, *args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
        command = list(args)
        if self._user is not None:
            command = ["runuser", "-u", self._user, "--", *command]
        result = subprocess.run(
            command, capture_output=True, text=True, timeout=timeout, check=False
        )
        if result.returncode != 0:
            raise RuntimeError(f"{args[0]} failed: {result.stdout}{result.stderr}")
        return result

    def init(self) -> None:
        """Create the cluster (``initdb``)."""
        self.socket_dir.mkdir()
        pwfile = self.root / "pw"
        pwfile.write_text(self.password)
        if self._user is not None:
            entry = pwd.getpwnam(self._user)
            for path in (self.root, self.socket_dir, pwfile):
                os.chown(path, entry.pw_uid, entry.pw_gid)
        self._run(
            str(self.bindir / "initdb"),
            "-D",
            str(self.data),
            "-U",
            USER,
            f"--pwfile={pwfile}",
            "--auth-host=scram-sha-256",
            "--auth-local=scram-sha-256",
            "-E",
            "UTF8",
            "--no-sync",
        )
        pwfile.unlink()

    def start(self) -> None:
        """Start the server and wait until it accepts connections."""
        options = (
            f"-p {self.port} -c listen_addresses=127.0.0.1 "
            f"-c unix_socket_directories={self.socket_dir} -c fsync=off "
            "-c synchronous_commit=off -c full_page_writes=off -c max_connections=200"
        )
        self._run(
            str(self.bindir / "pg_ctl"),
            "-D",
            str(self.data),
            "-l",
            str(self.log),
            "-o",
            options,
            "-w",
            "-t",
            "60",
            "start",
            timeout=90,
        )

    def stop(self, mode: str = "fast") -> None:
        """Stop the server (``fast`` ends sessions; ``immediate`` is a crash)."""
        self._run(str(self.bindir / "pg_ctl"), "-D", str(self.data), "-m", mode, "-w", "stop")

    def cleanup(self) -> None:
        """Stop the server if it runs, and remove its directory."""
        with contextlib.suppress(RuntimeError, subprocess.TimeoutExpired):
            self.stop("immediate")
        shutil.rmtree(self.root, ignore_errors=True)

    def url(self, database: str = "postgres", *, password: bool = True) -> str:
        """A ``postgresql://`` URL for a database of this server, over TCP."""
        secret = f":{quote(self.password)}" if password else ""
        return f"postgresql://{USER}{secret}@{self.host}:{self.port}/{database}"


def started(bindir: Path) -> LocalPostgres:
    """A new server, initialised and running (cleaned up again when start fails)."""
    server = LocalPostgres(bindir)
    try:
        server.init()
        server.start()
    except BaseException:
        server.cleanup()
        raise
    return server
