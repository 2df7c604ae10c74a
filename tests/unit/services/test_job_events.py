"""Job events on fakes: a job of ours SUCCEEDED -> the next step or the run finished; FAILED -> a retry after
the table's delay, or the run failed with one alert; duplicates and strangers change nothing."""

from __future__ import annotations

import pytest

from databridge_pipeline.domain.settings import settings_for

from .pipeline import ASSESSMENTS, INSPECTIONS, RUN_ID, SCHEDULED, pipeline_of


@pytest.fixture
def started(pipeline):
    """The inspections run started: its extract job submitted."""
    pipeline.request(SCHEDULED)
    return pipeline


def test_extract_succeeded_submits_the_load_once_even_when_delivered_three_times(started):
    extract = started.last_job()

    results = [started.event(extract, "SUCCEEDED") for _ in range(3)]

    assert results == ["submit", "drop", "drop"]
    assert started.jobs() == [(RUN_ID, "extract", "1"), (RUN_ID, "load", "1")]
    run = started.run()
    assert [(s.name, s.status) for s in run.steps] == [("extract", "succeeded"), ("load", "submitted")]
    load = started.batch.submitted()[-1]
    assert "--index_fields=address,inspection_date" in load.command[2]


def test_load_succeeded_finishes_the_run_frees_the_slot_and_records_the_success(started):
    started.event(started.last_job(), "SUCCEEDED")
    load = started.last_job()

    assert [started.event(load, "SUCCEEDED") for _ in range(2)] == ["finish", "drop"]

    run = started.run()
    assert (run.status, run.finished_at) == ("succeeded", started.clock())
    assert started.ledger.slots() == []
    assert started.ledger.freshness()[INSPECTIONS].last_success == started.clock()
    assert started.ledger.table_records()[1] == {INSPECTIONS: run}
    assert started.alerts.posts == []


def test_a_failed_step_with_retries_left_sends_its_retry_after_the_tables_delay(started):
    assert started.event(started.last_job(), "FAILED", exit_code=1) == "retry"

    step = started.run().step
    assert (step.status, step.exit_code) == ("retry_pending", 1)
    [retry] = started.queue.sent
    assert retry.delay_seconds == 10 * 60, "retry_delay_minutes: 10"
    assert (retry.request.trigger, retry.request.run_id, retry.request.from_step, retry.request.attempt) == (
        "retry",
        RUN_ID,
        "extract",
        2,
    )
    started.clock.advance(seconds=retry.delay_seconds)  # SQS delivers it once its delay has passed
    assert started.request(retry.body, message_id="retry-1") == "submit"
    assert started.jobs() == [(RUN_ID, "extract", "1"), (RUN_ID, "extract", "2")]


def test_a_repeated_failure_event_sends_the_retry_again_and_the_retry_still_runs_once(started):
    extract = started.last_job()

    assert [started.event(extract, "FAILED", exit_code=1) for _ in range(3)] == ["retry", "retry", "retry"]

    assert [sent.request.attempt for sent in started.queue.sent] == [2, 2, 2]
    started.clock.advance(minutes=10)
    results = [started.request(sent.body, message_id=sent.message_id) for sent in started.queue.sent]
    assert results == ["submit", "drop", "drop"]
    assert started.jobs() == [(RUN_ID, "extract", "1"), (RUN_ID, "extract", "2")]


def test_a_step_that_fails_after_its_retries_fails_the_run_with_exactly_one_alert(started):
    started.event(started.last_job(), "FAILED", exit_code=1)
    started.clock.advance(minutes=10)
    started.request(started.queue.sent[-1].body, message_id="retry-1")
    retry = started.last_job()

    results = [started.event(retry, "FAILED", exit_code=137, status_reason="OutOfMemoryError") for _ in range(3)]

    assert results == ["finish", "drop", "drop"]
    [alert] = started.alerts.posts
    assert (alert.table, alert.run_id, alert.step, alert.attempts, alert.exit_code) == (
        INSPECTIONS,
        RUN_ID,
        "extract",
        2,
        137,
    )
    assert alert.status_reason == "OutOfMemoryError"
    assert alert.rerun_command == f"databridge-pipeline rerun {INSPECTIONS} --from-step extract --env dev"
    assert alert.log_url is not None and "log-group" in alert.log_url
    run = started.run()
    assert (run.status, run.alert) == ("failed", "sent")
    assert started.ledger.slots() == [] and started.ledger.pending_alert_runs() == []
    assert started.ledger.freshness()[INSPECTIONS].last_success is None, "no success to record"


