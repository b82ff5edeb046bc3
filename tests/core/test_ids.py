"""Video ids: ``{escaped native id}:{instance}``, built and parsed."""

from __future__ import annotations

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from reelgate.errors import InvalidRequestError
from reelgate.ids import MAX_ID_LENGTH, VideoId, check_instance_name

instances = st.from_regex(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}", fullmatch=True)


def _acceptable(native: str) -> bool:
    short = len(VideoId.build(native, "x" * 64)) <= MAX_ID_LENGTH  # escaped, with any instance
    return short and not any(s in (".", "..") for s in native.split("/"))


natives = st.text(min_size=1).filter(_acceptable)


@given(native=natives, instance=instances)
@example(native="models/veo-3.1/operations/k3x9abc", instance="gemini")
@example(native="a:b:c", instance="sim")
@example(native="100%", instance="x")
@example(native="%2F", instance="x")
@example(native=" ", instance="x")
@example(native="vidéo 猫 🎬", instance="x")
@example(native=":", instance="x")
@example(native="%", instance="x")
def test_any_native_id_round_trips(native: str, instance: str) -> None:
    """Any non-empty native id survives build then parse, with any instance name."""
    built = VideoId.build(native, instance)
    assert VideoId.parse(built) == VideoId(native, instance)
    assert built.count(":") == 1
    assert "/" not in built.rpartition(":")[0]


@given(native=natives, instance=instances)
def test_built_ids_are_stable(native: str, instance: str) -> None:
    """Building from a parsed id gives back the very same string."""
    built = VideoId.build(native, instance)
    assert str(VideoId.parse(built)) == built


def test_parse_splits_at_the_last_colon() -> None:
    """An id whose escaped part still holds a colon is split at the last one."""
    assert VideoId.parse("a:b:openai") == VideoId("a:b", "openai")
    assert VideoId.parse("video_123:openai") == VideoId("video_123", "openai")


@pytest.mark.parametrize(
    ("video_id", "native", "instance"),
    [
        (
            "models%2Fveo-3.1-generate-preview%2Foperations%2Fk3x9abc:gemini",
            "models/veo-3.1-generate-preview/operations/k3x9abc",
            "gemini",
        ),
        ("models%2Fveo%2Foperations%2Fx:gemini", "models/veo/operations/x", "gemini"),
        ("models%2fveo:gemini", "models/veo", "gemini"),
        ("task%20one:my-sora", "task one", "my-sora"),
        ("caf%C3%A9:x", "café", "x"),
        ("unescaped/slash:x", "unescaped/slash", "x"),
    ],
)
def test_bifrost_style_ids_parse(video_id: str, native: str, instance: str) -> None:
    """Ids escaped the way the reference gateway escapes them parse to the native id."""
    assert VideoId.parse(video_id) == VideoId(native, instance)


@pytest.mark.parametrize(
    "video_id",
    [
        "no-provider-here",
        "",
        ":",
        ":sim",
        "abc:",
        "abc: sim",
        "abc:-sim",
        "abc:s/im",
        "abc:" + "x" * 65,
    ],
)
def test_malformed_ids_are_invalid(video_id: str) -> None:
    """An id without both parts, or with a bad instance name, is a 400 naming the format."""
    with pytest.raises(InvalidRequestError, match="video_id must be in id:provider format") as e:
        VideoId.parse(video_id)
    assert e.value.param == "video_id"
    assert e.value.status_code == 400


@pytest.mark.parametrize("video_id", [None, 42, b"abc:sim"])
def test_non_string_ids_are_invalid(video_id: object) -> None:
    """Something that is not a string at all is refused, not crashed on."""
    with pytest.raises(InvalidRequestError, match="id:provider"):
        VideoId.parse(video_id)  # type: ignore[arg-type]


@pytest.mark.parametrize("video_id", ["abc%:sim", "abc%2:sim", "%zz:sim", "%FF:sim", "%C3%28:sim"])
def test_broken_escapes_are_invalid(video_id: str) -> None:
    """A bad percent-escape, or escapes that are not UTF-8, say the encoding is invalid."""
    with pytest.raises(InvalidRequestError, match="invalid video_id encoding") as e:
        VideoId.parse(video_id)
    assert e.value.param == "video_id"


def test_str_of_a_parsed_id_escapes_fully() -> None:
    """Everything but unreserved characters is escaped, ':' and '/' included."""
    assert str(VideoId("a/b:c d~e", "x")) == "a%2Fb%3Ac%20d~e:x"


@pytest.mark.parametrize("name", ["sim", "my-sora", "a.b_c", "A1", "x" * 64])
def test_good_instance_names(name: str) -> None:
    """Letters, digits, '_', '.' and '-', starting with a letter or digit, up to 64."""
    assert check_instance_name(name) == name


@pytest.mark.parametrize("name", ["", "-sim", "_x", "a b", "a:b", "a/b", "x" * 65, "é"])
def test_bad_instance_names(name: str) -> None:
    """Anything else is refused, naming the provider parameter."""
    with pytest.raises(InvalidRequestError) as e:
        check_instance_name(name)
    assert e.value.param == "provider"


@pytest.mark.parametrize("native", ["..", ".", "a/../b", "../etc", "models/./x"])
def test_dot_segments_are_refused(native: str) -> None:
    """A native id with a . or .. segment would walk out of a provider's URL path."""
    with pytest.raises(InvalidRequestError, match="segment") as e:
        VideoId.parse(VideoId.build(native, "x"))
    assert e.value.param == "video_id"


def test_overlong_ids_are_refused() -> None:
    """An id longer than MAX_ID_LENGTH is refused before anything else reads it."""
    with pytest.raises(InvalidRequestError, match="longer than"):
        VideoId.parse("a" * MAX_ID_LENGTH + ":x")
    assert VideoId.parse("a" * 100 + ":x").native == "a" * 100
