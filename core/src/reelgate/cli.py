"""
The ``reelgate`` command.

Exit codes: 0 ok, 1 the job failed, 2 usage or invalid request, 3 provider or network
error. Errors are one readable line on stderr (and the wire's error body on stdout with
``--json``), never a traceback.
"""

from __future__ import annotations

import json
import os
import re
import sys
from collections.abc import Callable, Coroutine
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, NoReturn, Self, TypeVar

import anyio

try:
    import click
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        DownloadColumn,
        Progress,
        TaskProgressColumn,
        TextColumn,
        TimeElapsedColumn,
        TransferSpeedColumn,
    )
    from rich.table import Table
except ImportError:  # pragma: no cover - depends on the install
    sys.exit("reelgate: the command line needs its extra: pip install 'reelgate[cli]'")

from . import wire
from .errors import (
    ConfigurationError,
    InvalidRequestError,
    NotFoundError,
    ReelgateError,
    VideoFailedError,
    VideoNotReadyError,
)
from .gateway import Gateway
from .model import CreateVideo, ImageInput, Variant, Video, VideoStatus

__all__ = ["main"]

T = TypeVar("T")

EXIT_OK, EXIT_FAILED, EXIT_INVALID, EXIT_PROVIDER = 0, 1, 2, 3

_CLIENT_ERRORS = (InvalidRequestError, NotFoundError, VideoNotReadyError, ConfigurationError)
_EXTENSIONS = {Variant.VIDEO: ".mp4", Variant.THUMBNAIL: ".webp", Variant.SPRITESHEET: ".jpg"}

err = Console(stderr=True, highlight=False)
# Piped output keeps whole lines (ids, prompts) rather than folding at 80 columns.
out = Console(highlight=False, width=None if sys.stdout.isatty() else 200)


def exit_code(error: ReelgateError) -> int:
    """The exit code for an error: 1 a failed job, 2 the caller's mistake, 3 upstream."""
    if isinstance(error, VideoFailedError):
        return EXIT_FAILED
    if isinstance(error, _CLIENT_ERRORS):
        return EXIT_INVALID
    return EXIT_PROVIDER


def _fail(error: ReelgateError, as_json: bool) -> NoReturn:
    if as_json:
        click.echo(wire.dumps_error(error))
    message = error.message.replace("\n", " ")
    err.print(f"[bold red]error:[/] {message}", markup=True, soft_wrap=True, highlight=False)
    sys.exit(exit_code(error))


def _run(ctx: click.Context, work: Callable[[Gateway], Coroutine[Any, Any, T]], as_json: bool) -> T:
    config = ctx.obj.get("config") if ctx.obj else None

    async def main() -> T:
        async with Gateway.from_config(config) as gateway:
            return await work(gateway)

    try:
        return anyio.run(main)
    except ReelgateError as e:
        _fail(e, as_json)
    except KeyboardInterrupt:
        err.print("interrupted")
        sys.exit(130)
    except OSError as e:
        _fail(InvalidRequestError(f"{e.strerror or e}: {e.filename or ''}".rstrip(": ")), as_json)


def _json_option(fn: Callable[..., Any]) -> Callable[..., Any]:
    return click.option("--json", "as_json", is_flag=True, help="Print JSON instead of text.")(fn)


def _parse_params(values: tuple[str, ...]) -> dict[str, Any]:
    params: dict[str, Any] = {}
    for item in values:
        key, sep, raw = item.partition("=")
        if not sep or not key:
            raise click.BadParameter(f"expected KEY=VALUE, got {item!r}", param_hint="--param")
        try:
            params[key] = json.loads(raw)
        except ValueError:
            params[key] = raw
    return params


def _request(
    prompt: str,
    model: str,
    image: str | None,
    seconds: str | None,
    size: str | None,
    params: tuple[str, ...],
    idempotency_key: str | None = None,
) -> CreateVideo:
    return CreateVideo(
        model=model,
        prompt=prompt,
        input_reference=ImageInput.coerce(image) if image else None,
        seconds=seconds,
        size=size,
        extra_params=_parse_params(params),
        idempotency_key=idempotency_key,
    )


