"""The status machine: legal moves, regressions kept from callers, monotonic progress."""

from __future__ import annotations

import itertools

import pytest
from hypothesis import given
from hypothesis import strategies as st

from reelgate import ContentFilter, Video, VideoError, VideoOutput, VideoStatus
from reelgate.status import TERMINAL, advance, is_legal, progress_from_logs

Q, P, C, F = (
    VideoStatus.QUEUED,
    VideoStatus.IN_PROGRESS,
    VideoStatus.COMPLETED,
    VideoStatus.FAILED,
)

LEGAL = {
    (Q, Q),
    (Q, P),
    (Q, C),
    (Q, F),
    (P, P),
    (P, C),
    (P, F),
    (C, C),
    (F, F),
}


@pytest.mark.parametrize(("before", "after"), list(itertools.product(VideoStatus, repeat=2)))
def test_transition_table(before: VideoStatus, after: VideoStatus) -> None:
    """Exactly the moves of the machine are legal; a terminal state never changes."""
    assert is_legal(before, after) is ((before, after) in LEGAL)


def test_terminal_states() -> None:
    """Completed and failed are terminal, and only they."""
    assert frozenset({C, F}) == TERMINAL
    assert [s for s in VideoStatus if s.is_terminal] == [C, F]


def _v(status: VideoStatus, progress: float | None = None, **kwargs: object) -> Video:
    return Video(id="job:sim", status=status, progress=progress, **kwargs)  # type: ignore[arg-type]


def test_first_state_passes_through() -> None:
    """With nothing seen before, the state is taken as it is (the same object)."""
    current = _v(P, 40)
    assert advance(None, current) is current


def test_regression_keeps_the_previous_status() -> None:
    """in_progress then queued reads as in_progress, with the larger progress."""
    merged = advance(_v(P, 40), _v(Q, 0))
    assert (merged.status, merged.progress) == (P, 40)


def test_a_terminal_state_is_kept_with_its_error() -> None:
    """A failed job that reads completed later stays failed, with its error."""
    error = VideoError("boom", "it broke")
    merged = advance(_v(F, error=error), _v(C, 100))
    assert merged.status is F
    assert merged.error == error


def test_completed_reports_100() -> None:
    """A completed job is at 100 whatever the provider said."""
    assert advance(None, _v(C, None)).progress == 100
    assert advance(_v(P, 30), _v(C, 50)).progress == 100


def test_progress_never_decreases() -> None:
    """A lower progress, or none, keeps the higher one seen before."""
    assert advance(_v(P, 60), _v(P, 20)).progress == 60
    assert advance(_v(P, 60), _v(P, None)).progress == 60
    assert advance(_v(P, None), _v(P, 10)).progress == 10


def test_other_fields_come_from_the_fresh_state() -> None:
    """Fields the machine does not guard are taken from the latest poll."""
    merged = advance(_v(P, 50, size="1280x720"), _v(Q, 0, size="720x1280", model="m"))
    assert (merged.size, merged.model) == ("720x1280", "m")


def test_completion_details_survive_a_regression() -> None:
    """A completed job seen in_progress again keeps its completion time and outputs."""
    output = VideoOutput(type="url", url="https://example.com/v.mp4")
    done = _v(C, 100, completed_at=1_700_000_100, expires_at=1_700_003_700, videos=[output])
    merged = advance(done, _v(P, 80))
    assert merged.status is C
    assert merged.completed_at == 1_700_000_100
    assert merged.expires_at == 1_700_003_700
    assert merged.videos == (output,)


def test_filter_details_survive_a_regression() -> None:
    """A content-filtered job seen queued again keeps its filter report."""
    reported = ContentFilter(filtered_count=1, reasons=("unsafe",))
    failed = _v(F, error=VideoError("content_filtered", "unsafe"), content_filter=reported)
    merged = advance(failed, _v(Q))
    assert merged.content_filter == reported


statuses = st.sampled_from(list(VideoStatus))
progresses = st.one_of(st.none(), st.floats(min_value=-50, max_value=150, allow_nan=False))


@given(st.lists(st.tuples(statuses, progresses), min_size=1, max_size=12))
def test_any_sequence_of_polls_reads_monotonic(
    polls: list[tuple[VideoStatus, float | None]],
) -> None:
    """Whatever upstream reports, callers see legal moves and non-decreasing progress."""
    seen: list[Video] = []
    previous: Video | None = None
    for status, progress in polls:
        previous = advance(previous, _v(status, progress))
        seen.append(previous)
    for before, after in itertools.pairwise(seen):
        assert is_legal(before.status, after.status)
        if before.progress is not None:
            assert after.progress is not None
            assert after.progress >= before.progress
    for video in seen:
        if video.status is C:
            assert video.progress == 100
        assert video.progress is None or 0 <= video.progress <= 100
    first_terminal = next((v for v in seen if v.done), None)
    if first_terminal is not None:
        assert seen[-1].status is first_terminal.status


@pytest.mark.parametrize(
    ("logs", "progress"),
    [
        ("", None),
        ("loading weights\nstarting", None),
        ("  3%|▎   | 3/100\r 45%|████▌ | 45/100", 45.0),
        ("step 45/100", 45.0),
        (["queued", "rendering 12.5 %", "step 3/4"], 75.0),
        ("100%\nsaving 0/0", 100.0),
        ("7/3 odd line\n", None),
    ],
)
def test_progress_from_logs(logs: str | list[str], progress: float | None) -> None:
    """The last line that says anything wins; a percentage wins over steps on one line."""
    assert progress_from_logs(logs) == progress
