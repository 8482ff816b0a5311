"""The refusal sentences of app.scheduling.limits, word for word."""

from __future__ import annotations

from datetime import date

import pytest

from app.scheduling.limits import (
    participant_count_refusal,
    quorum_refusal,
    search_range_refusal,
    until_refusal,
)


@pytest.mark.parametrize(
    ("members", "sentence"),
    [
        (
            0,
            "Manila team has no quorum members in this series; "
            'mark some members attendance "quorum" or drop the rule.',
        ),
        (
            1,
            "Manila team's quorum rule needs min_attendees from 1 to 1, "
            "its number of quorum members.",
        ),
    ],
)
def test_quorum_refusal(members: int, sentence: str) -> None:
    assert quorum_refusal("Manila team", members) == sentence


def test_the_other_refusals() -> None:
    assert participant_count_refusal(201) == "Give 1 to 200 participants (got 201)."
    assert search_range_refusal(31.5) == (
        "The search range is 31.5 days; at most 31 days are allowed."
    )
    assert until_refusal(date(2036, 1, 2), date(2036, 1, 1)) == (
        "until 2036-01-02 is more than 10 years after start_date; use a date up to 2036-01-01."
    )
