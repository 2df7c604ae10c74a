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
    client = handler.wiring.batch.submit_client
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


def test_throttled_submit_job_leaves_the_run_to_the_pass_which_submits_it_once(stack, context, caplog):
    """The run is in the ledger: the message is done (never the DLQ's), and the next pass submits the job."""
    calls = _throttle_once(stack.handler("submitter"))
    stack.send(SCHEDULED)

    reply = stack.deliver(stack.receive(), context)

    assert reply == {"batchItemFailures": []}
    assert stack.jobs() == [] and stack.queued() == 0
    assert f"run {RUN_ID} of {INSPECTIONS}: SubmitJob of extract failed (NotMade)" in caplog.text
    assert stack.handler("dispatcher").reconciler.run_pass().repairs["resubmitted"] == 1
    assert len(stack.jobs()) == 1
    assert len(calls) == 1, "the submitter's SubmitJob, throttled once and not retried inside the client"


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


# --- hostile messages, as an operator's hand (or anyone with sqs:SendMessage) could write them -----------

HUGE = "x" * 200_000
DSN = "postgresql://etl:s3cret-passw0rd@databridge.internal:5432/prod?sslmode=require&application_name=etl"
FORGED_RETRY = {"table": INSPECTIONS, "trigger": "retry", "run_id": RUN_ID, "from_step": "extract", "attempt": 2}
HOSTILE: list[tuple[str, dict[str, Any] | str, str]] = [
    ("end of time", {**SCHEDULED, "scheduled_for": "9999-12-31T23:59:59-14:00"}, "scheduled_for: 9999-12-31T23"),
    ("start of time", {**SCHEDULED, "scheduled_for": "0001-01-01T00:00:00+14:00"}, "outside the years 2000-2199"),
    ("the year 2200", {**SCHEDULED, "scheduled_for": "2200-01-01T00:00:00Z"}, "outside the years 2000-2199"),
    ("not_before at the end of time", {**FORGED_RETRY, "not_before": "9999-12-31T23:59:59-14:00"}, "not_before: "),
    ("duplicate table", f'{{"table": "databridge/lni/permits", "table": "{INSPECTIONS}"}}', "table: given more"),
    ("duplicate trigger", f'{{"table": "{INSPECTIONS}", "trigger": "manual", "trigger": "retry"}}', "trigger: "),
    ("duplicate nested key", f'{{"table": "{INSPECTIONS}", "from_step": {{"a": 1, "a": 2}}}}', "a: given more"),
    ("200 KB table", {"table": "databridge/lni/" + HUGE}, "table: unknown table 'databridge/lni/xxxx"),
    ("200 KB malformed table", {"table": "databridge/lni/" + HUGE.upper()}, "table: table id 'databridge/lni/XX"),
    ("200 KB key", {"table": INSPECTIONS, HUGE: 1}, "'xxxxxxxxxx"),
    ("200 KB run id", {"table": INSPECTIONS, "run_id": HUGE}, "run_id: String should match pattern"),
    ("200 KB from_step", {"table": INSPECTIONS, "from_step": HUGE}, "from_step: Input should be 'extract'"),
    ("DSN as scheduled_for", {**SCHEDULED, "scheduled_for": DSN}, f"scheduled_for: {len(DSN)} characters is not"),
    ("DSN as table", {"table": DSN}, "table: table id 'postgresql://etl:***@databridge.internal"),
    ("hand-written scheduled id", {"table": INSPECTIONS, "run_id": "scheduled-20261125T1115Z"}, "run_id: a sched"),
    ("another fire's id", {**SCHEDULED, "run_id": "scheduled-20261125T1115Z"}, "run_id: must be " + RUN_ID),
    ("a fire still to come", {**SCHEDULED, "scheduled_for": "2026-11-25T11:15:00Z"}, "has not come yet"),
    ("a retry of no run", {"table": INSPECTIONS, "trigger": "retry"}, "run_id: a retry names the run"),
    ("a retry at attempt 1", {**FORGED_RETRY, "attempt": 1}, "attempt: a retry is attempt 2 or later"),
    ("an attempt on a manual request", {"table": INSPECTIONS, "attempt": 5}, "attempt: only a retry"),
    ("not_before on a manual request", {"table": INSPECTIONS, "not_before": "2026-11-24T11:15:00Z"}, "not_before:"),
    ("a forced scheduled fire", {**SCHEDULED, "force": True}, "force: only a manual request"),
    ("force as text", {"table": INSPECTIONS, "force": "true"}, "force: Input should be a valid boolean"),
    ("NaN", '{"table": NaN}', "body: Invalid JSON: NaN is not a JSON value"),
    ("nested 50,000 deep", "[" * 50_000 + "]" * 50_000, "body: Invalid JSON: nested too deeply"),
    ("a 5,000-digit number", f'{{"table": "{INSPECTIONS}", "attempt": {"9" * 5000}}}', "body: Invalid JSON: "),
    ("not an object", "[]", "body: Input should be a valid dictionary"),
    ("an empty body", "", "body: Invalid JSON: Expecting value"),
    ("escape sequences", {"table": "\x1b[2J\x1b[31m" + INSPECTIONS}, "table: table id '\\x1b[2J\\x1b[31m"),
    ("a table as an object", {"table": {"source": "databridge", "schema_name": "lni", "name": "x"}}, "table: a tab"),
    ("a lone surrogate", '{"table": "\\ud800"}', "table: table id '\\ud800'"),
    ("a thousand unknown keys", {"table": INSPECTIONS, **{f"k{n}": n for n in range(1000)}}, "(and 997 more)"),
]


def metric_values(capsys, name: str) -> list[float]:
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines() if '"_aws"' in line]
    return [value for line in lines if name in line for value in line[name]]