def _create_options(fn: Callable[..., Any]) -> Callable[..., Any]:
    options = [
        click.argument("prompt"),
        click.option(
            "--model",
            "-m",
            default=lambda: os.environ.get("REELGATE_MODEL", "sim/sim-1"),
            show_default="$REELGATE_MODEL or sim/sim-1",
            help="provider/model, e.g. runway/gen4.5.",
        ),
        click.option("--image", help="An image to start from: a path or an https URL."),
        click.option("--seconds", help="Duration in seconds."),
        click.option("--size", help="WIDTHxHEIGHT, e.g. 1280x720."),
        click.option(
            "--param",
            "params",
            multiple=True,
            metavar="KEY=VALUE",
            help="A provider-specific parameter (VALUE read as JSON if it parses).",
        ),
    ]
    for option in reversed(options):
        fn = option(fn)
    return fn


def _when(timestamp: int | None) -> str:
    if timestamp is None:
        return ""
    return datetime.fromtimestamp(timestamp, tz=UTC).strftime("%Y-%m-%d %H:%M:%S")


def _print_video(video: Video, as_json: bool) -> None:
    if as_json:
        click.echo(wire.dumps_video(video))
        return
    out.print(f"[bold]{video.id}[/]", soft_wrap=True)
    rows = [
        ("status", video.status.value),
        ("progress", f"{video.progress:g}%" if video.progress is not None else None),
        ("model", video.model),
        ("prompt", video.prompt),
        ("seconds", video.seconds),
        ("size", video.size),
        ("created", _when(video.created_at)),
        ("completed", _when(video.completed_at) or None),
        ("remixed from", video.remixed_from_video_id),
        ("error", f"{video.error.code}: {video.error.message}" if video.error else None),
    ]
    for name, value in rows:
        if value:
            out.print(f"  {name:<13}{value}", soft_wrap=True, markup=False)


class _Live:
    """A progress display shown live on a terminal only."""

    def __init__(self, quiet: bool, progress: Progress) -> None:
        self.quiet = quiet
        self.live = err.is_terminal and not quiet
        self.progress = progress

    def __enter__(self) -> Self:
        if self.live:
            self.progress.start()
        return self

    def __exit__(self, *exc: object) -> None:
        if self.live:
            self.progress.stop()


class _Watcher(_Live):
    """Shows a job's progress: a live bar on a terminal, plain lines elsewhere."""

    def __init__(self, quiet: bool) -> None:
        super().__init__(
            quiet,
            Progress(
                TextColumn("{task.description}"),
                BarColumn(),
                TaskProgressColumn(),
                TimeElapsedColumn(),
                console=err,
            ),
        )
        self.task = self.progress.add_task("queued", total=100)
        self.last: tuple[VideoStatus, int] | None = None

    def update(self, video: Video) -> None:
        percent = int(video.progress or (100 if video.status is VideoStatus.COMPLETED else 0))
        if self.live:
            self.progress.update(
                self.task, completed=percent, description=video.status.value.replace("_", " ")
            )
            return
        state = (video.status, percent // 10)
        if not self.quiet and state != self.last:
            err.print(f"{video.status.value} {percent}%", highlight=False)
        self.last = state


class _Bytes(_Live):
    """Shows download progress in bytes."""

    def __init__(self, quiet: bool) -> None:
        super().__init__(
            quiet,
            Progress(
                TextColumn("downloading"),
                BarColumn(),
                DownloadColumn(),
                TransferSpeedColumn(),
                console=err,
            ),
        )
        self.task = self.progress.add_task("download", total=None)

    def update(self, received: int, total: int | None) -> None:
        if self.live:
            self.progress.update(self.task, completed=received, total=total)


def _default_output(video_id: str, variant: Variant) -> Path:
    stem = re.sub(r"[^A-Za-z0-9_.-]+", "_", video_id).strip("._") or "video"
    return Path(stem + _EXTENSIONS[variant])


_UPSTREAM = {
    "deleted": "deleted upstream too",
    "cancelled": "cancelled upstream; the provider keeps its record",
    "kept": "the provider keeps it: it can neither cancel nor delete",
}


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--config",
    type=click.Path(dir_okay=False),
    envvar="REELGATE_CONFIG",
    help="A reelgate.toml (default: ./reelgate.toml, then the user's config dir).",
)
@click.version_option(package_name="reelgate")
@click.pass_context
def cli(ctx: click.Context, config: str | None) -> None:
    """Generate videos with any provider: create, poll, list, download, delete, remix."""
    ctx.ensure_object(dict)
    ctx.obj["config"] = config


