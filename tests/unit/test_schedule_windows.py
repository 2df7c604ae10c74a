"""Cron windows (after, until]: a week of fire times checked by hand, DST, catch-up, the legacy crons."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from databridge_pipeline.config import Table, TableConfig, TableId, load_tables
from databridge_pipeline.schedule import Window, due_runs, fire_times, next_fire_time

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
