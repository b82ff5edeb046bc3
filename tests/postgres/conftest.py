"""
A real PostgreSQL for the job index's tests, started by the suite itself.

One server per test session, so each pytest-xdist worker (a session of its own) has its
own server on its own port and directory; one fresh schema per test. Without server
binaries on the machine the tests are skipped, saying what to install.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest

psycopg = pytest.importorskip("psycopg", reason="the postgres extra is not installed")

from local_postgres import LocalPostgres, find_bindir, started  # noqa: E402


@pytest.fixture(name="pg_server", scope="session")
def _pg_server() -> Iterator[LocalPostgres]:
    """The PostgreSQL server of this session (worker), stopped and removed at the end."""
    bindir = find_bindir()
    if bindir is None:
        pytest.skip(
            "no PostgreSQL server binaries (initdb, pg_ctl, postgres) on this machine: "
            "install the postgresql package (e.g. apt-get install postgresql)"
        )
    server = started(bindir)
    yield server
    server.cleanup()


@pytest.fixture(name="pg_url")
def _pg_url(pg_server: LocalPostgres) -> Iterator[str]:
    """
    A URL (password included) to an empty schema of its own.

    A schema per test, not a database: CREATE DATABASE costs a second here, a schema
    nothing. The index's tables are unqualified, so ``search_path`` puts them there.
    """
    name = f"t_{uuid.uuid4().hex[:16]}"
    with psycopg.connect(pg_server.url(), autocommit=True) as db:
        db.execute(f'CREATE SCHEMA "{name}"')
    yield f"{pg_server.url()}?options=-csearch_path%3D{name}"
    with psycopg.connect(pg_server.url(), autocommit=True) as db:
        db.execute(f'DROP SCHEMA IF EXISTS "{name}" CASCADE')
