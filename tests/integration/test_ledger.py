"""The ledger adapter's batched read of active runs: on moto for the calls it makes, with botocore's Stubber
for the keys DynamoDB leaves unprocessed when throttled (moto never does)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber

from databridge_pipeline.adapters import ledger as ledger_module
from databridge_pipeline.adapters.ledger import DynamoLedger, LedgerThrottled, _attributes, _run_key
from databridge_pipeline.domain.runs import Run, StepRecord

AT = datetime(2026, 11, 24, 11, 15, tzinfo=UTC)


def active_run(index: int) -> Run:
    return Run(
        table=f"databridge/schema/table_{index:04}",
        run_id=f"manual-{index:04}",
        trigger="manual",
        steps=(StepRecord(name="extract", status="submitted", job_id=f"job-{index}"), StepRecord(name="load")),
        created_at=AT,
        updated_at=AT,
    )


def count_calls(client: Any) -> dict[str, int]:
    calls: dict[str, int] = {}

    def counted(model: Any, **_: Any) -> None:
        calls[model.name] = calls.get(model.name, 0) + 1

    client.meta.events.register("before-call.dynamodb.*", counted)
    return calls


def test_slots_reads_a_hundred_runs_a_call_and_reports_a_slot_without_its_run(stack):
    client = boto3.client("dynamodb")
    ledger = DynamoLedger(client, stack.env["LEDGER_TABLE"])
    runs = [ledger.start_run(active_run(index)) for index in range(150)]
    stack.ledger.put_item(Item={"pk": "SLOT", "sk": "databridge/schema/lost", "run_id": "manual-lost", "since": "x"})
    calls = count_calls(client)

    slots = ledger.slots()

    assert calls == {"Query": 1, "BatchGetItem": 2}, "ceil(151 / 100) reads, not one per run"
    found = {(table, run_id): run for table, run_id, run in slots}
    assert found.pop(("databridge/schema/lost", "manual-lost")) is None
    assert found == {(run.table, run.run_id): run for run in runs}


@pytest.fixture
def stubbed(aws_credentials: None, monkeypatch: pytest.MonkeyPatch) -> tuple[DynamoLedger, Stubber]:
    monkeypatch.setattr(ledger_module.time, "sleep", lambda seconds: None)
    client = boto3.client("dynamodb")
    return DynamoLedger(client, "ledger"), Stubber(client)


def slot_query(run: Run) -> dict[str, Any]:
    return {"Items": [_attributes({"pk": "SLOT", "sk": run.table, "run_id": run.run_id, "since": "x"})]}


def batch_get(responses: list[Run], unprocessed: list[Run]) -> dict[str, Any]:
    items = [_attributes({**_run_key(run.table, run.run_id), "run": run.model_dump_json()}) for run in responses]
    keys = [_attributes(_run_key(run.table, run.run_id)) for run in unprocessed]
    return {
        "Responses": {"ledger": items},
        "UnprocessedKeys": {"ledger": {"Keys": keys, "ConsistentRead": True}} if keys else {},
    }


def test_keys_left_unprocessed_are_asked_again_not_taken_as_missing(stubbed):
    ledger, stubber = stubbed
    run = active_run(1)
    stubber.add_response("query", slot_query(run))
    asked_again = {"ledger": {"Keys": [_attributes(_run_key(run.table, run.run_id))], "ConsistentRead": True}}
    stubber.add_response("batch_get_item", batch_get([], unprocessed=[run]))
    stubber.add_response("batch_get_item", batch_get([run], unprocessed=[]), {"RequestItems": asked_again})

    with stubber:
        assert ledger.slots() == [(run.table, run.run_id, run)]
    stubber.assert_no_pending_responses()


def test_a_run_still_unprocessed_after_every_attempt_fails_the_read_rather_than_free_its_slot(stubbed):
    ledger, stubber = stubbed
    run = active_run(1)
    stubber.add_response("query", slot_query(run))
    for _ in range(ledger_module.BATCH_GET_ATTEMPTS):
        stubber.add_response("batch_get_item", batch_get([], unprocessed=[run]))

    with stubber, pytest.raises(LedgerThrottled, match="left 1 run"):
        ledger.slots()
    stubber.assert_no_pending_responses()


def test_the_latest_finished_run_is_kept_per_table_and_an_older_one_finishing_late_does_not_replace_it(stack):
    ledger = DynamoLedger(boto3.client("dynamodb"), stack.env["LEDGER_TABLE"])
    older, newer = active_run(1), active_run(1).model_copy(update={"run_id": "manual-later"})
    newer = newer.model_copy(update={"created_at": AT.replace(hour=12), "status": "succeeded"})

    ledger.record_finished(newer)
    ledger.record_finished(older.model_copy(update={"status": "failed"}))

    freshness, latest = ledger.table_records()
    assert latest == {newer.table: newer}
    assert freshness[newer.table].first_seen == newer.created_at, "its freshness clock started"
    client = boto3.client("dynamodb")
    returned: list[set[str]] = []
    client.meta.events.register(
        "after-call.dynamodb.Query", lambda parsed, **_: returned.extend(map(set, parsed["Items"]))
    )
    assert DynamoLedger(client, stack.env["LEDGER_TABLE"]).freshness() == freshness, (
        "the freshness check reads the same times"
    )
    assert returned == [{"sk", "first_seen"}], "...and not the run kept beside them"
