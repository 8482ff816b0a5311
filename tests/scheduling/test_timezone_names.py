"""The core's input rules: which time zone names a person may give."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from app.scheduling.model import (
    REFUSED_TIMEZONES,
    InvalidInput,
    _fixed,
    validate_timezone,
    zone,
)

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


@pytest.mark.parametrize(
    ("offset", "said", "etc"),
    [(-5, "UTC−5", "Etc/GMT+5"), (-10, "UTC−10", "Etc/GMT+10"), (3, "UTC+3", "Etc/GMT-3")],
)
def test_a_fixed_offset_refusal_inverts_the_sign_for_the_etc_name(
    offset: int, said: str, etc: str
) -> None:
    # The refusal table is built at import; calling the builder here tests it at run time.
    assert _fixed("XYZ", offset, "'Somewhere/City'") == (
        f"'XYZ' is {said} all year, without daylight saving; use an IANA zone such as "
        f"'Somewhere/City', or '{etc}' if you really mean a fixed offset."
    )


def test_est_refusal_in_full() -> None:
    with pytest.raises(InvalidInput) as caught:
        validate_timezone("EST")
    assert caught.value.msg == (
        "'EST' is UTC−5 all year, without daylight saving; use an IANA zone such as "
        "'America/New_York' (Eastern Time), or 'Etc/GMT+5' if you really mean a fixed offset."
    )


@pytest.mark.parametrize(
    ("name", "msg"),
    [
        (None, "Give an IANA time zone name such as 'Asia/Manila'."),
        ("", "Give an IANA time zone name such as 'Asia/Manila'."),
        ("asia/manila", "Unknown time zone 'asia/manila'; did you mean 'Asia/Manila'?"),
        (
            "AMERICA/NEW_YORK",
            "Unknown time zone 'AMERICA/NEW_YORK'; did you mean 'America/New_York'?",
        ),
        # Nothing close: no hint; a long name is quoted by its first 80 characters only.
        ("Q" * 100, f"Unknown time zone '{'Q' * 80}'; use an IANA name such as 'Asia/Manila'."),
    ],
)
def test_unknown_names_are_refused_with_exact_messages(name: object, msg: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        validate_timezone(name, ("people", 0, "timezone"))
    assert (caught.value.loc, caught.value.msg) == (("people", 0, "timezone"), msg)


def test_a_typo_gets_at_most_three_suggestions_that_are_all_accepted() -> None:
    # Many Indiana zones look like this typo (more than three): only three are offered.
    with pytest.raises(InvalidInput) as caught:
        validate_timezone("America/Indiana/Vevey")
    head, hint = caught.value.msg.split(" Did you mean ")
    assert (
        head == "Unknown time zone 'America/Indiana/Vevey'; use an IANA name such as 'Asia/Manila'."
    )
    assert hint.endswith("?")
    suggested = [s.strip("'") for s in hint[:-1].split(", ")]
    assert 1 <= len(suggested) <= 3 and "America/Indiana/Vevay" in suggested
    assert all(validate_timezone(s) == s for s in suggested)
