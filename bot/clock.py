"""The one clock: what time it is (`now()`), and the cooperative's local time, working days
and quiet hours.

Every module asks `clock.now()` at the moment it needs the time, never at import, so a test
(or `puntada demo --at`) can move the whole program's clock with `travel` or `freeze` and
everything, from the webhook to the dashboard and the jobs, sees the same moment.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime, time, timedelta
from typing import TYPE_CHECKING, Protocol
from zoneinfo import ZoneInfo

from bot.progress import parse_working_days

if TYPE_CHECKING:
    from bot.models import Cooperative


class _HasTimezone(Protocol):
    timezone: str


_frozen: datetime | None = None  # every call answers this moment
_offset = timedelta(0)  # or the real time moved by this much, ticking on


def now() -> datetime:
    """The current moment, aware, in UTC: the form every stored time takes."""
    if _frozen is not None:
        return _frozen
    return datetime.now(UTC) + _offset


def freeze(at: datetime) -> None:
    """From now on the clock stands at `at` (aware) until `freeze`, `travel` or `reset`."""
    global _frozen, _offset
    _frozen, _offset = _aware(at).astimezone(UTC), timedelta(0)


def travel(to: datetime) -> None:
    """From now on the clock reads `to` and ticks on from there, as a real clock does."""
    global _frozen, _offset
    _frozen, _offset = None, _aware(to) - datetime.now(UTC)


def reset() -> None:
    """Back to the real time."""
    global _frozen, _offset
    _frozen, _offset = None, timedelta(0)


@contextmanager
def frozen_at(at: datetime) -> Iterator[None]:
    """The clock stands at `at` inside the block, and reads the real time again after it."""
    freeze(at)
    try:
        yield
    finally:
        reset()


def _aware(at: datetime) -> datetime:
    if at.tzinfo is None:
        raise ValueError("the clock takes aware moments only")
    return at


def local(cooperative: _HasTimezone, at: datetime) -> datetime:
    """The cooperative's wall-clock time at the aware moment `at`."""
    return at.astimezone(ZoneInfo(cooperative.timezone))


def today(cooperative: _HasTimezone, at: datetime | None = None) -> date:
    """The cooperative's calendar day at `at` (now, when not given)."""
    return local(cooperative, at or now()).date()


def is_working_day(cooperative: Cooperative, day: date) -> bool:
    """Whether the cooperative works on `day`."""
    return day.weekday() in parse_working_days(cooperative.working_days)


def clock_time(text: str) -> time:
    """'17:00' → time(17, 0)."""
    return time.fromisoformat(text)


def has_passed(cooperative: Cooperative, at: datetime, hhmm: str) -> bool:
    """Whether the cooperative's clock has reached `hhmm` today."""
    return local(cooperative, at).time() >= clock_time(hhmm)


def in_quiet_hours(cooperative: Cooperative, at: datetime) -> bool:
    """Whether only replies may go out now (the bounds may wrap past midnight)."""
    moment = local(cooperative, at).time()
    start, end = clock_time(cooperative.quiet_start), clock_time(cooperative.quiet_end)
    if start == end:
        return False
    if start < end:
        return start <= moment < end
    return moment >= start or moment < end


def instant(cooperative: _HasTimezone, at: datetime | None) -> datetime:
    """`--at` for this cooperative: an aware moment as is, a naive one as its local time."""
    if at is None:
        return now()
    if at.tzinfo is None:
        return at.replace(tzinfo=ZoneInfo(cooperative.timezone))
    return at


def start_of_day(cooperative: _HasTimezone, day: date) -> datetime:
    """The aware moment the cooperative's `day` begins."""
    return datetime.combine(day, time(0), tzinfo=ZoneInfo(cooperative.timezone))
