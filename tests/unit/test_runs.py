"""The run state machine as pure rules: no AWS, just (run, what happened) -> decision."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from databridge_pipeline.adapters.run_queue import body
from databridge_pipeline.domain.run_request import RunRequest, parse_request
from databridge_pipeline.domain.runs import (
    MAX_DELAY_SECONDS,
    SCHEDULE_SKEW,
    SUBMIT_LEASE,
    Defer,
    Drop,
    Finish,
    JobOutcome,
    RequestRejected,
    Run,
    ScheduleRetry,
    Start,
    Submit,
    Wait,
    on_job_outcome,
    on_request,
    stuck_runs,
)
from databridge_pipeline.domain.tables import Table, TableConfig, TableId

NOW = datetime(2026, 11, 24, 11, 15, tzinfo=UTC)
TABLE = Table(
    id=TableId.parse("databridge/lni/permits"),
    config=TableConfig(schedule_interval="3 11 * * *", upload_to_carto=True, carto_users=["publicuser"]),
)
REQUEST = RunRequest.model_validate({"table": "databridge/lni/permits", "trigger": "schedule"})


def started() -> Run:
    decision = on_request(None, REQUEST, TABLE, "scheduled-20261124T1103Z", NOW, "legacy")
    assert isinstance(decision, Start)
    return decision.run


def submitted(run: Run, job_id: str = "job-1") -> Run:
    step = run.step.model_copy(update={"status": "submitted", "job_id": job_id})
    return run.with_step(step, NOW).model_copy(update={"version": run.version + 1})


def outcome(run: Run, status: str, job_id: str = "job-1", **extra: object) -> JobOutcome:
    return JobOutcome.model_validate(
        {"table": run.table, "run_id": run.run_id, "step": run.step.name, "job_id": job_id, "status": status, **extra}
    )


def test_a_new_request_starts_a_run_at_its_first_step():
    run = started()

    assert [s.name for s in run.steps] == ["extract", "load"]
    assert (run.step.name, run.step.status, run.step.attempts) == ("extract", "submitting", 1)


def test_from_step_starts_at_that_step_and_an_unknown_step_is_rejected():
    load_only = on_request(None, REQUEST.model_copy(update={"from_step": "load"}), TABLE, "manual-1", NOW, "legacy")
    assert isinstance(load_only, Start)
    assert [s.name for s in load_only.run.steps] == ["load"]

    extract_only = TABLE.model_copy(update={"config": TableConfig(upload_to_carto=False)})
    with pytest.raises(RequestRejected, match="has no step 'load'"):
        on_request(None, REQUEST.model_copy(update={"from_step": "load"}), extract_only, "manual-2", NOW, "legacy")


def test_a_duplicate_request_for_a_run_in_progress_is_dropped():
    decision = on_request(submitted(started()), REQUEST, TABLE, "scheduled-20261124T1103Z", NOW, "legacy")

    assert isinstance(decision, Drop)


def test_a_step_left_submitting_is_taken_over_only_after_the_lease():
    run = started()

    assert isinstance(on_request(run, REQUEST, TABLE, run.run_id, NOW + timedelta(minutes=1), "legacy"), Wait)
    late = on_request(run, REQUEST, TABLE, run.run_id, NOW + SUBMIT_LEASE + timedelta(seconds=1), "legacy")
    assert isinstance(late, Submit)
    assert late.run.step.attempts == 1


def test_a_released_lease_is_taken_over_at_once():
    run = started()
    released = run.with_step(run.step.model_copy(update={"since": None}), NOW)

    decision = on_request(released, REQUEST, TABLE, run.run_id, NOW, "legacy")

    assert isinstance(decision, Submit)


def test_success_moves_to_the_next_step_then_finishes():
    run = submitted(started())

    to_load = on_job_outcome(run, outcome(run, "SUCCEEDED"), retries=0, retry_delay_minutes=5, now=NOW)
    assert isinstance(to_load, Submit)
    assert (to_load.run.step.name, to_load.run.steps[0].status) == ("load", "succeeded")

    loading = submitted(to_load.run, "job-2")
    done = on_job_outcome(loading, outcome(loading, "SUCCEEDED", "job-2"), retries=0, retry_delay_minutes=5, now=NOW)
    assert isinstance(done, Finish)
    assert (done.run.status, done.run.alert) == ("succeeded", "none")


def test_failure_retries_while_retries_remain_then_fails_with_a_pending_alert():
    run = submitted(started())

    first = on_job_outcome(run, outcome(run, "FAILED", exit_code=1), retries=1, retry_delay_minutes=5, now=NOW)
    assert isinstance(first, ScheduleRetry)
    assert (first.request.attempt, first.request.from_step, first.delay_seconds) == (2, "extract", 300)
    assert first.run.step.status == "retry_pending"

    retried = on_request(first.run, first.request, TABLE, run.run_id, NOW + timedelta(minutes=5), "legacy")
    assert isinstance(retried, Submit)
    second = submitted(retried.run, "job-2")
    final = on_job_outcome(
        second, outcome(second, "FAILED", "job-2", exit_code=3), retries=1, retry_delay_minutes=5, now=NOW
    )
    assert isinstance(final, Finish)
    assert (final.run.status, final.run.alert, final.run.step.exit_code) == ("failed", "pending", 3)


def test_a_duplicate_retry_request_is_dropped():
    run = submitted(started())
    retry = on_job_outcome(run, outcome(run, "FAILED"), retries=2, retry_delay_minutes=5, now=NOW)
    assert isinstance(retry, ScheduleRetry)
    due = NOW + timedelta(minutes=5)
    taken = on_request(retry.run, retry.request, TABLE, run.run_id, due, "legacy")
    assert isinstance(taken, Submit)

    again = on_request(submitted(taken.run, "job-2"), retry.request, TABLE, run.run_id, due, "legacy")

    assert isinstance(again, Drop)


def test_an_event_for_another_job_or_a_finished_step_is_dropped():
    run = submitted(started())

    assert isinstance(on_job_outcome(run, outcome(run, "SUCCEEDED", "job-0"), 0, 5, NOW), Drop)
    assert isinstance(on_job_outcome(None, outcome(run, "SUCCEEDED"), 0, 5, NOW), Drop)


def test_a_failed_run_whose_alert_is_pending_is_finished_again_without_saving():
    run = submitted(started()).model_copy(update={"status": "failed", "alert": "pending"})

    decision = on_job_outcome(run, outcome(run, "FAILED"), 0, 5, NOW)

    assert isinstance(decision, Finish)
    assert decision.save is False


def test_stuck_runs_are_those_past_their_timeout_and_not_yet_alerted():
    run = submitted(started())
    timeouts = {run.table: 60}

    assert stuck_runs([run], timeouts, NOW + timedelta(minutes=60)) == []
    assert stuck_runs([run], timeouts, NOW + timedelta(minutes=61)) == [run]
    alerted = run.model_copy(update={"stuck_alert": "sent"})
    assert stuck_runs([alerted], timeouts, NOW + timedelta(hours=5)) == []
    pending = run.model_copy(update={"stuck_alert": "pending"})
    assert stuck_runs([pending], timeouts, NOW + timedelta(hours=5)) == [pending]


def failed_once(delay_minutes: int = 5) -> ScheduleRetry:
    run = submitted(started())
    retry = on_job_outcome(run, outcome(run, "FAILED"), retries=2, retry_delay_minutes=delay_minutes, now=NOW)
    assert isinstance(retry, ScheduleRetry)
    return retry


def test_the_retry_message_says_when_it_is_due_and_the_ledger_keeps_the_same_time():
    retry = failed_once()

    due = NOW + timedelta(minutes=5)
    assert (retry.run.step.retry_at, retry.request.not_before, retry.delay_seconds) == (due, due, 300)
    assert parse_request(body(retry.request)) == retry.request


def test_a_retry_that_arrives_early_waits_for_its_time_then_is_submitted_once():
    retry = failed_once()

    early = on_request(retry.run, retry.request, TABLE, retry.run.run_id, NOW + timedelta(minutes=2), "legacy")
    assert isinstance(early, Defer)
    assert early.until == NOW + timedelta(minutes=5)
    assert early.delay_seconds(NOW + timedelta(minutes=2)) == 180
    on_time = on_request(retry.run, retry.request, TABLE, retry.run.run_id, NOW + timedelta(minutes=5), "legacy")
    assert isinstance(on_time, Submit)
    assert on_time.run.step.retry_at is None, "the attempt under way has no retry time"


def test_a_forged_retry_that_says_it_is_due_already_still_waits_for_the_ledgers_time():
    retry = failed_once()
    forged = retry.request.model_copy(update={"not_before": None})
    backdated = retry.request.model_copy(update={"not_before": NOW - timedelta(days=1)})

    for request in (forged, backdated):
        decision = on_request(retry.run, request, TABLE, retry.run.run_id, NOW, "legacy")
        assert isinstance(decision, Defer)
        assert decision.until == NOW + timedelta(minutes=5)


def test_a_step_saved_before_the_ledger_kept_retry_times_waits_for_the_messages():
    retry = failed_once()
    legacy = retry.run.with_step(retry.run.step.model_copy(update={"retry_at": None}), NOW)

    assert isinstance(on_request(legacy, retry.request, TABLE, legacy.run_id, NOW, "legacy"), Defer)
    bare = retry.request.model_copy(update={"not_before": None})
    assert isinstance(on_request(legacy, bare, TABLE, legacy.run_id, NOW, "legacy"), Submit)


def test_a_wait_longer_than_sqs_can_delay_is_made_of_steps():
    retry = failed_once(delay_minutes=60)
    until = NOW + timedelta(minutes=60)

    steps = []
    now = NOW
    while isinstance(decision := on_request(retry.run, retry.request, TABLE, retry.run.run_id, now, "legacy"), Defer):
        steps.append(decision.delay_seconds(now))
        now += timedelta(seconds=steps[-1])
    assert steps == [MAX_DELAY_SECONDS] * 4
    assert now == until
    assert isinstance(decision, Submit)


def test_a_scheduled_request_for_a_fire_still_to_come_is_rejected_so_the_fire_keeps_its_id():
    tomorrow = REQUEST.model_copy(update={"scheduled_for": NOW + timedelta(days=1)})
    soon = REQUEST.model_copy(update={"scheduled_for": NOW + SCHEDULE_SKEW})

    with pytest.raises(RequestRejected, match="scheduled_for: 2026-11-25T11:15Z has not come yet"):
        on_request(None, tomorrow, TABLE, "scheduled-20261125T1115Z", NOW, "legacy")
    assert isinstance(on_request(None, soon, TABLE, "scheduled-20261124T1120Z", NOW, "legacy"), Start)
    manual = tomorrow.model_copy(update={"trigger": "manual"})
    assert isinstance(on_request(None, manual, TABLE, "manual-1", NOW, "legacy"), Start)
