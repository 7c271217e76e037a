"""The cooperative's clock: local time, working days, quiet hours. Pure functions."""

from __future__ import annotations

from datetime import UTC, date, datetime, time
from zoneinfo import ZoneInfo

from bot.models import Cooperative
from bot.progress import parse_working_days


def local(cooperative: Cooperative, at: datetime) -> datetime:
    """The cooperative's wall-clock time at the aware moment `at`."""
    return at.astimezone(ZoneInfo(cooperative.timezone))


def today(cooperative: Cooperative, at: datetime) -> date:
    """The cooperative's calendar day at `at`."""
    return local(cooperative, at).date()


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
    now = local(cooperative, at).time()
    start, end = clock_time(cooperative.quiet_start), clock_time(cooperative.quiet_end)
    if start == end:
        return False
    if start < end:
        return start <= now < end
    return now >= start or now < end


def instant(cooperative: Cooperative, at: datetime | None) -> datetime:
    """`--at` for this cooperative: an aware moment as is, a naive one as its local time."""
    if at is None:
        return datetime.now(UTC)
    if at.tzinfo is None:
        return at.replace(tzinfo=ZoneInfo(cooperative.timezone))
    return at


def start_of_day(cooperative: Cooperative, day: date) -> datetime:
    """The aware moment the cooperative's `day` begins."""
    return datetime.combine(day, time(0), tzinfo=ZoneInfo(cooperative.timezone))
