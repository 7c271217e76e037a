"""Pure arithmetic: working days, pace, projected finish, and the rule for choosing the order."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import pytest

from bot.progress import format_working_days, pace, parse_working_days, working_days
from handlers.report import choose_order

MON_SAT = parse_working_days("mon-sat")


@pytest.mark.parametrize("text, days", [
    ("mon-sat", {0, 1, 2, 3, 4, 5}),
    ("mon-fri", {0, 1, 2, 3, 4}),
    ("mon,wed,fri", {0, 2, 4}),
    ("sat-mon", {5, 6, 0}),
    ("SUN", {6}),
])
def test_working_days_are_read_from_ranges(text, days):
    assert parse_working_days(text) == days


@pytest.mark.parametrize("text", ["", "lun-sab", "mon-", "monday", "mon-xyz"])
def test_unreadable_working_days(text):
    with pytest.raises(ValueError):
        parse_working_days(text)


def test_working_days_round_trip():
    assert format_working_days(parse_working_days("mon-sat")) == "mon,tue,wed,thu,fri,sat"


def test_counting_working_days():
    thursday = date(2026, 11, 26)
    assert working_days(thursday, thursday, MON_SAT) == 1
    assert working_days(thursday, date(2026, 11, 29), MON_SAT) == 3  # Thu, Fri, Sat; not Sun
    assert working_days(thursday, date(2026, 12, 23), MON_SAT) == 24
    assert working_days(thursday, date(2026, 11, 25), MON_SAT) == 0


def test_an_order_on_track():
    today = date(2026, 11, 26)
    daily = {date(2026, 11, d): 600 for d in (20, 21, 23, 24, 25, 26)}
    standing = pace(done=9_200, quantity=15_000, due=date(2026, 12, 23), today=today, daily=daily,
                    days=MON_SAT)
    assert standing.remaining == 5_800
    assert standing.percent == 61
    assert standing.needed_per_day == 242  # 5.800 over 24 working days, rounded up
    assert standing.recent_per_day == 600
    assert standing.projected == date(2026, 12, 8)  # 10 working days from Friday 27
    assert standing.at_risk is False


def test_an_order_behind_is_at_risk():
    standing = pace(done=1_000, quantity=15_000, due=date(2026, 12, 1), today=date(2026, 11, 26),
                    daily={date(2026, 11, 26): 100}, days=MON_SAT)
    assert standing.at_risk is True
    assert standing.needed_per_day == 2_800  # 14.000 over Thu, Fri, Sat, Mon and Tue


def test_without_recent_work_there_is_no_projection():
    standing = pace(done=0, quantity=100, due=date(2026, 12, 1), today=date(2026, 11, 26), daily={},
                    days=MON_SAT)
    assert (standing.projected, standing.at_risk, standing.recent_per_day) == (None, True, 0)


def test_a_finished_order_is_not_at_risk_even_when_overdue():
    standing = pace(done=120, quantity=100, due=date(2026, 11, 1), today=date(2026, 11, 26), daily={},
                    days=MON_SAT)
    assert (standing.remaining, standing.percent, standing.at_risk) == (0, 120, False)
    assert standing.projected == date(2026, 11, 26)


def test_past_the_due_date_everything_left_is_needed_now():
    standing = pace(done=50, quantity=100, due=date(2026, 11, 20), today=date(2026, 11, 26),
                    daily={date(2026, 11, 26): 10}, days=MON_SAT)
    assert standing.needed_per_day == 50
    assert standing.at_risk is True


@dataclass
class FakeOrder:
    code: str


A, B, MT = FakeOrder("A"), FakeOrder("B"), FakeOrder("MT")


@pytest.mark.parametrize("code, active, assigned, expected", [
    ("B", [A, B, MT], [A], B),  # a code names any active order, assigned or not
    (None, [A, B, MT], [A], A),  # no code: her only assigned order
    (None, [A, B, MT], [A, MT], ["A", "MT"]),  # several assigned: ask, listing hers
    (None, [A, B], [], ["A", "B"]),  # none assigned: ask, listing the cooperative's
    (None, [A], [], ["A"]),  # even one unassigned active order is asked about
    (None, [], [], []),  # nothing active: nothing to record against
    ("Z", [A], [A], ["A"]),  # a code of no active order is never guessed
])
def test_choosing_the_order(code, active, assigned, expected):
    assert choose_order(code, active, assigned) == expected
