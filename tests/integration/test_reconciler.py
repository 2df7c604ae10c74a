"""The reconciliation pass on moto, through the dispatcher handler: real ledger queries (slots, the sparse
pending-alerts index), real ListJobs/DescribeJobs, real SubmitJob."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path
from typing import Any

from databridge_pipeline.domain.repairs import POLL_GRACE, RESEND_GRACE
from databridge_pipeline.domain.runs import SUBMIT_LEASE

EVENTS = Path(__file__).parents[2] / "events"
INSPECTIONS = "databridge/lni/inspections"  # retries: 1, retry_delay_minutes: 10
RUN_ID = "scheduled-20261124T1115Z"
SCHEDULED = {"table": INSPECTIONS, "trigger": "schedule", "scheduled_for": "2026-11-24T11:15:00Z"}


def reconcile(stack: Any, context: Any) -> dict[str, Any]:
    """One dispatcher invocation at the stack's clock; returns the pass's result."""
    event: dict[str, Any] = json.loads((EVENTS / "schedule_tick.json").read_text())
    event["time"] = stack.clock().strftime("%Y-%m-%dT%H:%M:%SZ")
    result: dict[str, Any] = stack.handler("dispatcher").lambda_handler(event, context)["reconcile"]
    return result


def start_run(stack: Any, context: Any) -> dict[str, Any]:
    stack.send(SCHEDULED)
    stack.deliver(stack.receive(), context)
    return stack.jobs()[-1]


def drain(stack: Any) -> list[dict[str, Any]]:
    bodies = []
    while messages := stack.receive():
        for message in messages:
            bodies.append(json.loads(message["Body"]))
            stack.sqs.delete_message(QueueUrl=stack.queue_url, ReceiptHandle=message["ReceiptHandle"])
    return bodies


def test_a_lost_success_event_is_applied_by_polling_and_the_late_event_is_then_a_duplicate(stack, context):
    extract = start_run(stack, context)
    event = stack.job_event(extract, "SUCCEEDED")  # Batch says SUCCEEDED; the event is never delivered
    drain(stack)  # the dispatcher's own tick requests are not this test's concern

    assert reconcile(stack, context)["repairs"]["polled"] == 0, "within the event's grace: left to the event"
    stack.clock.advance(seconds=POLL_GRACE.total_seconds())
    result = reconcile(stack, context)

    assert result["repairs"]["polled"] == 1
    assert result["describe_calls"] == 1
    assert [job["tags"]["step"] for job in stack.jobs()] == ["extract", "load"]
    assert stack.handler("job_events").lambda_handler(event, context)["result"] == "drop"
    assert len(stack.jobs()) == 2


def test_a_job_submitted_by_an_invocation_that_died_is_adopted_once_the_lease_expires(stack, context):
    extract = start_run(stack, context)
    run_key = {"pk": f"RUN#{INSPECTIONS}", "sk": RUN_ID}
    item = stack.ledger.get_item(Key=run_key)["Item"]
    run = json.loads(item["run"])  # as if the ledger write after SubmitJob never happened:
    run["steps"][0].update(status="submitting", job_id=None)
    stack.ledger.put_item(Item={**item, "run": json.dumps(run)})
    drain(stack)

    assert reconcile(stack, context)["repairs"]["adopted"] == 0, "the lease is still held"
    stack.clock.advance(seconds=SUBMIT_LEASE.total_seconds())
    result = reconcile(stack, context)

    assert result["repairs"] == {"adopted": 1, "resubmitted": 0, "polled": 0, "resent": 0, "freed": 0}
    assert [job["jobId"] for job in stack.jobs()] == [extract["jobId"]], "adopted, not submitted again"
    assert stack.run_item(INSPECTIONS, RUN_ID)["steps"][0]["job_id"] == extract["jobId"]


def test_an_overdue_retry_message_is_sent_again(stack, context):
    extract = start_run(stack, context)
    stack.handler("job_events").lambda_handler(stack.job_event(extract, "FAILED", exit_code=1), context)
    stack.clock.advance(minutes=10)
    assert [body["trigger"] for body in drain(stack)] == ["retry"]  # received and lost: never handled

    stack.clock.advance(seconds=RESEND_GRACE.total_seconds())
    result = reconcile(stack, context)

    assert result["repairs"]["resent"] == 1
    [retry] = [body for body in drain(stack) if body.get("trigger") == "retry"]
    assert (retry["run_id"], retry["attempt"], retry["from_step"]) == (RUN_ID, 2, "extract")


def test_a_slot_whose_run_is_gone_is_freed(stack, context):
    stack.ledger.put_item(Item={"pk": "SLOT", "sk": INSPECTIONS, "run_id": "manual-lost", "since": "x"})

    result = reconcile(stack, context)

    assert result["repairs"]["freed"] == 1
    assert stack.slot(INSPECTIONS) is None


def test_a_pending_failure_alert_is_found_through_the_index_and_posted_once_slack_is_back(stack, context):
    start = stack.clock()
    stack.send({"table": "databridge/opa/assessment_history"})  # dev: no retries
    stack.deliver(stack.receive(), context)
    extract = stack.jobs()[-1]
    stack.slack.fail_next(1000)
    stack.handler("job_events").lambda_handler(stack.job_event(extract, "FAILED", exit_code=2), context)
    stack.clock.advance(minutes=45)

    waiting = reconcile(stack, context)
    assert (waiting["alerts_pending"], waiting["active"]) == (1, 0), "the run is finished, its alert is not"
    assert waiting["oldest_pending_alert_minutes"] >= 45
    stack.slack.fail_next(0)
    stack.clock.advance(minutes=1)
    posted = reconcile(stack, context)
    stack.clock.advance(minutes=1)
    again = reconcile(stack, context)

    assert (posted["alerts_posted"], posted["alerts_pending"]) == (1, 0)
    assert again["alerts_posted"] == 0
    assert len(stack.slack.posts) == 1 and "failed at step extract" in stack.slack.posts[0]["text"]
    assert stack.clock() - start >= timedelta(minutes=45)
