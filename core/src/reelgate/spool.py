"""
The spool: jobs a provider created while the job index could not record them.

A create whose job the index fails to record (a locked, full or unreachable database) is
not lost: the gateway appends the job to this file, one JSON line each, flushed to disk,
and replays the file into the index when it can (`reelgate.Gateway.replay_spool`, at
start and by the watcher). The caller learns the job's id either way.
"""

from __future__ import annotations

import json
import logging
import os
import secrets
from pathlib import Path

import anyio
import anyio.to_thread

from . import wire
from .model import Video
from .store import JobIndex, JobRecord

__all__ = ["replay", "write"]

log = logging.getLogger("reelgate")


async def write(path: Path, record: JobRecord, video: Video) -> None:
    """Append a created job to the spool at `path`, flushed to disk."""
    await anyio.to_thread.run_sync(_append, path, _line(record, video))


async def replay(spool: Path, index: JobIndex) -> int:
    """
    Record the jobs spooled at `spool` in `index`; lines that still fail stay spooled.

    Returns:
        How many jobs were replayed.
    """
    if not await anyio.Path(spool).exists():
        return 0
    # Claim the file by renaming it, so two processes never replay one line twice
    # (a repeat would be harmless: recording a known job changes nothing).
    taken = spool.with_name(f"{spool.name}.{os.getpid()}.{secrets.token_hex(4)}")
    try:
        await anyio.Path(spool).rename(taken)
    except FileNotFoundError:
        return 0
    text = await anyio.Path(taken).read_text(encoding="utf-8")
    replayed = 0
    left: list[str] = []
    for line in text.splitlines():
        if not line.strip():
            continue
        try:
            record, video = _parse(line)
        except (ValueError, KeyError, TypeError):
            log.exception("spool %s: an unreadable line is skipped: %.200s", spool, line)
            continue
        try:
            await index.add(record)
            if video is not None:
                await index.observe(record.instance, record.native_id, video)
            replayed += 1
        except Exception:  # noqa: BLE001  # still failing: keep it for later
            left.append(line)
    if left:
        await anyio.to_thread.run_sync(_append, spool, "".join(f"{x}\n" for x in left))
    await anyio.Path(taken).unlink(missing_ok=True)
    if replayed:
        log.info("recorded %d spooled job(s) from %s", replayed, spool)
    return replayed


def _line(record: JobRecord, video: Video) -> str:
    data = {
        "instance": record.instance,
        "native_id": record.native_id,
        "created_at": record.created_at,
        "key_name": record.key_name,
        "owner": record.owner,
        "idempotency_key": record.idempotency_key,
        "remixed_from": record.remixed_from,
        "provider_state": record.provider_state,
        "video": wire.video_to_dict(video),
    }
    return json.dumps(data, separators=(",", ":")) + "\n"


def _parse(line: str) -> tuple[JobRecord, Video | None]:
    data = json.loads(line)
    video = data.get("video")
    record = JobRecord(
        instance=str(data["instance"]),
        native_id=str(data["native_id"]),
        created_at=float(data["created_at"]),
        key_name=data.get("key_name"),
        owner=data.get("owner"),
        idempotency_key=data.get("idempotency_key"),
        remixed_from=data.get("remixed_from"),
        provider_state=data.get("provider_state"),
    )
    return record, wire.video_from_dict(video) if isinstance(video, dict) else None


def _append(path: Path, text: str) -> None:
    """Append to a file and flush it to disk (one write: lines never interleave)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    try:
        os.write(fd, text.encode("utf-8"))
        os.fsync(fd)
    finally:
        os.close(fd)
