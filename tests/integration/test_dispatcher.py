"""The dispatcher handler on moto: ticks -> run requests, catch-up, and stuck-run alerts."""

from __future__ import annotations

import json
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

EVENTS = Path(__file__).parents[2] / "events"


def tick_event(time: str) -> dict[str, Any]:
    event: dict[str, Any] = json.loads((EVENTS / "schedule_tick.json").read_text())
    event["time"] = time
    return event


def tick(stack: Any, context: Any, time: str) -> dict[str, Any]:
    result: dict[str, Any] = stack.handler("dispatcher").lambda_handler(tick_event(time), context)
    return result


def bodies(messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return sorted((json.loads(m["Body"]) for m in messages), key=lambda b: (b["scheduled_for"], b["table"]))


def test_a_tick_sends_one_request_per_due_table_using_the_events_time(stack, context):
    stack.clock.now = datetime(2031, 1, 1, tzinfo=UTC)  # the wall clock must not matter
    tick(stack, context, "2026-11-24T11:14:00Z")

    result = tick(stack, context, "2026-11-24T11:15:00Z")

    assert result["dispatched"] == 1
    assert bodies(stack.receive()) == [
        {
            "table": "databridge/lni/inspections",
            "trigger": "schedule",
            "scheduled_for": "2026-11-24T11:15:00Z",
            "run_id": "scheduled-20261124T1115Z",
            "attempt": 1,
        }
    ]


def test_a_repeated_tick_sends_nothing_new(stack, context):
    tick(stack, context, "2026-11-24T11:15:00Z")

    again = tick(stack, context, "2026-11-24T11:15:00Z")

    assert again["dispatched"] == 0
    assert len(stack.receive()) == 1


def test_missed_ticks_are_caught_up_with_the_latest_run_per_table(stack, context, tmp_path, monkeypatch):
    folder = tmp_path / "databridge" / "transit"
    folder.mkdir(parents=True)
    (folder / "bus_positions.yml").write_text("schedule_interval: '*/15 * * * *'\n")
    (folder / "rail_stops.yml").write_text("schedule_interval: 0 10 * * *\n")
    monkeypatch.setenv("TABLE_CONFIGS", str(tmp_path))
    tick(stack, context, "2026-11-24T09:00:00Z")
    assert len(stack.receive()) == 1  # the 09:00 run of bus_positions, received and left in flight

    result = tick(stack, context, "2026-11-24T11:07:00Z")  # two hours of ticks were missed

    assert result["window"] == {"after": "2026-11-24T09:00:00Z", "until": "2026-11-24T11:07:00Z"}
    assert bodies(stack.receive()) == [
        {
            "table": "databridge/transit/rail_stops",
            "trigger": "schedule",
            "scheduled_for": "2026-11-24T10:00:00Z",
            "run_id": "scheduled-20261124T1000Z",
            "attempt": 1,
        },
        {
            "table": "databridge/transit/bus_positions",
            "trigger": "schedule",
            "scheduled_for": "2026-11-24T11:00:00Z",
            "run_id": "scheduled-20261124T1100Z",
            "attempt": 1,
        },
    ]


def test_twenty_five_due_tables_take_three_send_message_batch_calls(stack, context, tmp_path, monkeypatch):
    folder = tmp_path / "databridge" / "parks"
    folder.mkdir(parents=True)
    for number in range(25):
        (folder / f"site_{number:02}.yml").write_text("schedule_interval: 0 5 * * *\n")
    monkeypatch.setenv("TABLE_CONFIGS", str(tmp_path))
    tick(stack, context, "2026-11-24T04:59:00Z")

    result = tick(stack, context, "2026-11-24T05:00:00Z")

    assert (result["dispatched"], result["send_calls"]) == (25, 3)
    tables = set()
    while messages := stack.receive():
        tables |= {json.loads(m["Body"])["table"] for m in messages}
        for message in messages:
            stack.sqs.delete_message(QueueUrl=stack.queue_url, ReceiptHandle=message["ReceiptHandle"])
    assert len(tables) == 25


def test_a_repeated_tick_dispatches_nothing_and_leaves_the_pass_to_the_first_delivery(stack, context):
    start_inspections(stack, context)  # the 11:15 tick: inspections is running
    stack.clock.now = datetime(2026, 11, 24, 15, 16, tzinfo=UTC)  # past its timeout: the pass would alert
    calls: list[str] = []
    ledger_client = stack.handler("dispatcher").wiring.ledger._client
    ledger_client.meta.events.register("before-call.dynamodb.*", lambda model, **_: calls.append(model.name))

    late = tick(stack, context, "2026-11-24T11:15:00Z")  # the 11:15 tick delivered again, hours late

    assert (late["dispatched"], late["reconcile"], late["freshness"]) == (0, None, None)
    assert calls == ["GetItem"], "only the cursor was read"
    assert stack.slack.posts == [] and stack.receive() == []
    first = tick(stack, context, "2026-11-24T15:16:00Z")
    assert first["reconcile"]["stuck_alerted"] == 1, "the next new tick runs the pass"


def start_inspections(stack: Any, context: Any) -> None:
    tick(stack, context, "2026-11-24T11:15:00Z")
    stack.deliver(stack.receive(), context)


def test_a_run_past_its_timeout_is_alerted_once(stack, context):
    start_inspections(stack, context)  # timeout_minutes defaults to 240
    stack.clock.now = datetime(2026, 11, 24, 15, 14, tzinfo=UTC)  # the pass runs on the clock, as the ledger
    tick(stack, context, "2026-11-24T15:14:00Z")
    assert stack.slack.posts == [], "not yet past four hours"

    stack.clock.now = datetime(2026, 11, 24, 15, 16, tzinfo=UTC)
    first = tick(stack, context, "2026-11-24T15:16:00Z")
    stack.clock.advance(minutes=1)
    second = tick(stack, context, "2026-11-24T15:17:00Z")

    assert (first["reconcile"]["stuck_alerted"], second["reconcile"]["stuck_alerted"]) == (1, 0)
    [post] = stack.slack.posts
    assert "databridge/lni/inspections is stuck at step extract" in post["text"]
    assert "scheduled-20261124T1115Z" in post["text"]


def test_a_stuck_alert_that_slack_refused_is_sent_on_the_next_tick(stack, context):
    start_inspections(stack, context)
    stack.slack.fail_next(10)

    stack.clock.now = datetime(2026, 11, 24, 15, 16, tzinfo=UTC)
    refused = tick(stack, context, "2026-11-24T15:16:00Z")["reconcile"]
    assert (refused["stuck_alerted"], refused["alerts_pending"]) == (0, 1)

    stack.slack.fail_next(0)
    stack.clock.advance(minutes=1)
    assert tick(stack, context, "2026-11-24T15:17:00Z")["reconcile"]["stuck_alerted"] == 1
    stack.clock.advance(minutes=1)
    again = tick(stack, context, "2026-11-24T15:18:00Z")["reconcile"]
    assert (again["stuck_alerted"], again["alerts_posted"], again["alerts_pending"]) == (0, 0, 0)
    assert len(stack.slack.posts) == 1


@pytest.mark.parametrize("missing", ["LEDGER_TABLE", "EXTRACT_JOB_QUEUE"])
def test_a_missing_variable_fails_the_cold_start_naming_it(stack, monkeypatch, missing):
    monkeypatch.delenv(missing)

    with pytest.raises(Exception, match=missing):
        stack.handler("dispatcher")


def test_with_the_schedule_off_a_tick_dispatches_nothing_but_still_reconciles(stack, context, monkeypatch):
    monkeypatch.setenv("SCHEDULE_ENABLED", "false")  # a dev stack's default

    result = tick(stack, context, "2026-11-24T11:15:00Z")  # databridge/lni/inspections is due

    assert (result["dispatched"], result["send_calls"]) == (0, 0)
    assert stack.queued() == 0
    assert "reconcile" in result


def test_tick_lines_never_carry_a_run_id_a_previous_invocation_set(stack, context, capsys):
    stack.send({"table": "databridge/lni/inspections", "trigger": "schedule", "scheduled_for": "2026-11-24T10:15:00Z"})
    stack.deliver(stack.receive(), context)  # the logger (one per container in AWS) now has that run's id
    log_handler = stack.handler("dispatcher").logger.registered_handler
    previous = log_handler.setStream(sys.stdout)
    try:
        tick(stack, context, "2026-11-25T11:15:00Z")
    finally:
        log_handler.setStream(previous)

    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines() if line.startswith('{"level"')]
    dispatched = [line for line in lines if line.get("run_status") == "dispatched"]
    assert dispatched, "the tick dispatched the 11:15 run"
    about_another = [
        line for line in lines if "correlation_id" in line and line["correlation_id"] not in line["message"]
    ]
    assert about_another == []


