"""The job-events handler on moto: SUCCEEDED -> next step or done; FAILED -> retry or one Slack alert."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import unquote

import pytest

INSPECTIONS = "databridge/lni/inspections"  # retries: 1, retry_delay_minutes: 10
RUN_ID = "scheduled-20261124T1115Z"
SCHEDULED = {"table": INSPECTIONS, "trigger": "schedule", "scheduled_for": "2026-11-24T11:15:00Z"}


def start_run(stack: Any, context: Any, body: dict[str, Any] = SCHEDULED) -> dict[str, Any]:
    stack.send(body)
    stack.deliver(stack.receive(), context)
    return stack.jobs()[-1]


def react(stack: Any, context: Any, event: dict[str, Any]) -> str:
    result: str = stack.handler("job_events").lambda_handler(event, context)["result"]
    return result


def test_extract_succeeded_submits_the_load_once_even_when_delivered_three_times(stack, context):
    extract = start_run(stack, context)
    event = stack.job_event(extract, "SUCCEEDED")

    results = [react(stack, context, event) for _ in range(3)]

    assert results == ["submit", "drop", "drop"]
    jobs = stack.jobs()
    assert [j["tags"]["step"] for j in jobs] == ["extract", "load"]
    load = jobs[1]
    assert load["jobName"] == "load_lni_inspections"
    assert "--index_fields=address,inspection_date" in load["container"]["command"][2]
    assert '--connection_string="${CARTO_PHL_CONNECTION_STRING}"' in load["container"]["command"][2]


def test_load_succeeded_finishes_the_run_and_frees_the_slot(stack, context):
    react(stack, context, stack.job_event(start_run(stack, context), "SUCCEEDED"))
    event = stack.job_event(stack.jobs()[1], "SUCCEEDED")

    results = [react(stack, context, event) for _ in range(3)]

    assert results == ["finish", "drop", "drop"]
    run = stack.run_item(INSPECTIONS, RUN_ID)
    assert run["status"] == "succeeded"
    assert [s["status"] for s in run["steps"]] == ["succeeded", "succeeded"]
    assert stack.slot(INSPECTIONS) is None
    assert stack.slack.posts == []
    assert len(stack.jobs()) == 2


def test_a_failed_step_is_retried_after_its_delay_and_the_retry_can_succeed(stack, context):
    extract = start_run(stack, context)
    event = stack.job_event(extract, "FAILED", exit_code=1, status_reason="Essential container in task exited")

    assert [react(stack, context, event) for _ in range(3)] == ["retry", "retry", "retry"]

    run = stack.run_item(INSPECTIONS, RUN_ID)
    assert run["steps"][0]["status"] == "retry_pending"
    assert stack.receive() == [], "the retry waits its delay (retry_delay_minutes: 10)"
    stack.clock.advance(minutes=10)
    retries = stack.receive()
    assert {json.loads(m["Body"])["attempt"] for m in retries} == {2}
    stack.deliver(retries, context)
    jobs = stack.jobs()
    assert len(jobs) == 2, "three deliveries of the failure still give one retry job"
    assert jobs[1]["tags"] == {"table": INSPECTIONS, "run_id": RUN_ID, "step": "extract", "attempt": "2"}
    react(stack, context, stack.job_event(jobs[1], "SUCCEEDED"))
    react(stack, context, stack.job_event(stack.jobs()[2], "SUCCEEDED"))
    assert stack.run_item(INSPECTIONS, RUN_ID)["status"] == "succeeded"
    assert stack.slack.posts == []


def test_a_step_that_fails_after_its_retries_sends_exactly_one_alert(stack, context):
    extract = start_run(stack, context)
    react(stack, context, stack.job_event(extract, "FAILED", exit_code=1))
    stack.clock.advance(minutes=10)
    stack.deliver(stack.receive(), context)
    retry = stack.jobs()[1]
    final = stack.job_event(retry, "FAILED", exit_code=137, status_reason="OutOfMemoryError: Container killed")

    results = [react(stack, context, final) for _ in range(3)]

    assert results == ["finish", "drop", "drop"]
    [post] = stack.slack.posts
    assert post["channel"] == "#databridge-alerts"
    text = post["text"]
    for expected in (
        INSPECTIONS,
        "step extract",
        RUN_ID,
        "attempts 2",
        "OutOfMemoryError: Container killed",
        "exit code: 137",
        f"databridge-pipeline rerun {INSPECTIONS} --from-step extract --env dev",
    ):
        assert expected in text
    log_url = next(line for line in text.splitlines() if line.startswith("logs: ")).removeprefix("logs: ")
    assert unquote(unquote(log_url.replace("$", "%"))).endswith(
        f"log-group//aws/batch/databridge-pipeline-dev/log-events/{final['detail']['container']['logStreamName']}"
    )
    assert "xoxb" not in json.dumps(post)
    run = stack.run_item(INSPECTIONS, RUN_ID)
    assert (run["status"], run["alert"]) == ("failed", "sent")
    assert stack.slot(INSPECTIONS) is None
    assert stack.queued() == 0


def test_slack_down_keeps_the_alert_pending_in_the_ledger_and_a_redelivery_sends_it_once(stack, context):
    extract = start_run(stack, context, {"table": "databridge/opa/assessment_history"})  # dev: no retries
    event = stack.job_event(extract, "FAILED", exit_code=2)
    stack.slack.fail_next(10)

    assert react(stack, context, event) == "finish", "Slack's error does not fail the event: the ledger keeps it"

    run_id = extract["tags"]["run_id"]
    assert stack.run_item("databridge/opa/assessment_history", run_id)["alert"] == "pending"
    assert stack.slot("databridge/opa/assessment_history") is None, "the table is free to run again"
    stack.slack.fail_next(0)
    assert react(stack, context, event) == "finish"
    assert react(stack, context, event) == "drop"
    assert len(stack.slack.posts) == 1
    assert len(stack.jobs()) == 1, "no job submitted while retrying the alert"


@pytest.mark.parametrize(
    ("change", "why"),
    [
        ({"status": "RUNNING"}, "not finished"),
        ({"jobQueue": "arn:aws:batch:us-east-1:123456789012:job-queue/someone-else"}, "another queue"),
        ({"tags": {}}, "untagged"),
    ],
)
def test_events_that_are_not_ours_or_not_final_are_ignored(stack, context, change: dict[str, Any], why: str):
    extract = start_run(stack, context)
    event = stack.job_event(extract, "SUCCEEDED")
    event["detail"].update(change)

    assert react(stack, context, event) == "ignored", why
    assert len(stack.jobs()) == 1


def test_a_malformed_event_is_logged_and_ignored(stack, context, caplog):
    assert (
        react(stack, context, {"detail-type": "Batch Job State Change", "detail": {"status": "FAILED"}}) == "malformed"
    )
    assert "ignored a malformed Batch event" in caplog.text
    assert stack.jobs() == []


class TestProd:
    """Prod defaults: two retries, five minutes apart (legacy)."""

    @pytest.fixture
    def stack_env(self) -> str:
        return "prod"

    def test_default_retries_are_two_five_minutes_apart(self, stack, context):
        table = "databridge/opa/assessment_history"
        extract = start_run(stack, context, {"table": table})
        for attempt in (2, 3):
            react(stack, context, stack.job_event(stack.jobs()[-1], "FAILED", exit_code=1))
            stack.clock.advance(minutes=4)
            assert stack.receive() == []
            stack.clock.advance(minutes=1)
            [retry] = stack.receive()
            assert json.loads(retry["Body"])["attempt"] == attempt
            stack.deliver([retry], context)
        react(stack, context, stack.job_event(stack.jobs()[-1], "FAILED", exit_code=1))

        assert len(stack.jobs()) == 3
        assert len(stack.slack.posts) == 1
        assert "attempts 3" in stack.slack.posts[0]["text"]
        assert stack.run_item(table, extract["tags"]["run_id"])["status"] == "failed"