@cli.command()
@_create_options
@click.option(
    "--output",
    "-o",
    type=click.Path(dir_okay=False),
    required=True,
    help="Where to write the video.",
)
@click.option(
    "--timeout", type=float, default=900.0, show_default=True, help="Seconds to wait for the job."
)
@click.option("--quiet", "-q", is_flag=True, help="No progress output.")
@_json_option
@click.pass_context
def generate(
    ctx: click.Context,
    prompt: str,
    model: str,
    image: str | None,
    seconds: str | None,
    size: str | None,
    params: tuple[str, ...],
    output: str,
    timeout: float,
    quiet: bool,
    as_json: bool,
) -> None:
    """Create a video, wait for it with a progress bar, and download it."""
    try:
        request = _request(prompt, model, image, seconds, size, params)
    except ReelgateError as e:
        _fail(e, as_json)

    async def work(gw: Gateway) -> tuple[Video, Path]:
        video = await gw.create(request)
        if not quiet and not as_json:
            err.print(f"created {video.id}", highlight=False, soft_wrap=True)
        with _Watcher(quiet or as_json) as watcher:
            watcher.update(video)
            video = await gw.wait(video.id, timeout=timeout, on_update=watcher.update)
        video.raise_for_status()
        with _Bytes(quiet or as_json) as bar:
            path = await gw.download_to(video.id, output, on_progress=bar.update)
        return video, path

    video, path = _run(ctx, work, as_json)
    if as_json:
        click.echo(json.dumps({"video": wire.video_to_dict(video), "path": str(path)}))
    else:
        click.echo(str(path))


@cli.command()
@_create_options
@click.option("--idempotency-key", help="Creating twice with one key gives one job.")
@_json_option
@click.pass_context
def create(
    ctx: click.Context,
    prompt: str,
    model: str,
    image: str | None,
    seconds: str | None,
    size: str | None,
    params: tuple[str, ...],
    idempotency_key: str | None,
    as_json: bool,
) -> None:
    """Start a job and print it (without waiting)."""
    try:
        request = _request(prompt, model, image, seconds, size, params, idempotency_key)
    except ReelgateError as e:
        _fail(e, as_json)
    _print_video(_run(ctx, lambda gw: gw.create(request), as_json), as_json)


@cli.command()
@click.argument("video_id")
@_json_option
@click.pass_context
def get(ctx: click.Context, video_id: str, as_json: bool) -> None:
    """Print a job's current state."""
    _print_video(_run(ctx, lambda gw: gw.retrieve(video_id), as_json), as_json)


@cli.command()
@click.argument("video_id")
@click.option("--timeout", type=float, default=900.0, show_default=True, help="Seconds to wait.")
@click.option("--quiet", "-q", is_flag=True, help="No progress output.")
@_json_option
@click.pass_context
def wait(ctx: click.Context, video_id: str, timeout: float, quiet: bool, as_json: bool) -> None:
    """Wait for a job to finish; exit 1 if it failed."""

    async def work(gw: Gateway) -> Video:
        with _Watcher(quiet or as_json) as watcher:
            return await gw.wait(video_id, timeout=timeout, on_update=watcher.update)

    video = _run(ctx, work, as_json)
    _print_video(video, as_json)
    if video.status is VideoStatus.FAILED:
        sys.exit(EXIT_FAILED)


