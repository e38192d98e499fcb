"""The one source of "now" for every service: system time, a fixed instant, or a simulated clock.

Configured by a string so the same setting works in env vars and on the command line:

- ``system``: wall-clock time;
- ``fixed:2026-03-01T08:00:00+01:00``: always that instant (tests, what-if);
- ``simulated:2026-03-01T08:00:00+01:00*3600``: starts at that instant and runs 3600 times faster
  than real time. An optional ``@<unix seconds>`` anchors the start to a real instant, so several
  processes started a few seconds apart agree on the simulated time.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Protocol
from zoneinfo import ZoneInfo

STOCKHOLM = ZoneInfo("Europe/Stockholm")


class Clock(Protocol):
    def now(self) -> datetime: ...

    def today(self) -> date: ...


class _StockholmToday:
    def now(self) -> datetime:
        raise AttributeError("a clock defines now()")

    def today(self) -> date:
        """The calendar date in Europe/Stockholm: the date every rule counts in."""
        return self.now().astimezone(STOCKHOLM).date()


@dataclass(frozen=True)
class SystemClock(_StockholmToday):
    def now(self) -> datetime:
        return datetime.now(UTC)


@dataclass(frozen=True)
class FixedClock(_StockholmToday):
    instant: datetime

    def now(self) -> datetime:
        return self.instant


@dataclass(frozen=True)
class SimulatedClock(_StockholmToday):
    start: datetime
    speed: float
    anchor: float = field(default_factory=time.time)

    def now(self) -> datetime:
        return self.start + timedelta(seconds=(time.time() - self.anchor) * self.speed)


def _aware(text: str) -> datetime:
    instant = datetime.fromisoformat(text)
    if instant.tzinfo is None:
        instant = instant.replace(tzinfo=STOCKHOLM)
    return instant


def parse_clock(spec: str) -> Clock:
    """Build a clock from its configuration string (see the module docstring)."""
    kind, _, rest = spec.strip().partition(":")
    if kind == "system" and not rest:
        return SystemClock()
    if kind == "fixed" and rest:
        return FixedClock(_aware(rest))
    if kind == "simulated" and rest:
        rest, _, anchor = rest.partition("@")
        start, _, speed = rest.rpartition("*")
        if not start:
            start, speed = rest, "1"
        if not float(speed) > 0:
            raise ValueError(f"a simulated clock runs forward: speed must be above 0, not {speed!r}")
        return SimulatedClock(_aware(start), float(speed), float(anchor) if anchor else time.time())
    raise ValueError(f"unknown clock {spec!r}: use 'system', 'fixed:<ISO time>' or 'simulated:<ISO time>*<speed>[@<unix anchor>]'")
