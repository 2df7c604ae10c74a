"""Freshness: stale once the first fire after the last success has had its whole timeout, by the calendar."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from databridge_pipeline.domain.freshness import age, is_stale, stale_deadline
from databridge_pipeline.domain.runs import Run, StepRecord
from databridge_pipeline.domain.table_status import run_reason, table_statuses
from databridge_pipeline.domain.tables import Table, TableConfig, TableId


def table(cron: str | bool, timezone: str = "UTC", timeout: int = 240, name: str = "permits") -> Table:
    config = TableConfig(schedule_interval=cron, timezone=timezone, timeout_minutes=timeout)
    return Table(id=TableId.parse(f"databridge/lni/{name}"), config=config)


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def test_a_daily_table_is_stale_once_the_next_fire_has_had_its_timeout():
    daily = table("15 6 * * *", "America/New_York")  # 11:15 UTC in November
    success = at("2026-11-24T11:20")

    assert stale_deadline(daily, success) == at("2026-11-25T15:15")
    assert not is_stale(daily, success, at("2026-11-25T15:15"))
    assert is_stale(daily, success, at("2026-11-25T15:16"))


def test_a_weekday_table_is_not_stale_over_the_weekend():
    weekdays = table("0 8 * * 2-6", timeout=60)  # Tuesday to Saturday, as the legacy configs have it
    saturday = at("2026-11-28T08:05")

    assert stale_deadline(weekdays, saturday) == at("2026-12-01T09:00"), "Tuesday's fire plus the timeout"
    assert not is_stale(weekdays, saturday, at("2026-11-30T23:00"))


def test_a_quarterly_table_waits_for_its_next_quarter():
    quarterly = table("0 5 * Jan,Apr,Jul,Oct 0#1")

    assert stale_deadline(quarterly, at("2026-10-04T05:30")) == at("2027-01-03T09:00")


def test_manual_tables_are_exempt_and_a_never_run_table_counts_from_when_it_was_first_seen():
    assert stale_deadline(table(False), at("2026-01-01T00:00")) is None
    assert not is_stale(table(False), None, at("2030-01-01T00:00"))
    assert stale_deadline(table("0 5 * * *"), None) is None

    assert is_stale(table("0 5 * * *"), at("2026-11-24T00:00"), at("2026-11-24T09:01"))


@pytest.mark.parametrize(
    ("since", "text"),
    [(None, "never"), ("2026-11-25T11:48", "12m"), ("2026-11-25T06:40", "5h 20m"), ("2026-11-22T08:00", "3d 4h")],
)
def test_age_is_short(since, text):
    assert age(at(since) if since else None, at("2026-11-25T12:00")) == text


def run(status: str, step: StepRecord, finished: str | None = None) -> Run:
    return Run(
        table="databridge/lni/permits",
        run_id="r",
        trigger="schedule",
        status=status,
        steps=(step,),
        created_at=at("2026-11-24T11:15"),
        updated_at=at("2026-11-24T11:20"),
        finished_at=at(finished) if finished else None,
    )


def test_the_reason_is_one_line():
    failed = StepRecord(name="load", status="failed", status_reason="CartoException:\n  timeout", exit_code=1)
    retrying = StepRecord(name="extract", status="retry_pending", attempts=2)

    assert run_reason(run("failed", failed)) == "CartoException: timeout (exit code 1)"
    assert run_reason(run("running", retrying)) == "extract retry pending, attempt 2"


def test_a_failed_latest_run_keeps_the_last_success_before_it_and_turns_stale():
    daily = table("15 11 * * *")
    ok = run("succeeded", StepRecord(name="extract", status="succeeded"), finished="2026-11-23T11:20")
    failed = run("failed", StepRecord(name="extract", status="failed", status_reason="boom"), "2026-11-24T11:20")

    [row] = table_statuses([daily], {"databridge/lni/permits": [failed, ok]}, [], {}, at("2026-11-24T15:16"))

    assert (row.state, row.step, row.last_success, row.stale) == ("failed", "extract", at("2026-11-23T11:20"), True)
    assert row.next_fire == at("2026-11-25T11:15")


def test_stale_tables_marks_the_episode_already_alerted_and_leaves_out_paused_and_unseen_tables():
    from databridge_pipeline.domain.freshness import Freshness, stale_tables

    a, b, c = (table("0 5 * * *", name=n) for n in ("a", "b", "c"))
    records = {
        "databridge/lni/a": Freshness(table="databridge/lni/a", last_success=at("2026-11-20T05:10")),
        "databridge/lni/b": Freshness(
            table="databridge/lni/b", first_seen=at("2026-11-20T00:00"), alerted_for=at("2026-11-20T00:00")
        ),
        "databridge/lni/c": Freshness(table="databridge/lni/c", last_success=at("2026-11-20T05:10")),
    }
    now = at("2026-11-24T12:00")

    stale = stale_tables([a, b, c, table("0 5 * * *", name="new")], records, ["databridge/lni/c"], now)

    assert [(s.table, s.never_succeeded, s.alerted) for s in stale] == [
        ("databridge/lni/a", False, False),
        ("databridge/lni/b", True, True),
    ]
    assert stale[0].deadline == at("2026-11-21T09:00")