def echoes(text: str, sent: str, size: int = 81) -> bool:
    """Whether ``text`` repeats ``size`` characters of ``sent`` in a row."""
    return any(text[i : i + size] in sent for i in range(len(text) - size + 1))


def test_every_hostile_message_fails_alone_logged_counted_and_echoing_80_characters_at_most(
    stack, context, caplog, capsys
):
    """All of HOSTILE with one good message among them, delivered in batches of ten as SQS does: one stack
    for the lot (a stack each cost half a minute of make test)."""
    good = stack.send({"table": "databridge/health/clinic_locations"})
    bad = {stack.send(body): (name, body, reason) for name, body, reason in HOSTILE}

    failed: list[str] = []
    while messages := stack.receive():
        failed += [f["itemIdentifier"] for f in stack.deliver(messages, context)["batchItemFailures"]]

    assert sorted(failed) == sorted(bad), "each bad message failed, and only those"
    assert [job["tags"]["run_id"] for job in stack.jobs()] == [f"manual-{good}"], "the good message went on"
    rejections = [r.getMessage() for r in caplog.records if r.getMessage().startswith("rejected message ")]
    for message_id, (name, _, reason) in bad.items():
        [rejection] = [line for line in rejections if line.startswith(f"rejected message {message_id}")]
        assert reason in rejection, f"{name}: {rejection}"
    assert metric_values(capsys, "MessagesRejected") == [1.0] * len(HOSTILE)
    sent = [body if isinstance(body, str) else json.dumps(body, ensure_ascii=False) for _, body, _ in HOSTILE]
    for record in caplog.records:
        message = record.getMessage()
        assert len(message) <= 1200, f"a long log line: {message[:200]}"
        assert not any(echoes(message, one) for one in sent), f"echoes an input: {message[:200]}"
        assert record.exc_info is None
    assert "s3cret" not in caplog.text


def test_a_hand_written_scheduled_id_is_refused_so_the_real_fire_still_runs(stack, context):
    stack.send({"table": INSPECTIONS, "run_id": RUN_ID})
    stack.deliver(stack.receive(), context)
    assert stack.jobs() == []

    stack.send(SCHEDULED)
    stack.deliver(stack.receive(), context)

    [job] = stack.jobs()
    assert job["tags"]["run_id"] == RUN_ID


# --- pauses ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("body", [{"table": INSPECTIONS}, SCHEDULED], ids=["manual", "scheduled"])
def test_a_paused_tables_message_is_skipped_logged_counted_and_deleted(stack, context, caplog, capsys, body):
    queries = stack.pause("databridge/lni", watched="submitter")
    stack.send(body)  # a raw `aws sqs send-message`, or a fire dispatched just before the pause

    reply = stack.deliver(stack.receive(), context)

    assert reply == {"batchItemFailures": []}, "deleted, not retried: it would only be skipped again"
    assert stack.jobs() == []
    assert stack.queued() == 0
    assert "not started, paused by databridge/lni since 2026-11-24 00:00 UTC: Oracle maintenance" in caplog.text
    assert metric_values(capsys, "MessagesSkippedPaused") == [1.0]
    assert queries == ["PAUSE"], "the pauses in one Query"
    assert stack.run_item(INSPECTIONS, RUN_ID) is None and stack.slot(INSPECTIONS) is None


def test_force_runs_a_paused_table_without_reading_the_pauses(stack, context):
    queries = stack.pause("databridge/lni", watched="submitter")
    stack.send({"table": INSPECTIONS, "force": True})

    stack.deliver(stack.receive(), context)

    assert len(stack.jobs()) == 1
    assert queries == []


def test_the_pauses_are_read_only_for_a_message_that_would_start_a_run(stack, context):
    start = {
        "table": "databridge/health/clinic_locations",
        "trigger": "schedule",
        "scheduled_for": "2026-11-24T11:15:00Z",
    }
    stack.send(start)
    stack.deliver(stack.receive(), context)
    queries = stack.pause("databridge/lni", watched="submitter")

    stack.send(start)  # a duplicate: the run exists
    stack.deliver(stack.receive(), context)

    assert queries == []
    assert len(stack.jobs()) == 1


def test_a_pause_never_touches_a_run_already_going_its_retry_still_runs(stack, context):
    stack.send(SCHEDULED)
    stack.deliver(stack.receive(), context)
    stack.pause("databridge/lni", watched="submitter")
    stack.handler("job_events").lambda_handler(stack.job_event(stack.jobs()[0], "FAILED", exit_code=1), context)

    stack.clock.advance(minutes=10)
    stack.deliver(stack.receive(), context)

    assert [job["tags"]["attempt"] for job in stack.jobs()] == ["1", "2"]


# --- a retry waits for its time ---------------------------------------------------------------------------


def test_a_forged_retry_waits_for_the_retry_delay_and_the_retry_is_made_once(stack, context, caplog):
    stack.send(SCHEDULED)
    stack.deliver(stack.receive(), context)
    stack.handler("job_events").lambda_handler(stack.job_event(stack.jobs()[0], "FAILED", exit_code=1), context)

    stack.send(FORGED_RETRY)  # what the pipeline would send in 10 minutes (retry_delay_minutes: 10), now
    reply = stack.deliver(stack.receive(), context)

    assert reply == {"batchItemFailures": []}
    assert len(stack.jobs()) == 1, "the forged retry skipped the delay"
    assert f"retry 2 of extract of run {RUN_ID} is due 2026-11-24 11:25:00 UTC: deferred 600 s" in caplog.text
    stack.clock.advance(minutes=10)
    due = stack.receive()
    assert len(due) == 2, "the pipeline's retry and the deferred copy"
    stack.deliver(due, context)
    assert [job["tags"]["attempt"] for job in stack.jobs()] == ["1", "2"]
