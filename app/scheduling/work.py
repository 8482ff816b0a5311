"""How much work a plan is, before it is done: the measured estimate that bounds a request.

A plan's CPU time and memory grow with two products (measured by
``benchmarks/bench_starvation.py --calibrate``, docs/bounds.md):

* **burden cells**: dates × grid starts a day (``1440 / step_minutes``) × required
  participants. Every cell is a burden computed, stored (8 bytes, plus per distinct
  profile 17 bytes of working state) and searched: about 0.1 µs of CPU each.
* **participant-occurrences**: dates × participants (required and optional). Each planned
  date lists every participant's local start, end and burden: about 13 µs each in the
  planner, and as many again to answer with them.

:func:`check_plan_work` refuses a plan over either limit with a sentence saying what to
shrink, so a request at the API's own limits (520 dates, 200 people, 5-minute grid: 30
million cells) is refused at once instead of taking 40 s of a worker.
"""

from __future__ import annotations

from dataclasses import dataclass

from app.scheduling.limits import GRID_STEPS
from app.scheduling.model import MINUTES_PER_DAY, InvalidInput

# Measured on the 2-core reference machine (docs/bounds.md): with both limits reached a plan
# takes about 0.8 s of CPU in a fresh process, so three at once on two workers (two of
# them one after the other in one worker's pool) all answer within 5 s.
NANOSECONDS_PER_CELL = 100
MICROSECONDS_PER_PARTICIPANT_OCCURRENCE = 13
MAX_BURDEN_CELLS = 4_000_000
MAX_PARTICIPANT_OCCURRENCES = 26_000
# Participant times one answer lists in full (view=full); past this, ask for pages or the
# compact view. 10,000 is about 1.2 MB of JSON and ~0.1 s of the worker's CPU to answer.
MAX_LISTED_PARTICIPANT_TIMES = 10_000


@dataclass(frozen=True)
class PlanWork:
    """The size of a plan: ``dates`` to plan, on a ``step_minutes`` grid, for ``required``
    and ``optional`` participants."""

    dates: int
    step_minutes: int
    required: int
    optional: int = 0

    @property
    def starts_per_day(self) -> int:
        return MINUTES_PER_DAY // self.step_minutes

    @property
    def cells(self) -> int:
        return self.dates * self.starts_per_day * self.required

    @property
    def participant_occurrences(self) -> int:
        return self.dates * (self.required + self.optional)

    @property
    def cpu_seconds(self) -> float:
        """The measured estimate of the planner's CPU time."""
        return (
            self.cells * NANOSECONDS_PER_CELL * 1e-9
            + self.participant_occurrences * MICROSECONDS_PER_PARTICIPANT_OCCURRENCE * 1e-6
        )


def _coarser_step(work: PlanWork, max_cells: int) -> int | None:
    """The finest grid step, coarser than the current one, that brings the cells in."""
    for step in GRID_STEPS:
        if step > work.step_minutes and work.dates * (MINUTES_PER_DAY // step) * work.required <= (
            max_cells
        ):
            return step
    return None


def check_plan_work(
    work: PlanWork,
    *,
    max_cells: int = MAX_BURDEN_CELLS,
    max_participant_occurrences: int = MAX_PARTICIPANT_OCCURRENCES,
) -> None:
    """Raise :class:`InvalidInput` naming what to shrink when ``work`` is over a limit.

    >>> def refusal(work: PlanWork) -> str:
    ...     try:
    ...         check_plan_work(work)
    ...     except InvalidInput as exc:
    ...         return str(exc)
    ...     return "fits"
    >>> print(refusal(PlanWork(dates=520, step_minutes=5, required=200)))
    This plan is too big to compute in one request: 520 dates x 288 starts a day x 200 \
required participants = 29,952,000 burden cells, at most 4,000,000. Plan fewer dates at a \
time (count or until: at most 69 dates with these participants and step), or fewer \
required participants (at most 26).
    >>> print(refusal(PlanWork(dates=150, step_minutes=5, required=100)))
    This plan is too big to compute in one request: 150 dates x 288 starts a day x 100 \
required participants = 4,320,000 burden cells, at most 4,000,000. Plan fewer dates at a \
time (count or until: at most 138 dates with these participants and step), or fewer \
required participants (at most 92), or a coarser step_minutes (10 fits).
    >>> refusal(PlanWork(dates=52, step_minutes=15, required=30))
    'fits'
    """
    if work.cells > max_cells:
        per_date = work.starts_per_day * work.required
        fits_otherwise = work.participant_occurrences <= max_participant_occurrences
        step = _coarser_step(work, max_cells) if fits_otherwise else None
        hint = f", or a coarser step_minutes ({step} fits)" if step else ""
        raise InvalidInput(
            ("count",),
            "This plan is too big to compute in one request: "
            f"{work.dates} dates x {work.starts_per_day} starts a day x {work.required} "
            f"required participants = {work.cells:,} burden cells, at most {max_cells:,}. "
            f"Plan fewer dates at a time (count or until: at most {max_cells // per_date} "
            "dates with these participants and step), or fewer required participants "
            f"(at most {max_cells // (work.dates * work.starts_per_day)}){hint}.",
        )
    if work.participant_occurrences > max_participant_occurrences:
        people = work.required + work.optional
        raise InvalidInput(
            ("count",),
            "This plan is too big to compute in one request: "
            f"{work.dates} dates x {people} participants = {work.participant_occurrences:,} "
            f"participant-occurrences, at most {max_participant_occurrences:,}. Plan fewer "
            f"dates at a time (count or until: at most {max_participant_occurrences // people}"
            " dates with these participants), or fewer participants "
            f"(at most {max_participant_occurrences // work.dates}).",
        )


def check_listing(
    occurrences: int, participants: int, *, max_listed: int = MAX_LISTED_PARTICIPANT_TIMES
) -> None:
    """Raise :class:`InvalidInput` when an answer listing ``occurrences`` with every one of
    ``participants``' times would list more than ``max_listed``, naming the compact view and
    the page size that fit.

    >>> check_listing(520, 200)
    Traceback (most recent call last):
    ...
    app.scheduling.model.InvalidInput: This answer would list 104,000 participant times \
(520 occurrences x 200 participants), at most 10,000 in one answer. Ask for \
view=compact (occurrences without their participants' times) or for pages of at most \
50 occurrences (limit=50, then offset).
    """
    listed = occurrences * participants
    if listed > max_listed:
        page = max(1, max_listed // max(1, participants))
        raise InvalidInput(
            ("limit",),
            f"This answer would list {listed:,} participant times ({occurrences} occurrences"
            f" x {participants} participants), at most {max_listed:,} in one answer. Ask for "
            "view=compact (occurrences without their participants' times) or for pages of "
            f"at most {page} occurrences (limit={page}, then offset).",
        )


def search_cpu_seconds(minutes: int, step_minutes: int, participants: int) -> float:
    """The measured estimate of a slot search's CPU time: its starts (``minutes`` of range
    over ``step_minutes``) x participants burden cells.

    >>> round(search_cpu_seconds(31 * 1440, 5, 200), 2)  # the API's limits: 1.8 M cells
    0.18
    """
    return minutes // step_minutes * participants * NANOSECONDS_PER_CELL * 1e-9
