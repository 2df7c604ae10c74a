"""Reconciliation decisions as pure rules: (the run the ledger has, what Batch says, now) -> repair."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from databridge_pipeline.domain.aws_events import JobState
from databridge_pipeline.domain.repairs import (
    POLL_GRACE,
    RESEND_GRACE,
    RetryPolicy,
    job_to_poll,
    reconcile_run,
)
from databridge_pipeline.domain.run_request import RunRequest
from databridge_pipeline.domain.runs import (
    SUBMIT_LEASE,
    Finish,
    Run,
    ScheduleRetry,
    Start,
    Submit,
    on_request,
    step_since,
    stuck_runs,
)
from databridge_pipeline.domain.tables import Table, TableConfig, TableId

NOW = datetime(2026, 11, 24, 11, 15, tzinfo=UTC)
TABLE = Table(
    id=TableId.parse("databridge/lni/permits"),
    config=TableConfig(schedule_interval="3 11 * * *", upload_to_carto=True, carto_users=["publicuser"]),
)
POLICY = RetryPolicy(retries=1, delay_minutes=5)
JOB = "job-1"


def started() -> Run:
    request = RunRequest.model_validate({"table": "databridge/lni/permits", "trigger": "schedule"})
    decision = on_request(None, request, TABLE, "scheduled-20261124T1103Z", NOW, "legacy")
    assert isinstance(decision, Start)
    return decision.run


def submitted(at: datetime = NOW) -> Run:
    run = started()
    return run.with_step(run.step.model_copy(update={"status": "submitted", "job_id": JOB, "since": at}), at)


def batch_says(status: str, **fields: object) -> dict[str, JobState]:
    return {JOB: JobState(job_id=JOB, status=status, **fields)}  # type: ignore[arg-type]


# --- submitting -------------------------------------------------------------------------------------


def test_a_submission_in_flight_is_left_alone_until_its_lease_expires():
    run = started()  # submitting since NOW, lease held

    assert reconcile_run(run, {}, POLICY, NOW + SUBMIT_LEASE - timedelta(seconds=1)) is None
    repair = reconcile_run(run, {}, POLICY, NOW + SUBMIT_LEASE)

    assert repair is not None and repair.kind == "resubmitted"
    assert isinstance(repair.decision, Submit)
    assert repair.decision.adopt, "a job the dead invocation submitted is adopted, not submitted twice"
    assert repair.decision.run.step.attempts == 1, "the same attempt: never a second job for it"


def test_a_released_lease_is_taken_over_at_once():
    run = started()
    released = run.with_step(run.step.model_copy(update={"since": None}), NOW)

    repair = reconcile_run(released, {}, POLICY, NOW + timedelta(seconds=1))

    assert repair is not None and isinstance(repair.decision, Submit) and repair.decision.adopt


# --- submitted --------------------------------------------------------------------------------------


def test_a_submitted_job_is_asked_about_only_after_its_events_grace():
    run = submitted()

    assert job_to_poll(run, NOW + POLL_GRACE - timedelta(seconds=1)) is None
    assert job_to_poll(run, NOW + POLL_GRACE) == JOB
    assert job_to_poll(started(), NOW + timedelta(hours=1)) is None, "no job id yet"


@pytest.mark.parametrize("status", ["SUBMITTED", "RUNNABLE", "STARTING", "RUNNING"])
def test_a_job_still_on_its_way_is_left_alone(status: str):
    assert reconcile_run(submitted(), batch_says(status), POLICY, NOW + timedelta(minutes=30)) is None


def test_a_succeeded_extract_whose_event_was_lost_submits_the_load():
    later = NOW + timedelta(minutes=10)

    repair = reconcile_run(submitted(), batch_says("SUCCEEDED", exit_code=0), POLICY, later)

    assert repair is not None and repair.kind == "polled"
    assert isinstance(repair.decision, Submit)
    run = repair.decision.run
    assert [(s.name, s.status) for s in run.steps] == [("extract", "succeeded"), ("load", "submitting")]


def test_a_failed_job_whose_event_was_lost_is_retried_as_the_event_would_have_been():
    repair = reconcile_run(
        submitted(), batch_says("FAILED", status_reason="boom", exit_code=2), POLICY, NOW + POLL_GRACE
    )

    assert repair is not None and isinstance(repair.decision, ScheduleRetry)
    assert repair.decision.request.attempt == 2
    assert repair.decision.delay_seconds == POLICY.delay_minutes * 60
    assert repair.decision.run.step.status_reason == "boom"


def test_a_failed_job_past_its_retries_finishes_the_run_with_an_alert():
    policy = RetryPolicy(retries=0, delay_minutes=5)

    repair = reconcile_run(submitted(), batch_says("FAILED", exit_code=2), policy, NOW + POLL_GRACE)

    assert repair is not None and isinstance(repair.decision, Finish)
    assert (repair.decision.run.status, repair.decision.run.alert) == ("failed", "pending")


def test_a_job_batch_no_longer_knows_fails_with_that_reason():
    repair = reconcile_run(submitted(), {}, RetryPolicy(retries=0, delay_minutes=5), NOW + POLL_GRACE)

    assert repair is not None and isinstance(repair.decision, Finish)
    assert repair.decision.run.step.status_reason == f"AWS Batch no longer knows job {JOB}"


# --- retry_pending ----------------------------------------------------------------------------------


def retry_pending(at: datetime = NOW) -> Run:
    run = submitted()
    step = run.step.model_copy(update={"status": "retry_pending", "since": at})
    return run.with_step(step, at)


def test_an_overdue_retry_is_sent_again_and_then_not_before_the_grace_again():
    due = NOW + timedelta(minutes=POLICY.delay_minutes)
    run = retry_pending()

    assert reconcile_run(run, {}, POLICY, due + RESEND_GRACE - timedelta(seconds=1)) is None
    repair = reconcile_run(run, {}, POLICY, due + RESEND_GRACE)

    assert repair is not None and repair.kind == "resent"
    assert isinstance(repair.decision, ScheduleRetry)
    assert (repair.decision.request.attempt, repair.decision.delay_seconds) == (2, 0)
    resent = repair.decision.run
    assert reconcile_run(resent, {}, POLICY, due + RESEND_GRACE + timedelta(minutes=1)) is None
    assert reconcile_run(resent, {}, POLICY, due + 2 * RESEND_GRACE) is not None


# --- finished, stuck --------------------------------------------------------------------------------


def test_a_finished_run_still_holding_its_slot_is_freed():
    run = submitted().model_copy(update={"status": "succeeded", "finished_at": NOW})

    repair = reconcile_run(run, {}, POLICY, NOW)

    assert repair is not None and repair.kind == "freed"
    assert isinstance(repair.decision, Finish) and not repair.decision.save


def test_a_released_lease_is_still_timed_for_the_stuck_check():
    run = started()
    released = run.with_step(run.step.model_copy(update={"since": None}), NOW + timedelta(minutes=3))
    timeouts = {str(TABLE.id): 60}

    assert step_since(released) == NOW, "counts from when the attempt began, not from the release"
    assert stuck_runs([released], timeouts, NOW + timedelta(minutes=61)) == [released]


def test_a_take_over_renews_the_lease_but_not_the_stuck_clock():
    repair = reconcile_run(started(), {}, POLICY, NOW + SUBMIT_LEASE)

    assert repair is not None
    taken = repair.decision.run  # type: ignore[union-attr]
    assert taken.step.since == NOW + SUBMIT_LEASE
    assert step_since(taken) == NOW
