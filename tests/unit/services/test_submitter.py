"""The submitter on fakes: a run request -> a run started, a duplicate dropped, a busy table held back, a bad
message failed alone."""

from __future__ import annotations

import json
from typing import Any

import pytest

from databridge_pipeline.services.submitter import HOLD_BACK_SECONDS, BadMessage

from .pipeline import ASSESSMENTS, INSPECTIONS, RUN_ID, SCHEDULED


def record(body: dict[str, Any] | str, message_id: str) -> dict[str, str]:
    return {"body": body if isinstance(body, str) else json.dumps(body), "messageId": message_id}


def test_a_scheduled_request_starts_the_run_takes_the_slot_and_submits_the_first_step_tagged(pipeline):
    assert pipeline.request(SCHEDULED) == "start"

    [request] = pipeline.batch.submitted()
    assert request.tags == {"table": INSPECTIONS, "run_id": RUN_ID, "step": "extract", "attempt": "1"}
    assert request.job_name == "extract_lni_inspections"
    run = pipeline.run()
    assert (run.step.name, run.step.status, run.step.job_id) == ("extract", "submitted", pipeline.last_job())
    assert [(table, run_id) for table, run_id, _ in pipeline.ledger.slots()] == [(INSPECTIONS, RUN_ID)]


def test_the_same_scheduled_request_three_times_gives_one_run_and_one_job(pipeline):
    results = [pipeline.request(SCHEDULED, message_id=f"message-{n}") for n in range(3)]

    assert results == ["start", "drop", "drop"]
    assert pipeline.jobs() == [(RUN_ID, "extract", "1")]


def test_a_redelivered_manual_message_is_the_same_run(pipeline):
    assert pipeline.request({"table": INSPECTIONS}, message_id="abc-123") == "start"
    assert pipeline.request({"table": INSPECTIONS}, message_id="abc-123") == "drop"

    assert pipeline.jobs() == [("manual-abc-123", "extract", "1")]


def test_a_manual_rerun_from_load_submits_only_the_load(pipeline):
    pipeline.request({"table": INSPECTIONS, "from_step": "load"}, message_id="m-1")

    assert pipeline.jobs() == [("manual-m-1", "load", "1")]
    assert [step.name for step in pipeline.run(run_id="manual-m-1").steps] == ["load"]


def test_a_request_for_a_busy_table_is_held_back_with_its_run_id_and_starts_once_the_slot_is_free(pipeline):
    pipeline.request(SCHEDULED)
    later = {**SCHEDULED, "scheduled_for": "2026-11-25T11:15:00Z"}
    pipeline.clock.advance(days=1)  # the next day's fire, while the first run still holds the slot

    assert pipeline.request(later, message_id="message-2") == "held_back"

    assert pipeline.jobs() == [(RUN_ID, "extract", "1")], "never a second job while the slot is held"
    [held] = pipeline.queue.sent
    assert held.delay_seconds == HOLD_BACK_SECONDS
    assert held.request.run_id == "scheduled-20261125T1115Z"
    assert pipeline.ledger.get_run(INSPECTIONS, "scheduled-20261125T1115Z") is None
    pipeline.event(pipeline.last_job(), "SUCCEEDED")
    pipeline.event(pipeline.last_job(), "SUCCEEDED")  # the load: the first run is done, its slot free
    assert pipeline.request(held.body, message_id="message-3") == "start"
    assert pipeline.jobs()[-1] == ("scheduled-20261125T1115Z", "extract", "1")


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        ("this is not json", "body: Invalid JSON"),
        ({"table": "databridge/lni/inspection"}, "unknown table 'databridge/lni/inspection' (did you mean "),
        ({"table": "databridge/LNI/inspections"}, "table: table id 'databridge/LNI/inspections'"),
        ({"table": INSPECTIONS, "from_step": "transform"}, "from_step: Input should be 'extract', 'schema', "),
        ({"table": INSPECTIONS, "attempt": "2"}, "attempt: Input should be a valid integer"),
        ({"table": INSPECTIONS, "priority": "high"}, "priority: Extra inputs are not permitted"),
        ({"table": "databridge/health/clinic_locations", "from_step": "load"}, "has no step 'load'"),
    ],
)
def test_a_bad_message_is_rejected_with_its_reason_and_starts_nothing(pipeline, body, reason):
    with pytest.raises(BadMessage) as rejected:
        pipeline.request(body)

    assert reason in str(rejected.value)
    assert pipeline.batch.submitted() == [] and pipeline.ledger.runs == {}


def test_a_bad_message_fails_alone_and_the_rest_of_the_batch_goes_on(pipeline):
    records = [
        record({"table": INSPECTIONS}, "good-1"),
        record("this is not json", "poison"),
        record({"table": "databridge/lni/nope"}, "unknown"),
        record({"table": ASSESSMENTS}, "good-2"),
    ]

    reply = pipeline.submitter.handle_batch(records)

    assert reply == {"batchItemFailures": [{"itemIdentifier": "poison"}, {"itemIdentifier": "unknown"}]}
    assert pipeline.jobs() == [("manual-good-1", "extract", "1"), ("manual-good-2", "extract", "1")]


def test_a_throttled_submit_job_leaves_the_run_to_the_pass_and_the_message_is_done(pipeline):
    """The run is in the ledger, so the pass finishes it: the message is not retried into the DLQ."""
    pipeline.batch.refuse_next()

    reply = pipeline.submitter.handle_batch([record(SCHEDULED, "message-1")])

    assert reply == {"batchItemFailures": []}
    assert pipeline.batch.submitted() == []
    assert pipeline.run().step.since is None, "the submit lease is released: no job exists"
    assert pipeline.reconciler.run_pass().repairs["resubmitted"] == 1
    assert pipeline.jobs() == [(RUN_ID, "extract", "1")]
    assert pipeline.submitter.handle(json.dumps(SCHEDULED), "message-1") == "drop", "a redelivery is a duplicate"
    assert pipeline.run().step.status == "submitted"


def test_a_message_that_cannot_start_its_run_fails_alone_for_a_redelivery(pipeline):
    """Before the run exists nothing else knows of the fire: the message must come back."""
    real = pipeline.ledger.start_run
    pipeline.ledger.start_run = lambda run: (_ for _ in ()).throw(RuntimeError("DynamoDB is down"))

    reply = pipeline.submitter.handle_batch([record(SCHEDULED, "message-1")])

    assert reply == {"batchItemFailures": [{"itemIdentifier": "message-1"}]}
    pipeline.ledger.start_run = real
    assert pipeline.submitter.handle_batch([record(SCHEDULED, "message-1")]) == {"batchItemFailures": []}
    assert pipeline.jobs() == [(RUN_ID, "extract", "1")]


def test_a_retry_for_a_run_the_ledger_does_not_have_is_dropped(pipeline):
    retry = {"table": INSPECTIONS, "trigger": "retry", "run_id": "manual-gone", "from_step": "extract", "attempt": 2}

    assert pipeline.request(retry) == "drop"
    assert pipeline.batch.submitted() == [] and pipeline.ledger.slots() == []