def test_with_slack_down_the_alert_stays_pending_and_a_redelivered_event_posts_it_once(pipeline):
    pipeline.request({"table": ASSESSMENTS}, message_id="m-1")  # dev: no retries
    extract = pipeline.last_job()
    pipeline.alerts.fail_next(10)

    assert pipeline.event(extract, "FAILED", exit_code=2) == "finish", "Slack's error does not fail the event"

    assert pipeline.run(ASSESSMENTS, "manual-m-1").alert == "pending"
    assert pipeline.ledger.pending_alert_runs() == [pipeline.run(ASSESSMENTS, "manual-m-1")]
    assert pipeline.ledger.slots() == [], "the table is free to run again"
    pipeline.alerts.fail_next(0)
    assert [pipeline.event(extract, "FAILED", exit_code=2) for _ in range(2)] == ["finish", "drop"]
    assert len(pipeline.alerts.posts) == 1
    assert len(pipeline.batch.submitted()) == 1, "no job while the alert was retried"


def test_in_prod_a_table_without_retries_of_its_own_gets_two_five_minutes_apart():
    prod = pipeline_of(settings=settings_for("prod"))
    prod.request({"table": ASSESSMENTS}, message_id="m-1")
    for attempt in (2, 3):
        assert prod.event(prod.last_job(), "FAILED", exit_code=1) == "retry"
        sent = prod.queue.sent[-1]
        assert (sent.request.attempt, sent.delay_seconds) == (attempt, 300)
        prod.clock.advance(seconds=sent.delay_seconds)
        prod.request(sent.body, message_id=f"retry-{attempt}")

    assert prod.event(prod.last_job(), "FAILED", exit_code=1) == "finish"
    assert [attempt for _, _, attempt in prod.jobs()] == ["1", "2", "3"]
    [alert] = prod.alerts.posts
    assert alert.attempts == 3


def test_an_event_of_a_job_the_run_has_moved_past_is_dropped(started):
    first = started.last_job()
    started.event(first, "FAILED", exit_code=1)
    started.clock.advance(minutes=10)
    started.request(started.queue.sent[-1].body, message_id="retry-1")

    assert started.event(first, "SUCCEEDED") == "drop", "attempt 1's late success: the run is on attempt 2"
    assert len(started.batch.submitted()) == 2
    assert started.run().step.job_id == started.last_job()


@pytest.mark.parametrize(
    ("change", "why"),
    [
        ({"status": "RUNNING"}, "not finished"),
        ({"jobQueue": "arn:aws:batch:us-east-1:123456789012:job-queue/someone-else"}, "another queue"),
        ({"tags": {}}, "untagged"),
        ({"tags": {"table": "databridge/lni/gone", "run_id": RUN_ID, "step": "extract"}}, "a table with no config"),
    ],
)
def test_events_that_are_not_ours_not_final_or_of_no_known_table_are_ignored(started, change, why):
    event = started.batch.state_change(started.last_job(), "SUCCEEDED", started.clock())
    event["detail"].update(change)

    assert started.job_events.handle_raw(event) == "ignored", why
    assert len(started.batch.submitted()) == 1
    assert started.run().step.status == "submitted"


def test_a_malformed_event_is_ignored(pipeline):
    event = {"detail-type": "Batch Job State Change", "detail": {"status": "FAILED"}}

    assert pipeline.job_events.handle_raw(event) == "malformed"
    assert pipeline.batch.submitted() == [] and pipeline.ledger.runs == {}