@cli.command(name="list")
@click.option("--provider", "-p", required=True, help="The provider instance, e.g. sim.")
@click.option("--limit", default="20", show_default=True, help="Jobs per page, 1 to 100.")
@click.option("--order", default="desc", show_default=True, help="asc or desc by creation time.")
@click.option("--after", help="The last id of the previous page.")
@click.option("--all", "follow", is_flag=True, help="Follow cursors to the end.")
@_json_option
@click.pass_context
def list_(
    ctx: click.Context,
    provider: str,
    limit: str,
    order: str,
    after: str | None,
    follow: bool,
    as_json: bool,
) -> None:
    """List a provider's jobs, newest first."""

    async def work(gw: Gateway) -> tuple[list[Video], bool, str | None]:
        if follow:
            await gw.list(provider, limit=limit, order=order, after=after)  # validates
            videos = [
                v
                async for v in gw.iter_videos(provider, order=order, page_size=100)  # type: ignore[arg-type]  # validated above
            ]
            return videos, False, None
        page = await gw.list(provider, limit=limit, order=order, after=after)
        return list(page.data), page.has_more, page.last_id

    videos, has_more, last_id = _run(ctx, work, as_json)
    if as_json:
        from .model import VideoPage  # noqa: PLC0415  # only the JSON output needs it

        click.echo(json.dumps(wire.page_to_dict(VideoPage(tuple(videos), has_more))))
        return
    table = Table("id", "status", "progress", "model", "created", "prompt", box=None)
    for v in videos:
        prompt = (v.prompt or "")[:40] + ("…" if v.prompt and len(v.prompt) > 40 else "")
        table.add_row(
            v.id,
            v.status.value,
            f"{v.progress:g}%" if v.progress is not None else "",
            v.model or "",
            _when(v.created_at),
            prompt,
        )
    out.print(table, soft_wrap=True)
    if has_more:
        err.print(f"more: --after {last_id}", highlight=False, soft_wrap=True)


@cli.command()
@click.argument("video_id")
@click.option("--output", "-o", type=click.Path(dir_okay=False), help="Where to write it.")
@click.option(
    "--variant", default="video", show_default=True, help="video, thumbnail or spritesheet."
)
@click.option("--quiet", "-q", is_flag=True, help="No progress output.")
@_json_option
@click.pass_context
def download(
    ctx: click.Context, video_id: str, output: str | None, variant: str, quiet: bool, as_json: bool
) -> None:
    """Download a finished job's video (or its thumbnail or spritesheet)."""
    try:
        chosen = Variant.parse(variant)
    except ReelgateError as e:
        _fail(e, as_json)
    target = Path(output) if output else _default_output(video_id, chosen)

    async def work(gw: Gateway) -> Path:
        with _Bytes(quiet or as_json) as bar:
            return await gw.download_to(video_id, target, variant=chosen, on_progress=bar.update)

    path = _run(ctx, work, as_json)
    click.echo(json.dumps({"path": str(path)}) if as_json else str(path))


@cli.command()
@click.argument("video_id")
@_json_option
@click.pass_context
def delete(ctx: click.Context, video_id: str, as_json: bool) -> None:
    """Delete a job (or cancel it, where the provider cancels running jobs)."""
    deleted = _run(ctx, lambda gw: gw.delete(video_id), as_json)
    click.echo(
        json.dumps(wire.deleted_to_dict(deleted))
        if as_json
        else f"deleted {deleted.id} ({_UPSTREAM[deleted.upstream]})"
    )


