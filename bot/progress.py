"""Progress and pace of an order: pure arithmetic, no I/O."""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass
from datetime import date, timedelta

DAY_NAMES = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
TRAILING_DAYS = 7
JUDGE_AFTER_WORKING_DAYS = 3  # a new order with no reports yet is not "at risk"


def parse_working_days(text: str) -> frozenset[int]:
    """'mon-sat' or 'mon,wed,fri' → weekday numbers (Monday is 0); ValueError if unreadable."""
    days: set[int] = set()
    for part in text.lower().replace(" ", "").split(","):
        first, dash, last = part.partition("-")
        if first not in DAY_NAMES or (dash and last not in DAY_NAMES):
            raise ValueError(f"{part!r} is not a day range like mon-sat")
        start, end = DAY_NAMES.index(first), DAY_NAMES.index(last or first)
        span = range(start, end + 1) if start <= end else [*range(start, 7), *range(0, end + 1)]
        days.update(span)
    return frozenset(days)


def format_working_days(days: Collection[int]) -> str:
    """Weekday numbers → 'mon,tue,…', the stored form."""
    return ",".join(DAY_NAMES[d] for d in sorted(days))


def working_days(first: date, last: date, days: Collection[int]) -> int:
    """How many working days lie from `first` to `last`, both included."""
    if last < first:
        return 0
    weeks, extra = divmod((last - first).days + 1, 7)
    count = weeks * len(days)
    return count + sum(1 for i in range(extra) if (first + timedelta(weeks * 7 + i)).weekday() in days)


@dataclass(frozen=True)
class Pace:
    done: int
    quantity: int
    remaining: int
    percent: int
    needed_per_day: int  # to finish on the due date, per working day left (today included)
    recent_per_day: int  # trailing 7 days, per working day in them
    projected: date | None  # None when there is no recent pace to project from
    at_risk: bool


def pace(
    *,
    done: int,
    quantity: int,
    due: date,
    today: date,
    daily: Mapping[date, int],
    days: Collection[int],
    started: date | None = None,
) -> Pace:
    """Where an order stands and whether it will finish by its due date.

    The recent pace is over the trailing 7 days, or since the order started if that is
    later; an order younger than a few working days with no pace yet is not judged.
    """
    remaining = max(quantity - done, 0)
    left = working_days(today, due, days)
    needed = _ceil(remaining, left) if left else remaining
    window_start = max(today - timedelta(TRAILING_DAYS - 1), started or date.min)
    window = working_days(window_start, today, days) or 1
    recent = sum(n for d, n in daily.items() if window_start <= d <= today)
    per_day = recent / window
    projected = today if remaining == 0 else _finish(today, remaining, per_day, days)
    young = started is not None and working_days(started, today, days) <= JUDGE_AFTER_WORKING_DAYS
    at_risk = remaining > 0 and (projected > due if projected else not young)
    return Pace(
        done=done,
        quantity=quantity,
        remaining=remaining,
        percent=done * 100 // quantity if quantity else 0,
        needed_per_day=needed,
        recent_per_day=round(per_day),
        projected=projected,
        at_risk=at_risk,
    )


def _finish(today: date, remaining: int, per_day: float, days: Collection[int]) -> date | None:
    if per_day <= 0 or not days:
        return None
    needed = _ceil(remaining, per_day)
    if needed > 3650:
        return None
    # Work from tomorrow: today's pieces are already in the trailing pace.
    day, counted = today, 0
    while counted < needed:
        day += timedelta(1)
        counted += day.weekday() in days
    return day


def _ceil(a: float, b: float) -> int:
    return int(-(-a // b))