def test_a_paused_tables_fires_are_skipped_counted_and_read_in_one_query(stack, context, capsys):
    from datetime import UTC, datetime

    dispatcher = stack.handler("dispatcher").dispatcher
    queries = stack.pause("databridge/lni", watched="dispatcher")

    result = dispatcher.tick(datetime(2026, 11, 24, 11, 15, tzinfo=UTC))

    assert (result.dispatched, result.skipped_paused) == (0, 1)
    assert stack.receive() == []
    assert queries == ["PAUSE"], "one Query for every pause, none per table"
    metrics = [json.loads(line) for line in capsys.readouterr().out.splitlines() if '"_aws"' in line]
    assert [m["FiresSkippedPaused"] for m in metrics if "FiresSkippedPaused" in m] == [[1.0]]

    stack.handler("dispatcher").wiring.ledger.resume("databridge/lni")
    assert dispatcher.tick(datetime(2026, 11, 25, 11, 15, tzinfo=UTC)).skipped_paused == 0
    assert "databridge/lni/inspections" in [body["table"] for body in bodies(stack.receive())]


def test_after_a_long_outage_catch_up_looks_back_24_hours_for_the_latest_run(stack, context, tmp_path, monkeypatch):
    folder = tmp_path / "databridge" / "transit"
    folder.mkdir(parents=True)
    (folder / "rail_stops.yml").write_text("schedule_interval: 0 10 * * *\n")
    (folder / "fare_zones.yml").write_text("schedule_interval: 0 9 * * 0\n")  # Sundays: the 22nd, not within 24 h
    monkeypatch.setenv("TABLE_CONFIGS", str(tmp_path))
    tick(stack, context, "2026-11-21T12:00:00Z")

    result = tick(stack, context, "2026-11-24T09:30:00Z")  # three days without a tick

    assert result["window"] == {"after": "2026-11-23T09:30:00Z", "until": "2026-11-24T09:30:00Z"}
    assert [(b["table"], b["scheduled_for"]) for b in bodies(stack.receive())] == [
        ("databridge/transit/rail_stops", "2026-11-23T10:00:00Z")
    ]
