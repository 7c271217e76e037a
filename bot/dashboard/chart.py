"""The burn-up chart's geometry: pure arithmetic; templates/web/_burnup.svg draws it."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, timedelta

WIDTH, HEIGHT = 640, 280
LEFT, RIGHT, TOP, BOTTOM = 64, 16, 16, 32  # room for the axes' labels


@dataclass(frozen=True)
class Tick:
    at: float  # pixels along the axis
    value: int | date


@dataclass(frozen=True)
class BurnUp:
    width: int
    height: int
    left: int
    top: int
    right_edge: float
    bottom_edge: float
    done: str  # SVG points of cumulative pieces, one per day up to today
    plan: tuple[float, float, float, float]  # the straight line from 0 at the start to quantity when due
    goal_y: float  # the quantity's height
    today_x: float
    due_x: float
    y_ticks: list[Tick]
    x_ticks: list[Tick]
    total: int


def burn_up(*, start: date, due: date, today: date, quantity: int, daily: Mapping[date, int]) -> BurnUp:
    """Cumulative pieces per day from the order's start, against the line to quantity at the due date."""
    first = min([start, *daily])
    last = max(due, today)
    days = (last - first).days + 1
    total = sum(daily.values())
    top_value = _nice(max(quantity, total))
    right, bottom = WIDTH - RIGHT, HEIGHT - BOTTOM

    def x(day: date) -> float:  # the end of `day`
        return round(LEFT + (right - LEFT) * ((day - first).days + 1) / days, 1)

    def y(value: int) -> float:
        return round(bottom - (bottom - TOP) * value / top_value, 1)

    points, running = [(float(LEFT), y(0))], 0
    day = first
    while day <= min(today, last):
        running += daily.get(day, 0)
        points.append((x(day), y(running)))
        day += timedelta(1)
    step = max(1, days // 6)
    x_ticks = [Tick(x(first + timedelta(i)), first + timedelta(i)) for i in range(0, days, step)]
    y_ticks = [Tick(y(top_value * i // 4), top_value * i // 4) for i in range(5)]
    return BurnUp(
        width=WIDTH, height=HEIGHT, left=LEFT, top=TOP, right_edge=right, bottom_edge=bottom,
        done=" ".join(f"{px},{py}" for px, py in points),
        plan=(float(LEFT), y(0), x(due), y(quantity)),
        goal_y=y(quantity), today_x=x(today), due_x=x(due),
        y_ticks=y_ticks, x_ticks=x_ticks, total=total,
    )


def _nice(value: int) -> int:
    """A round ceiling for the y axis: 15,000 → 16,000; 600 → 600; 0 → 4."""
    if value <= 0:
        return 4
    magnitude = 10 ** max(len(str(value)) - 2, 0)
    return -(-value // (4 * magnitude)) * 4 * magnitude