@cli.command()
@click.argument("video_id")
@click.argument("prompt")
@_json_option
@click.pass_context
def remix(ctx: click.Context, video_id: str, prompt: str, as_json: bool) -> None:
    """Start a new job from a finished one with a new prompt."""
    _print_video(_run(ctx, lambda gw: gw.remix(video_id, prompt), as_json), as_json)


@cli.command()
@_json_option
@click.pass_context
def providers(ctx: click.Context, as_json: bool) -> None:
    """Show provider instances, their capabilities, and plugins that failed to load."""

    async def work(gw: Gateway) -> dict[str, Any]:
        return {
            "providers": [
                {
                    "name": i.name,
                    "type": i.type,
                    "capabilities": sorted(i.capabilities),
                    "keys": [k.name for k in i.keys],
                    "needs_key": i.requires_key,
                    "plugin": i.origin,
                    "description": i.description,
                }
                for i in gw.instances.values()
            ],
            "unavailable": [{"name": n, "reason": r} for n, r in sorted(gw.problems.items())],
            "plugin_errors": [{"plugin": f.name, "error": f.reason} for f in gw.plugin_failures],
        }

    info = _run(ctx, work, as_json)
    if as_json:
        click.echo(json.dumps(info))
        return
    table = Table("instance", "type", "capabilities", "keys", "plugin", box=None)
    for p in info["providers"]:
        keys = ", ".join(p["keys"]) or ("[red]none set[/]" if p["needs_key"] else "not needed")
        table.add_row(p["name"], p["type"], " ".join(p["capabilities"]), keys, p["plugin"] or "")
    out.print(table)
    for problem in info["unavailable"]:
        err.print(f"[yellow]unavailable:[/] {problem['name']}: {problem['reason']}", soft_wrap=True)
    for failure in info["plugin_errors"]:
        err.print(f"[red]plugin failed to load:[/] {failure['error']}", soft_wrap=True)


@cli.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Interface to bind.")
@click.option("--port", default=8080, show_default=True, type=int, help="Port to listen on.")
@click.option(
    "--allow-host",
    "allow_hosts",
    multiple=True,
    metavar="NAME",
    help="Another Host name a server without keys answers to (repeatable).",
)
@click.option(
    "--watch/--no-watch",
    default=True,
    show_default=True,
    help="Drive unfinished jobs to their end in the background (the watcher).",
)
@click.option(
    "--watch-lease",
    default=60.0,
    show_default=True,
    type=click.FloatRange(min=0.1),
    help="Seconds a job being polled stays this server's; a dead server's jobs are "
    "taken over after it.",
)
@click.pass_context
def serve(
    ctx: click.Context,
    host: str,
    port: int,
    allow_hosts: tuple[str, ...],
    watch: bool,
    watch_lease: float,
) -> None:
    """Serve the /v1/videos HTTP API (needs reelgate[server])."""
    try:
        from .server import run  # noqa: PLC0415  # an extra: imported only to serve
    except ImportError as e:
        err.print(
            f"[bold red]error:[/] the server needs its extra: pip install 'reelgate[server]' ({e})"
        )
        sys.exit(EXIT_INVALID)
    try:
        run(
            config_path=ctx.obj.get("config"),
            host=host,
            port=port,
            allowed_hosts=allow_hosts,
            watch={"lease": watch_lease} if watch else False,
        )
    except ReelgateError as e:
        _fail(e, as_json=False)


def main(argv: list[str] | None = None) -> None:
    """Run the command line."""
    try:
        cli.main(args=argv, prog_name="reelgate", standalone_mode=True)
    except Exception as e:  # never a traceback: one line, and a way to get more
        if os.environ.get("REELGATE_DEBUG"):
            raise
        err.print(
            f"[bold red]error:[/] unexpected {type(e).__name__}: {e} "
            "(set REELGATE_DEBUG=1 for the traceback)"
        )
        sys.exit(EXIT_PROVIDER)


if __name__ == "__main__":
    main()
