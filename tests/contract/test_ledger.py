"""The Ledger port's promises, held by FakeLedger and by DynamoLedger on moto's DynamoDB alike."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from fakes import FakeLedger

from databridge_pipeline.adapters.ledger import DynamoLedger
from databridge_pipeline.domain.errors import SlotBusy, StaleRun
from databridge_pipeline.domain.pauses import Pause
from databridge_pipeline.domain.runs import Run, StepRecord

AT = datetime(2026, 11, 24, 11, 15, tzinfo=UTC)
TABLE = "databridge/lni/inspections"
OTHER = "databridge/lni/permits"

Ledger = FakeLedger | DynamoLedger


def a_run(run_id: str = "manual-1", table: str = TABLE, created_at: datetime = AT, **changes: Any) -> Run:
    run = Run(
        table=table,
        run_id=run_id,
        trigger="manual",
        steps=(StepRecord(name="extract", status="submitting", attempts=1, since=created_at), StepRecord(name="load")),
        created_at=created_at,
        updated_at=created_at,
    )
    return run.model_copy(update=changes)


@pytest.fixture(params=["fake", "dynamodb"])
def ledger(request: pytest.FixtureRequest) -> Iterator[Ledger]:
    if request.param == "fake":
        yield FakeLedger()
        return
    aws = request.getfixturevalue("moto_stack")
    client, name = aws.client("dynamodb"), aws.env["LEDGER_TABLE"]
    yield DynamoLedger(client, name)
    for page in client.get_paginator("scan").paginate(TableName=name, ProjectionExpression="pk, sk"):
        for key in page["Items"]:
            client.delete_item(TableName=name, Key=key)


@pytest.fixture
def expire(ledger: Ledger, request: pytest.FixtureRequest) -> Callable[[Run], None]:
    """The run's item goes (TTL expiry, or a write that never landed); its slot, if any, stays."""
    if isinstance(ledger, FakeLedger):
        return lambda run: ledger.runs.pop((run.table, run.run_id)) and None
    aws = request.getfixturevalue("moto_stack")

    def expire_item(run: Run) -> None:
        key = {"pk": {"S": f"RUN#{run.table}"}, "sk": {"S": run.run_id}}
        aws.client("dynamodb").delete_item(TableName=aws.env["LEDGER_TABLE"], Key=key)

    return expire_item


# --- starting a run and the table's slot -------------------------------------------------------------


def test_starting_a_run_creates_it_at_version_one_and_takes_its_tables_slot(ledger):
    started = ledger.start_run(a_run())

    assert started == a_run(version=1)
    assert ledger.get_run(TABLE, "manual-1") == started
    assert ledger.slots() == [(TABLE, "manual-1", started)]


def test_a_second_run_of_a_busy_table_is_refused_naming_the_holder_and_not_created(ledger):
    ledger.start_run(a_run("manual-1"))

    with pytest.raises(SlotBusy) as busy:
        ledger.start_run(a_run("manual-2"))

    assert busy.value.holder == "manual-1"
    assert ledger.get_run(TABLE, "manual-2") is None
    assert [(table, run_id) for table, run_id, _ in ledger.slots()] == [(TABLE, "manual-1")]


def test_starting_the_same_run_again_is_refused_as_stale_and_changes_nothing(ledger):
    started = ledger.start_run(a_run())
    moved_on = ledger.save_run(started.model_copy(update={"current": 1}))

    with pytest.raises(StaleRun):
        ledger.start_run(a_run())

    assert ledger.get_run(TABLE, "manual-1") == moved_on
    assert ledger.slots() == [(TABLE, "manual-1", moved_on)]


def test_a_finished_run_started_again_after_its_slot_was_freed_does_not_take_the_slot(ledger):
    started = ledger.start_run(a_run())
    ledger.free_slot(TABLE, "manual-1")

    with pytest.raises(StaleRun):
        ledger.start_run(a_run())

    assert ledger.slots() == []
    assert ledger.get_run(TABLE, "manual-1") == started


