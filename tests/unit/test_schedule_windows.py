"""Cron windows (after, until]: a week of fire times checked by hand, DST, catch-up, the legacy crons."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from databridge_pipeline.configs.loader import load_tables
from databridge_pipeline.domain.schedule import ScheduleIndex, Window, due_runs, fire_times, next_fire_time
from databridge_pipeline.domain.tables import Table, TableConfig, TableId

EXAMPLES = Path(__file__).resolve().parents[2] / "table_configs"


def utc(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=UTC)


def window(after: datetime, until: datetime) -> Window:
    return Window(after=after, until=until)


def test_a_week_of_the_example_configs_fires_when_computed_by_hand():
    tables = load_tables(EXAMPLES)
    week = window(utc(2026, 11, 23), utc(2026, 11, 30))  # Monday 00:00 UTC to the next Monday

    runs = [(str(r.table), r.scheduled_for) for r in due_runs(tables, week, latest_only=False)]

    # databridge/lni/inspections: 06:15 America/New_York = 11:15 UTC (EST, UTC-5) every day.
    inspections = [utc(2026, 11, day, 11, 15) for day in range(23, 30)]
    # knack/carto_phl/ppr/ppr_events: 08:45 UTC, Tuesday (2) to Saturday (6): the 24th to the 28th.
    ppr_events = [utc(2026, 11, day, 8, 45) for day in range(24, 29)]
    # airtable/airtable/immigrant_services: 07:30 UTC every day.
    immigrant_services = [utc(2026, 11, day, 7, 30) for day in range(23, 30)]
    # databridge/opa/assessment_history: first Sunday of Jan/Apr/Jul/Oct: none this week.
    # databridge/health/clinic_locations: manual only: never.
    expected = sorted(
        [("databridge/lni/inspections", t) for t in inspections]
        + [("knack/carto_phl/ppr/ppr_events", t) for t in ppr_events]
        + [("airtable/airtable/immigrant_services", t) for t in immigrant_services],
        key=lambda run: (run[1], run[0]),
    )
    assert runs == expected


def test_the_same_local_time_moves_in_utc_across_the_dst_change():
    summer = fire_times("15 6 * * *", "America/New_York", window(utc(2026, 10, 30), utc(2026, 11, 3)))

    assert summer == [
        utc(2026, 10, 30, 10, 15),
        utc(2026, 10, 31, 10, 15),
        utc(2026, 11, 1, 11, 15),
        utc(2026, 11, 2, 11, 15),
    ]


def test_a_local_time_skipped_by_spring_forward_fires_once_when_the_clock_jumps():
    day = window(utc(2026, 3, 8, 0), utc(2026, 3, 9, 0))  # 2026-03-08: 02:00 EST -> 03:00 EDT

    assert fire_times("30 2 * * *", "America/New_York", day) == [utc(2026, 3, 8, 7, 30)]  # 03:30 EDT


def test_a_local_time_repeated_by_fall_back_fires_once_at_its_first_occurrence():
    day = window(utc(2026, 11, 1, 0), utc(2026, 11, 2, 0))  # 2026-11-01: 02:00 EDT -> 01:00 EST

    assert fire_times("30 1 * * *", "America/New_York", day) == [utc(2026, 11, 1, 5, 30)]  # 01:30 EDT
    assert fire_times("30 2 * * *", "America/New_York", day) == [utc(2026, 11, 1, 7, 30)]  # 02:30 EST


def test_the_window_is_open_at_its_start_and_closed_at_its_end():
    tick = utc(2026, 11, 24, 11, 3)

    assert fire_times("3 11 * * *", "UTC", window(tick - timedelta(minutes=1), tick)) == [tick]
    assert fire_times("3 11 * * *", "UTC", window(tick, tick + timedelta(minutes=1))) == []


@pytest.mark.parametrize(
    ("cron", "after", "expected"),
    [
        ("0 5 * Jan,Apr,Jul,Oct 0#1", utc(2026, 11, 24), utc(2027, 1, 3, 5)),  # first Sunday of January 2027
        ("0 8 * * 2-6", utc(2026, 11, 28, 9), utc(2026, 12, 1, 8)),  # Saturday after 8 -> Tuesday
        ("00 15 * * *", utc(2026, 11, 24, 15), utc(2026, 11, 25, 15)),
        ("0 7 1 * *", utc(2026, 11, 24), utc(2026, 12, 1, 7)),
        ("0 10 * * 0", utc(2026, 11, 24), utc(2026, 11, 29, 10)),
    ],
)
def test_the_legacy_cron_forms_work(cron, after, expected):
    assert next_fire_time(cron, "UTC", after) == expected


def table(name: str, cron: str | None) -> Table:
    return Table(id=TableId.parse(f"databridge/test/{name}"), config=TableConfig(schedule_interval=cron or False))


def test_a_late_tick_dispatches_only_the_latest_missed_run_of_each_table():
    tables = [table("hourly", "0 * * * *"), table("daily", "30 9 * * *"), table("manual", None)]
    missed = window(utc(2026, 11, 24, 8, 0), utc(2026, 11, 24, 11, 5))

    runs = [(str(r.table), r.scheduled_for) for r in due_runs(tables, missed)]

    assert runs == [
        ("databridge/test/daily", utc(2026, 11, 24, 9, 30)),
        ("databridge/test/hourly", utc(2026, 11, 24, 11)),
    ]


def test_manual_only_tables_never_fall_due():
    assert due_runs([table("manual", None)], window(utc(2026, 1, 1), utc(2027, 1, 1)), latest_only=False) == []


# The index walks a tick's window minute by minute; croniter walks each schedule. Both must agree on every
# fire time, DST days included (New York's 1-hour change, Lord Howe's 30-minute one, Kolkata's none).
CRONS = [
    "30 2 * * *", "30 1 * * *", "*/30 * * * *", "45 1,2,3 * * *", "0 5 * Jan,Apr,Jul,Oct 0#1", "0 8 * * 2-6",
    "@hourly", "0 0 1 * 1", "0 0 L * *", "59 23 * * *", "5,35 3,23 * * *", "0 6 * * 7", "0 6 */2 * *", "* 2 * * *",
]  # fmt: skip
ZONES = ["UTC", "America/New_York", "Australia/Lord_Howe", "Asia/Kolkata"]
DAYS = [
    utc(2026, 3, 7, 18), utc(2026, 3, 8, 0), utc(2026, 4, 4, 12), utc(2026, 4, 5, 0), utc(2026, 10, 3, 12),
    utc(2026, 11, 1, 0), utc(2026, 11, 1, 4, 30), utc(2027, 1, 2, 12), utc(2026, 1, 31, 12), utc(2026, 6, 1, 0),
]  # fmt: skip


def zoned(name: str, cron: str, timezone: str) -> Table:
    config = TableConfig(schedule_interval=cron, timezone=timezone)
    return Table(id=TableId.parse(f"databridge/test/{name}"), config=config)


@pytest.mark.parametrize("start", DAYS, ids=lambda d: d.strftime("%Y%m%dT%H%M"))
def test_the_index_finds_every_fire_time_croniter_finds_in_a_day(start):
    tables = [zoned(f"t{i}_{j}", cron, zone) for i, cron in enumerate(CRONS) for j, zone in enumerate(ZONES)]
    day = window(start, start + timedelta(hours=24))
    expected = sorted(
        ((str(t.id), moment) for t in tables for moment in fire_times(str(t.config.cron), t.config.timezone, day)),
        key=lambda run: (run[1], run[0]),
    )

    index = ScheduleIndex(tables)
    found = [(str(r.table), r.scheduled_for) for r in index.due(day, latest_only=False)]

    assert found == expected
    assert expected, "the day has fire times to compare"


def test_an_index_answers_successive_ticks_as_croniter_does():
    tables = [zoned(f"t{i}_{j}", cron, zone) for i, cron in enumerate(CRONS) for j, zone in enumerate(ZONES)]
    index = ScheduleIndex(tables)  # built once, asked tick after tick, as a warm dispatcher does
    tick = utc(2026, 3, 8, 6, 45)  # New York springs forward at 07:00 UTC
    while tick < utc(2026, 3, 8, 7, 45):
        minute = window(tick, tick + timedelta(minutes=1))
        fired = {str(t.id): fire_times(str(t.config.cron), t.config.timezone, minute) for t in tables}
        expected = sorted(((table, times[-1]) for table, times in fired.items() if times), key=lambda r: (r[1], r[0]))

        assert [(str(r.table), r.scheduled_for) for r in index.due(minute)] == expected
        tick = minute.until


def test_a_tick_that_catches_up_a_day_finds_the_latest_fire_of_each_table():
    tables = [zoned("daily_ny", "30 2 * * *", "America/New_York"), zoned("hourly", "@hourly", "UTC")]
    day = window(utc(2026, 3, 7, 12), utc(2026, 3, 8, 11, 59))

    runs = [(str(r.table), r.scheduled_for) for r in ScheduleIndex(tables).due(day)]

    assert runs == [
        ("databridge/test/daily_ny", utc(2026, 3, 8, 7, 30)),
        ("databridge/test/hourly", utc(2026, 3, 8, 11)),
    ]
