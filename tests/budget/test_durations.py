from datetime import timedelta

import pytest

from mlbudget.budget.durations import format_duration, parse_duration


@pytest.mark.parametrize(
    "text, seconds", [("90s", 90), ("15m", 900), ("1h", 3600), ("7d", 604800), ("1.5h", 5400), ("2w", 1209600)]
)
def test_parse(text, seconds):
    assert parse_duration(text) == timedelta(seconds=seconds)


@pytest.mark.parametrize("bad", ["", "1", "h", "-1h", "0m", "1y", 5])
def test_parse_refuses(bad):
    with pytest.raises(ValueError, match="duration"):
        parse_duration(bad)


@pytest.mark.parametrize("seconds, text", [(3600, "1h"), (90, "90s"), (5400, "90m"), (86400 * 7, "1w")])
def test_format_is_shortest_exact(seconds, text):
    assert format_duration(timedelta(seconds=seconds)) == text
    assert parse_duration(format_duration(timedelta(seconds=seconds))) == timedelta(seconds=seconds)