def test_a_busy_slot_is_reported_before_a_run_that_already_exists(ledger):
    ledger.start_run(a_run("manual-1"))
    ledger.free_slot(TABLE, "manual-1")
    ledger.start_run(a_run("manual-2"))

    with pytest.raises(SlotBusy) as busy:
        ledger.start_run(a_run("manual-1"))

    assert busy.value.holder == "manual-2"


def test_slots_of_different_tables_are_independent_and_listed_by_table(ledger):
    inspections = ledger.start_run(a_run("manual-1", TABLE))
    permits = ledger.start_run(a_run("manual-1", OTHER))

    assert ledger.slots() == [(TABLE, "manual-1", inspections), (OTHER, "manual-1", permits)]


def test_freeing_a_slot_takes_effect_only_for_the_run_that_holds_it(ledger):
    ledger.start_run(a_run("manual-1"))

    ledger.free_slot(TABLE, "manual-other")
    assert [run_id for _, run_id, _ in ledger.slots()] == ["manual-1"]
    ledger.free_slot(TABLE, "manual-1")
    ledger.free_slot(TABLE, "manual-1")  # already free: a no-op
    assert ledger.slots() == []
    assert ledger.start_run(a_run("manual-2")).version == 1


def test_a_slot_whose_run_is_gone_is_listed_without_its_run(ledger, expire):
    started = ledger.start_run(a_run())
    expire(started)

    assert ledger.get_run(TABLE, "manual-1") is None
    assert ledger.slots() == [(TABLE, "manual-1", None)]


# --- saving a run --------------------------------------------------------------------------------------


def test_saving_a_run_writes_it_with_the_next_version(ledger):
    started = ledger.start_run(a_run())
    changed = started.model_copy(update={"current": 1, "updated_at": AT + timedelta(minutes=1)})

    saved = ledger.save_run(changed)

    assert saved == changed.model_copy(update={"version": 2})
    assert ledger.get_run(TABLE, "manual-1") == saved


def test_saving_a_copy_read_before_another_save_is_refused_and_keeps_the_newer_run(ledger):
    read_twice = ledger.start_run(a_run())
    first = ledger.save_run(read_twice.model_copy(update={"current": 1}))

    with pytest.raises(StaleRun):
        ledger.save_run(read_twice.model_copy(update={"status": "failed"}))

    assert ledger.get_run(TABLE, "manual-1") == first


def test_saving_a_run_the_ledger_does_not_have_is_refused_and_creates_nothing(ledger):
    with pytest.raises(StaleRun):
        ledger.save_run(a_run(version=1))

    assert ledger.get_run(TABLE, "manual-1") is None
    assert ledger.slots() == []


# --- pending alerts --------------------------------------------------------------------------------------


def test_runs_with_an_unsent_alert_are_found_until_it_is_sent(ledger):
    failed = ledger.save_run(ledger.start_run(a_run("manual-1")).model_copy(update={"alert": "pending"}))
    stuck = ledger.save_run(ledger.start_run(a_run("manual-2", OTHER)).model_copy(update={"stuck_alert": "pending"}))
    ledger.start_run(a_run("manual-3", "databridge/opa/assessment_history"))

    assert ledger.pending_alert_runs() == [failed, stuck]
    ledger.save_run(failed.model_copy(update={"alert": "sent"}))
    ledger.save_run(stuck.model_copy(update={"stuck_alert": "sent"}))
    assert ledger.pending_alert_runs() == []


# --- each table's record ------------------------------------------------------------------------------------


def test_the_latest_finished_run_is_kept_and_an_older_one_finishing_late_does_not_replace_it(ledger):
    newer = a_run("manual-later", created_at=AT + timedelta(hours=1), status="succeeded")
    older = a_run("manual-earlier", status="failed")

    ledger.record_finished(newer)
    ledger.record_finished(older)

    freshness, latest = ledger.table_records()
    assert latest == {TABLE: newer}
    assert freshness[TABLE].first_seen == newer.created_at, "its freshness clock started"
    assert freshness[TABLE].last_success is None


