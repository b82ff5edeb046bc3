"""
Every development task: ``nox -s demo``, ``tests``, ``genai3``, ``lint``, ``typing``, ``docs``,
``bench``.

Sessions install the distributions from this checkout as built wheels (not editable), so
the tests exercise what users install.
"""

from __future__ import annotations

from pathlib import Path

import nox

nox.options.sessions = ["tests", "lint", "typing", "docs"]
nox.options.reuse_existing_virtualenvs = True

ROOT = Path(__file__).parent
PYPROJECT = nox.project.load_toml(ROOT / "pyproject.toml")
PLUGINS = sorted(p.parent for p in (ROOT / "plugins").glob("*/pyproject.toml"))


def _plugin_requirements() -> list[str]:
    return [
        f"{p}[emulator]" if "emulator" in p.joinpath("pyproject.toml").read_text() else str(p)
        for p in PLUGINS
    ]


def install_everything(session: nox.Session, *groups: str) -> None:
    """The core with its extras, every plugin, and the given dependency groups."""
    session.install(f"{ROOT / 'core'}[cli,server,emulator]", *_plugin_requirements())
    for group in groups:
        session.install(*nox.project.dependency_groups(PYPROJECT, group))


@nox.session
def demo(session: nox.Session) -> None:
    """Generate a video end to end through the built-in simulator: boat.mp4."""
    session.install(f"{ROOT / 'core'}[cli]")
    session.run("reelgate", "generate", "a paper boat", "--model", "sim/sim-1", "-o", "boat.mp4")


@nox.session
def tests(session: nox.Session) -> None:
    """Every package's tests, under asyncio and trio, on two workers (``-- -n 0``: one)."""
    install_everything(session, "test")
    # Any exit status but 0 fails the session, 5 (no tests collected) included.
    session.run("pytest", "-n", "2", *session.posargs)


@nox.session
def genai3(session: nox.Session) -> None:
    """google-genai 3.x (which cannot sit beside 2.x): the /genai door and the gemini plugin."""
    install_everything(session, "test")
    session.install("google-genai>=3,<4")
    session.run("python", "-c", "import google.genai as g; assert g.__version__[:2] == '3.'")
    session.run(
        "pytest",
        "tests/server/test_server_genai_vertex.py",
        "tests/plugins/gemini/test_sdk_vertex.py",
        *session.posargs,
    )


@nox.session
def lint(session: nox.Session) -> None:
    """ruff: lint and formatting."""
    session.install(*nox.project.dependency_groups(PYPROJECT, "lint"))
    session.run("ruff", "check", ".")
    session.run("ruff", "format", "--check", ".")


@nox.session
def typing(session: nox.Session) -> None:
    """mypy strict on every package."""
    install_everything(session, "typing")
    sources = [str(ROOT / "core" / "src"), *(str(p / "src") for p in PLUGINS)]
    session.run("mypy", *sources)
    # The contract as the type checker sees it: its deliberate errors must stay errors.
    session.run("mypy", str(ROOT / "tests" / "typing"))


@nox.session
def docs(session: nox.Session) -> None:
    """Build the documentation; warnings are errors."""
    install_everything(session, "docs")
    session.run("sphinx-build", "-W", "--keep-going", "-b", "html", "docs", "docs/_build/html")


@nox.session
def bench(session: nox.Session) -> None:
    """Run every benchmark in benchmarks/ and print its figures."""
    install_everything(session, "test", "bench")
    for script in sorted((ROOT / "benchmarks").glob("*.py")):
        session.run("python", str(script), *session.posargs)
