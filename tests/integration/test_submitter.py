"""The submitter handler on moto: run requests in, Batch jobs out, bad messages failing alone."""

from __future__ import annotations

import json
import shlex
import sys
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

INSPECTIONS = "databridge/lni/inspections"
SCHEDULED = {"table": INSPECTIONS, "trigger": "schedule", "scheduled_for": "2026-11-24T11:15:00Z"}
RUN_ID = "scheduled-20261124T1115Z"


def test_a_scheduled_request_submits_the_first_step_with_tags_and_no_secret(stack, context):
    stack.send(SCHEDULED)

    reply = stack.deliver(stack.receive(), context)

    assert reply == {"batchItemFailures": []}
    [job] = stack.jobs()
    assert job["jobName"] == "extract_lni_inspections"
    assert job["tags"] == {"table": INSPECTIONS, "run_id": RUN_ID, "step": "extract", "attempt": "1"}
    assert job["jobQueue"].endswith("/databridge-pipeline-dev-extract")
    command = job["container"]["command"]
    assert command[:2] == ["bash", "-c"]
    assert '--connection_string="${DATABRIDGE_CONNECTION_STRING}"' in command[2]
    assert shlex.split(command[2])[1:3] == ["databridge_etl_tools", "extract"]
    run = stack.run_item(INSPECTIONS, RUN_ID)
    assert run["steps"][0]["status"] == "submitted"
    assert run["steps"][0]["job_id"] == job["jobId"]
    assert stack.slot(INSPECTIONS) == RUN_ID
    assert stack.queued() == 0


def test_the_same_request_three_times_gives_one_job(stack, context):
    for _ in range(3):
        stack.send(SCHEDULED)

    reply = stack.deliver(stack.receive(), context)

    assert reply == {"batchItemFailures": []}
    assert len(stack.jobs()) == 1
    assert stack.queued() == 0


def test_a_redelivered_manual_message_is_the_same_run(stack, context):
    stack.send({"table": INSPECTIONS})
    [message] = stack.receive()

    for _ in range(3):
        stack.deliver([message], context)

    [job] = stack.jobs()
    assert job["tags"]["run_id"] == f"manual-{message['MessageId']}"


def test_a_manual_rerun_from_load_submits_only_the_load(stack, context):
    event = json.loads((Path(__file__).parents[2] / "events" / "manual_rerun.json").read_text())
    stack.send(event["Records"][0]["body"])

    stack.deliver(stack.receive(), context)

    [job] = stack.jobs()
    assert job["tags"]["step"] == "load"
    assert job["jobName"] == "load_lni_inspections"
    assert job["jobQueue"].endswith("/databridge-pipeline-dev-carto")


@pytest.fixture
def ten_tables(tmp_path, monkeypatch) -> Path:
    for number in range(10):
        folder = tmp_path / "databridge" / "streets"
        folder.mkdir(parents=True, exist_ok=True)
        (folder / f"segment_{number}.yml").write_text("schedule_interval: 0 5 * * *\nupload_to_carto: false\n")
    monkeypatch.setenv("TABLE_CONFIGS", str(tmp_path))
    return tmp_path


def test_a_poison_message_fails_alone_and_lands_in_the_dlq(stack, context, ten_tables, caplog):
    for number in range(9):
        stack.send({"table": f"databridge/streets/segment_{number}"})
    poison_id = stack.send("this is not json")
    messages = stack.receive()
    assert len(messages) == 10

    reply = stack.deliver(messages, context)

    assert reply == {"batchItemFailures": [{"itemIdentifier": poison_id}]}
    assert len(stack.jobs()) == 9
    assert f"rejected message {poison_id}: body: Invalid JSON" in caplog.text
    # Lambda sees it again after each visibility timeout; after maxReceiveCount SQS moves it to the DLQ.
    for _ in range(stack.spec.max_receive_count - 1):
        stack.after_visibility_timeout()
        stack.deliver(stack.receive(), context)
    stack.after_visibility_timeout()
    assert stack.receive() == []
    [dead] = stack.receive(stack.dlq_url)
    assert dead["MessageId"] == poison_id
    assert len(stack.jobs()) == 9


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        ({"table": "databridge/lni/inspection"}, "unknown table 'databridge/lni/inspection' (did you mean "),
        ({"table": "databridge/LNI/inspections"}, "table: table id 'databridge/LNI/inspections'"),
        ({"table": INSPECTIONS, "from_step": "transform"}, "from_step: Input should be 'extract', 'schema', "),
        ({"table": INSPECTIONS, "attempt": "2"}, "attempt: Input should be a valid integer"),
        ({"table": INSPECTIONS, "priority": "high"}, "priority: Extra inputs are not permitted"),
        ({"table": "databridge/health/clinic_locations", "from_step": "load"}, "has no step 'load'"),
    ],
)
def test_a_bad_field_is_rejected_with_its_reason(stack, context, caplog, body: dict[str, Any], reason: str):
    message_id = stack.send(body)

    reply = stack.deliver(stack.receive(), context)

    assert reply == {"batchItemFailures": [{"itemIdentifier": message_id}]}
    assert stack.jobs() == []
    assert reason in caplog.text