def test_the_last_success_never_moves_back(ledger):
    ledger.record_success(TABLE, AT)
    ledger.record_success(TABLE, AT - timedelta(hours=1))

    assert ledger.freshness()[TABLE].last_success == AT
    ledger.record_success(TABLE, AT + timedelta(hours=1))
    assert ledger.freshness()[TABLE].last_success == AT + timedelta(hours=1)


def test_first_seen_starts_the_clock_only_of_tables_without_a_record(ledger):
    ledger.record_success(TABLE, AT)

    ledger.first_seen([TABLE, OTHER], AT + timedelta(hours=2))
    ledger.first_seen([OTHER], AT + timedelta(hours=3))

    records = ledger.freshness()
    assert records[TABLE].first_seen is None and records[TABLE].last_success == AT
    assert records[OTHER].first_seen == AT + timedelta(hours=2)


def test_the_alerted_staleness_episode_is_kept_beside_the_times(ledger):
    ledger.first_seen([TABLE], AT)

    ledger.stale_alerted(TABLE, AT)
    ledger.stale_alerted(OTHER, AT)  # a table with no record yet gets one

    records = ledger.freshness()
    assert (records[TABLE].first_seen, records[TABLE].alerted_for) == (AT, AT)
    assert (records[OTHER].first_seen, records[OTHER].alerted_for) == (None, AT)


def test_the_ledgers_own_times_are_kept_to_the_second_in_utc(ledger):
    """The adapter writes fixed-width ISO strings; a fake keeping microseconds would compare differently."""
    precise = datetime(2026, 11, 24, 6, 15, 30, 250_000, tzinfo=ZoneInfo("America/New_York"))

    ledger.record_success(TABLE, precise)
    assert ledger.advance_cursor(precise)
    assert not ledger.advance_cursor(precise + timedelta(milliseconds=500)), "later in the same second is not later"

    second = datetime(2026, 11, 24, 11, 15, 30, tzinfo=UTC)
    last_success, cursor = ledger.freshness()[TABLE].last_success, ledger.cursor()
    assert (last_success, cursor) == (second, second)
    assert last_success.utcoffset() == cursor.utcoffset() == timedelta(0)


# --- the dispatcher's cursor ------------------------------------------------------------------------------------


def test_the_cursor_only_moves_forward(ledger):
    assert ledger.cursor() is None

    assert ledger.advance_cursor(AT)
    assert not ledger.advance_cursor(AT), "another tick got there first"
    assert not ledger.advance_cursor(AT - timedelta(minutes=1))
    assert ledger.cursor() == AT
    assert ledger.advance_cursor(AT + timedelta(minutes=1))
    assert ledger.cursor() == AT + timedelta(minutes=1)


# --- pauses ------------------------------------------------------------------------------------------------------


def test_pauses_are_kept_by_prefix_a_new_reason_replacing_the_old(ledger):
    lni = Pause(prefix="databridge/lni", reason="Oracle maintenance", paused_at=AT, paused_by="ops")
    opa = Pause(prefix="databridge/opa", reason="source moved", paused_at=AT)

    assert ledger.pause(opa) is None
    assert ledger.pause(lni) is None
    again = lni.model_copy(update={"reason": "still down"})
    assert ledger.pause(again) == lni

    assert ledger.pauses() == [again, opa]
    assert ledger.resume("databridge/lni") == again
    assert ledger.resume("databridge/lni") is None
    assert ledger.pauses() == [opa]


def test_recent_runs_are_a_tables_runs_newest_first(ledger):
    for minutes in (0, 20, 10):
        run = ledger.start_run(a_run(f"manual-{minutes:02}", created_at=AT + timedelta(minutes=minutes)))
        ledger.free_slot(TABLE, run.run_id)
    ledger.start_run(a_run("manual-99", OTHER))

    assert [run.run_id for run in ledger.recent_runs(TABLE, limit=2)] == ["manual-20", "manual-10"]
