"""The run state machine as pure rules: no AWS, just (run, what happened) -> decision."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from databridge_pipeline.domain.run_request import RunRequest
from databridge_pipeline.domain.runs import (
    SUBMIT_LEASE,
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

    retried = on_request(first.run, first.request, TABLE, run.run_id, NOW, "legacy")
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
    taken = on_request(retry.run, retry.request, TABLE, run.run_id, NOW, "legacy")
    assert isinstance(taken, Submit)

    again = on_request(submitted(taken.run, "job-2"), retry.request, TABLE, run.run_id, NOW, "legacy")

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
