"""Range and conditional-request rules (`_conditional.py`), checked directly; the responses that
use them are tested end to end in test_responses.py and test_staticfiles.py."""

from __future__ import annotations

import pytest

from asgiforge.runtime._conditional import (
    MalformedRangeHeader,
    RangeNotSatisfiable,
    if_range_allows,
    is_not_modified,
    parse_range_header,
)

ETAG = '"abc"'
DATE = "Mon, 07 Dec 2026 10:00:00 GMT"


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("bytes=0-9", [(0, 10)]),
        ("bytes=90-", [(90, 100)]),
        ("bytes=-10", [(90, 100)]),
        ("bytes=5-500", [(5, 100)]),
        ("bytes=0-1, 1-5, 50-60", [(0, 6), (50, 61)]),
        ("bytes=x-1, 2-3", [(2, 4)]),  # non-numeric parts are skipped
        ("bytes=" + ",".join(["0-0"] * 101), None),  # over max_ranges (100): ignored
    ],
)
def test_range_parsing(header: str, expected: list[tuple[int, int]] | None) -> None:
    assert parse_range_header(header, 100) == expected


@pytest.mark.parametrize(
    ("header", "error"),
    [
        ("bytes", MalformedRangeHeader),
        ("items=0-1", MalformedRangeHeader),
        ("bytes=x-y", MalformedRangeHeader),
        ("bytes=5-4", MalformedRangeHeader),
        ("bytes=100-", RangeNotSatisfiable),
        ("bytes=200-100", RangeNotSatisfiable),  # past the end is checked before the order
        ("bytes=-0", RangeNotSatisfiable),
    ],
)
def test_range_errors(header: str, error: type[Exception]) -> None:
    with pytest.raises(error):
        parse_range_header(header, 100)


def test_if_range_needs_a_strong_matching_validator() -> None:
    assert if_range_allows(None, DATE, ETAG)
    assert if_range_allows(ETAG, DATE, ETAG)
    assert if_range_allows(DATE, DATE, ETAG)
    assert not if_range_allows("W/" + ETAG, DATE, ETAG)
    assert not if_range_allows('"other"', DATE, ETAG)


@pytest.mark.parametrize(
    ("if_none_match", "expected"),
    [
        ("*", True),
        (" \t* \t", True),
        (ETAG, True),
        ('"x", W/"abc"', True),
        ('"123"', False),
        ('"foo,*,bar"', False),  # a wildcard counts only as the whole header
    ],
)
def test_if_none_match(if_none_match: str, expected: bool) -> None:
    response = {"etag": ETAG, "last-modified": DATE}
    assert is_not_modified(response, {"if-none-match": if_none_match}) is expected


def test_if_modified_since_counts_only_without_if_none_match() -> None:
    response = {"etag": ETAG, "last-modified": DATE}
    assert is_not_modified(response, {"if-modified-since": DATE})
    assert not is_not_modified(response, {"if-modified-since": DATE, "if-none-match": '"x"'})
    assert not is_not_modified(response, {"if-modified-since": "not a date"})
