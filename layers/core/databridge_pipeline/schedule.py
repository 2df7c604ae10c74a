"""Cron windows: which tables are due in a tick's window ``(after, until]``.

Crons are read with croniter, as Airflow did, on the table's local wall clock, then placed on the UTC time
line. Around DST changes a wall-clock time that does not exist (spring forward) fires at the moment the
clock jumps over it, and one that exists twice (fall back) fires at its first occurrence: each cron fire
happens exactly once.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

from croniter import croniter
from pydantic import BaseModel, ConfigDict, field_validator

from databridge_pipeline.config import Table, TableId

# Largest UTC-offset change a zone makes in one DST transition, with room to spare; the local-time
# iteration starts this much early so a time shifted over a gap is never missed.
_DST_MARGIN = timedelta(hours=3)


def as_utc(moment: datetime) -> datetime:
    """An aware UTC datetime; a naive one is taken to be UTC already."""
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


class Window(BaseModel):
    """A tick's half-open window ``(after, until]`` in UTC."""

    model_config = ConfigDict(frozen=True)

    after: datetime
    until: datetime

    @field_validator("after", "until")
    @classmethod
    def _utc(cls, value: datetime) -> datetime:
        return as_utc(value)


class DueRun(BaseModel):
    """A table whose cron fired in a window, at ``scheduled_for`` (UTC)."""

    model_config = ConfigDict(frozen=True)

    table: TableId
    scheduled_for: datetime


@lru_cache(maxsize=64)
def _zone(name: str) -> ZoneInfo:
    return ZoneInfo(name)


def fire_times(cron: str, timezone: str, window: Window) -> list[datetime]:
    """Every fire time of ``cron`` (read in ``timezone``) with ``after < t <= until``, in UTC, ascending."""
    zone = _zone(timezone)
    margin = timedelta(0) if timezone == "UTC" else _DST_MARGIN
    local_start = window.after.astimezone(zone).replace(tzinfo=None) - margin
    local_stop = window.until.astimezone(zone).replace(tzinfo=None) + margin
    seen: set[datetime] = set()
    times: list[datetime] = []
    for wall in _wall_times(cron, local_start):
        if wall > local_stop:
            break
        moment = wall.replace(tzinfo=zone).astimezone(UTC)
        if window.after < moment <= window.until and moment not in seen:
            seen.add(moment)
            times.append(moment)
    times.sort()
    return times


def next_fire_time(cron: str, timezone: str, after: datetime) -> datetime:
    """The first fire time strictly after ``after``, in UTC."""
    zone = _zone(timezone)
    after = as_utc(after)
    start = after.astimezone(zone).replace(tzinfo=None) - (timedelta(0) if timezone == "UTC" else _DST_MARGIN)
    for wall in _wall_times(cron, start):
        moment = wall.replace(tzinfo=zone).astimezone(UTC)
        if moment > after:
            return moment
    raise AssertionError("croniter iterates without end")  # pragma: no cover


def _wall_times(cron: str, start: datetime) -> Iterator[datetime]:
    """Naive local wall-clock fire times strictly after ``start``."""
    iterator = croniter(cron, start)
    while True:
        yield iterator.get_next(datetime)


def due_runs(tables: Iterable[Table], window: Window, latest_only: bool = True) -> list[DueRun]:
    """The runs to dispatch for a window, sorted by time then table.

    With ``latest_only`` (what a tick does) a table whose cron fired several times in the window - after
    missed ticks - runs once, for its latest fire time, like Airflow's ``catchup=False``. Tables sharing a
    schedule share one cron computation.
    """
    by_schedule: dict[tuple[str, str], list[Table]] = defaultdict(list)
    for table in tables:
        cron = table.config.cron
        if cron is not None:
            by_schedule[(cron, table.config.timezone)].append(table)
    runs: list[DueRun] = []
    for (cron, timezone), group in by_schedule.items():
        times = fire_times(cron, timezone, window)
        if latest_only:
            times = times[-1:]
        runs.extend(DueRun(table=t.id, scheduled_for=moment) for t in group for moment in times)
    runs.sort(key=lambda run: (run.scheduled_for, str(run.table)))
    return runs
