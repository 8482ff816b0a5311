"""The core's input rules: which time zone names a person may give."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from app.scheduling.model import REFUSED_TIMEZONES, InvalidInput, validate_timezone, zone

JULY = datetime(2027, 7, 15, 16, 0, tzinfo=UTC)


@pytest.mark.parametrize("name", ["localtime", "Factory", "LOCALTIME", "factory"])
def test_names_that_are_not_a_place_are_refused(name: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        validate_timezone(name, ("party", "timezone"))
    assert caught.value.loc == ("party", "timezone")
    assert "not a place's time zone" in caught.value.msg
    assert "Asia/Manila" in caught.value.msg


@pytest.mark.parametrize(
    ("name", "offset", "suggested", "fixed"),
    [
        ("EST", "−5", "America/New_York", "Etc/GMT+5"),
        ("est", "−5", "America/New_York", "Etc/GMT+5"),
        ("MST", "−7", "America/Denver", "Etc/GMT+7"),
        ("HST", "−10", "Pacific/Honolulu", "Etc/GMT+10"),
    ],
)
def test_fixed_offset_abbreviations_name_the_zone_to_use(
    name: str, offset: str, suggested: str, fixed: str
) -> None:
    with pytest.raises(InvalidInput) as caught:
        validate_timezone(name)
    msg = caught.value.msg
    assert f"UTC{offset} all year" in msg
    assert f"'{suggested}'" in msg and f"'{fixed}'" in msg
    # What the message offers is accepted, and both mean what it says.
    assert validate_timezone(suggested) == suggested
    assert validate_timezone(fixed) == fixed
    hours = int(offset.replace("−", "-"))
    assert zone(fixed).utcoffset(JULY) == zone(fixed).utcoffset(JULY.replace(month=1))
    january = zone(fixed).utcoffset(JULY.replace(month=1))
    assert january is not None and january.total_seconds() == hours * 3600


def test_est_is_an_hour_off_new_york_in_july() -> None:
    # Why EST is refused: zoneinfo reads it as UTC−5 all year (the 2024b links make it
    # America/Panama), so a New Yorker so configured is an hour off in summer.
    est, new_york = zone("EST"), zone("America/New_York")
    assert JULY.astimezone(est).hour == 11
    assert JULY.astimezone(new_york).hour == 12


@pytest.mark.parametrize(
    ("name", "suggested"),
    [
        ("EST5EDT", "America/New_York"),
        ("CST6CDT", "America/Chicago"),
        ("MST7MDT", "America/Denver"),
        ("PST8PDT", "America/Los_Angeles"),
        ("CET", "Europe/Paris"),
        ("MET", "Europe/Berlin"),
        ("EET", "Europe/Athens"),
        ("WET", "Europe/Lisbon"),
        ("GMT", "Europe/London"),
        ("Etc/GMT", "Europe/London"),
        ("GMT+0", "UTC"),
        ("Etc/GMT-0", "UTC"),
        ("Greenwich", "UTC"),
        ("UCT", "UTC"),
        ("Etc/Universal", "UTC"),
        ("Zulu", "UTC"),
    ],
)
def test_legacy_names_are_refused_with_the_canonical_zone(name: str, suggested: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        validate_timezone(name)
    assert f"'{suggested}'" in caught.value.msg
    assert validate_timezone(suggested) == suggested


@pytest.mark.parametrize(
    "name", ["UTC", "Etc/UTC", "Etc/GMT+5", "Etc/GMT-14", "Etc/GMT+12", "America/New_York"]
)
def test_utc_and_explicit_fixed_offsets_stay(name: str) -> None:
    assert validate_timezone(name) == name


def test_close_matches_never_suggest_a_refused_name() -> None:
    for typo in ("ESTT", "EST5EDTT", "Zuluu", "GMT+00", "Etc/GMT+0x"):
        with pytest.raises(InvalidInput) as caught:
            validate_timezone(typo)
        assert not any(f"'{name}'" in caught.value.msg for name in REFUSED_TIMEZONES), (
            caught.value.msg
        )
