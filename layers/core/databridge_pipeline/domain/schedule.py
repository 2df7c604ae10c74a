"""Cron windows: which tables are due in a tick's window ``(after, until]``.

Crons are read with croniter, as Airflow did, on the table's local wall clock, then placed on the UTC time
line. Around DST changes a wall-clock time that does not exist (spring forward) fires at the moment the
clock jumps over it, and one that exists twice (fall back) fires at its first occurrence: each cron fire
happens exactly once.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

from croniter import croniter
from pydantic import BaseModel, ConfigDict, field_validator

from databridge_pipeline.domain.run_request import as_utc
from databridge_pipeline.domain.tables import Table, TableId

# Largest UTC-offset change a zone makes in one DST transition, with room to spare; the local-time
# iteration starts this much early so a time shifted over a gap is never missed.
_DST_MARGIN = timedelta(hours=3)
_MINUTE = timedelta(minutes=1)
# A window up to this long (a tick's, catch-up included) is walked minute by minute through the index;
# a longer one (the CLI's `due` over weeks) asks croniter for each schedule's fire times instead.
_LONGEST_MINUTE_WALK = timedelta(hours=25)


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


# Minute and hour fields this plain (``5``, ``0,30``, ``*``) read the same in every cron dialect; a cron
# made only of them plus ``* * *`` (most of the City's) is filed without asking croniter to parse it.
_PLAIN_FIELD = re.compile(r"^(\*|[0-9]+(,[0-9]+)*)$")


@dataclass(frozen=True)
class _Clock:
    """When in a day a five-field cron can fire, and whether it fires every day."""

    hours: tuple[int, ...]
    minutes: tuple[int, ...]
    every_day: bool


@lru_cache(maxsize=4096)
def _clock(cron: str) -> _Clock | None:
    """The cron's clock, or None for one with seconds or years (walked with croniter instead)."""
    fields = cron.split()
    plain = len(fields) == 5 and all(_PLAIN_FIELD.match(f) for f in fields[:2]) and fields[2:] == ["*", "*", "*"]
    if not plain:
        expanded = croniter.expand(cron)[0]
        if len(expanded) != 5:
            return None
        fields = [",".join(str(value) for value in values) for values in expanded]
    minutes, hours = (
        tuple(range(size)) if text == "*" else tuple(int(value) for value in text.split(","))
        for text, size in ((fields[0], 60), (fields[1], 24))
    )
    return _Clock(hours, minutes, every_day=fields[2:] == ["*", "*", "*"])


@lru_cache(maxsize=8192)
def _fires_on(cron: str, clock: _Clock, day: date) -> bool:
    """Whether a cron's day, month and weekday fields accept ``day``; asked at a time of day of its clock, as
    croniter matches whole times (the index has already matched the hour and minute)."""
    return bool(croniter.match(cron, datetime.combine(day, time(clock.hours[0], clock.minutes[0]))))


@dataclass(frozen=True, eq=False)
class _Schedule:
    """The tables sharing one (cron, time zone) pair, and when in a day the cron can fire."""

    cron: str
    timezone: str
    tables: tuple[TableId, ...]
    clock: _Clock | None

    def fires_on(self, day: date) -> bool:
        return self.clock is not None and (self.clock.every_day or _fires_on(self.cron, self.clock, day))


class ScheduleIndex:
    """The scheduled tables grouped by (cron, time zone), each group filed under the local hours and minutes
    its cron can fire at. Built once per catalog; a window then looks up only its own minutes, so a tick
    costs what is due in it, not what is scheduled."""

    def __init__(self, tables: Iterable[Table]) -> None:
        groups: dict[tuple[str, str], list[TableId]] = defaultdict(list)
        for table in tables:
            cron = table.config.cron
            if cron is not None:
                groups[(cron, table.config.timezone)].append(table.id)
        self.schedules = [_Schedule(cron, zone, tuple(ids), _clock(cron)) for (cron, zone), ids in groups.items()]
        self._by_minute: dict[str, dict[tuple[int, int], list[_Schedule]]] = defaultdict(lambda: defaultdict(list))
        self._walked: list[_Schedule] = []
        for schedule in self.schedules:
            if schedule.clock is None:
                self._walked.append(schedule)
                continue
            by_minute = self._by_minute[schedule.timezone]
            for hour in schedule.clock.hours:
                for minute in schedule.clock.minutes:
                    by_minute[(hour, minute)].append(schedule)

    def due(self, window: Window, latest_only: bool = True) -> list[DueRun]:
        """The runs to dispatch for a window, sorted by time then table.

        With ``latest_only`` (what a tick does) a table whose cron fired several times in the window - after
        missed ticks - runs once, for its latest fire time, like Airflow's ``catchup=False``.
        """
        if window.until - window.after > _LONGEST_MINUTE_WALK:
            fired = {s: fire_times(s.cron, s.timezone, window) for s in self.schedules}
        else:
            fired = self._walk(window)
            fired.update((s, fire_times(s.cron, s.timezone, window)) for s in self._walked)
        runs: list[DueRun] = []
        for schedule, times in fired.items():
            for moment in times[-1:] if latest_only else times:
                runs.extend(DueRun(table=table, scheduled_for=moment) for table in schedule.tables)
        runs.sort(key=lambda run: (run.scheduled_for, str(run.table)))
        return runs

    def _walk(self, window: Window) -> dict[_Schedule, list[datetime]]:
        """Each schedule's fire times in the window, found minute by minute through the index."""
        fired: dict[_Schedule, list[datetime]] = {}
        first = window.after.replace(second=0, microsecond=0) + _MINUTE
        last = window.until.replace(second=0, microsecond=0)
        for timezone, by_minute in self._by_minute.items():
            for moment, wall in _walls(_zone(timezone), first, last):
                for schedule in by_minute.get((wall.hour, wall.minute), ()):
                    if schedule.fires_on(wall.date()):
                        times = fired.setdefault(schedule, [])
                        if not times or times[-1] != moment:  # two walls map to one moment in a DST gap
                            times.append(moment)
        return fired


def _walls(zone: ZoneInfo, first: datetime, last: datetime) -> Iterator[tuple[datetime, datetime]]:
    """``(moment, wall)`` for each UTC minute from ``first`` to ``last`` and each local wall time that fires
    at it (see the module's note on DST): one wall, none for the repeated hour, two in the skipped hour."""
    offsets = {
        (moment.astimezone(zone).utcoffset() or timedelta(0)) for moment in (first - _DST_MARGIN, last + _DST_MARGIN)
    }
    moment = first
    if len(offsets) == 1:  # no DST change near the window: one wall time per minute
        [offset] = offsets
        while moment <= last:
            yield moment, (moment + offset).replace(tzinfo=None)
            moment += _MINUTE
        return
    while moment <= last:
        for offset in sorted(offsets):
            wall = (moment + offset).replace(tzinfo=None)
            if wall.replace(tzinfo=zone).astimezone(UTC) == moment:
                yield moment, wall
        moment += _MINUTE


def due_runs(tables: Iterable[Table], window: Window, latest_only: bool = True) -> list[DueRun]:
    """The runs due in a window (see ``ScheduleIndex.due``), for a one-off question such as the CLI's."""
    return ScheduleIndex(tables).due(window, latest_only)