def test_a_busy_table_holds_the_request_back_until_the_slot_is_free(stack, context):
    stack.send(SCHEDULED)
    stack.deliver(stack.receive(), context)
    later = {**SCHEDULED, "scheduled_for": "2026-11-25T11:15:00Z"}
    stack.clock.advance(days=1)
    stack.send(later)

    stack.deliver(stack.receive(), context)

    assert len(stack.jobs()) == 1, "a second job while the first run holds the slot"
    assert stack.receive() == [], "held back: not visible again before its delay"
    # The first run finishes; the held-back request comes back after its delay and starts.
    events = stack.handler("job_events")
    events.lambda_handler(stack.job_event(stack.jobs()[0], "SUCCEEDED"), context)
    events.lambda_handler(stack.job_event(stack.jobs()[1], "SUCCEEDED"), context)
    assert stack.slot(INSPECTIONS) is None
    stack.clock.advance(minutes=5)
    [held] = stack.receive()
    assert json.loads(held["Body"])["run_id"] == "scheduled-20261125T1115Z"
    stack.deliver([held], context)
    assert stack.jobs()[-1]["tags"]["run_id"] == "scheduled-20261125T1115Z"
    assert stack.slot(INSPECTIONS) == "scheduled-20261125T1115Z"


def _throttle_once(handler: Any) -> list[int]:
    client = handler.wiring.batch.client
    real = client.submit_job
    calls: list[int] = []

    def submit_job(**kwargs: Any) -> Any:
        calls.append(1)
        if len(calls) == 1:
            raise ClientError(
                {"Error": {"Code": "TooManyRequestsException", "Message": "Too Many Requests"}}, "SubmitJob"
            )
        return real(**kwargs)

    client.submit_job = submit_job
    return calls


def test_throttled_submit_job_leaves_the_message_for_a_retry_and_submits_once(stack, context, caplog):
    calls = _throttle_once(stack.handler("submitter"))
    message_id = stack.send(SCHEDULED)

    reply = stack.deliver(stack.receive(), context)

    assert reply == {"batchItemFailures": [{"itemIdentifier": message_id}]}
    assert stack.jobs() == []
    assert f"run {RUN_ID} of {INSPECTIONS} not submitted, the message will be retried: ClientError" in caplog.text
    # SubmitJob failed, so no job exists: the redelivery after the visibility timeout submits exactly once.
    stack.after_visibility_timeout()
    assert stack.deliver(stack.receive(), context) == {"batchItemFailures": []}
    assert len(stack.jobs()) == 1
    assert len(calls) == 2
    assert stack.queued() == 0


def delivered_log_lines(stack, context, capsys) -> list[dict]:
    """Deliver what the queue holds to the submitter and return the structured log lines it wrote."""
    log_handler = stack.handler("submitter").logger.registered_handler
    previous = log_handler.setStream(sys.stdout)
    try:
        stack.deliver(stack.receive(), context)
    finally:
        log_handler.setStream(previous)
    return [json.loads(line) for line in capsys.readouterr().out.splitlines() if line.startswith('{"level"')]


def test_log_lines_carry_the_run_id_as_correlation_id(stack, context, capsys):
    stack.send(SCHEDULED)

    lines = delivered_log_lines(stack, context, capsys)
    submitted = next(line for line in lines if line.get("run_status") == "submitted")
    assert submitted["correlation_id"] == RUN_ID
    assert submitted["table"] == INSPECTIONS


def test_a_record_never_carries_the_previous_records_correlation_id(stack, context, capsys):
    stack.send(SCHEDULED)
    poison_id = stack.send("not JSON")

    lines = delivered_log_lines(stack, context, capsys)
    submitted = next(line for line in lines if line.get("run_status") == "submitted")
    rejected = next(line for line in lines if line["message"].startswith(f"rejected message {poison_id}"))
    assert submitted["correlation_id"] == RUN_ID
    assert "correlation_id" not in rejected
