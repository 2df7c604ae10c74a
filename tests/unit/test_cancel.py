"""Cancelling a run, the decision alone: refusals, and the run as it is saved cancelled."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from databridge_pipeline.domain.cancel import CancelRefused, cancel_note, cancel_run
from databridge_pipeline.domain.runs import Run, StepRecord

NOW = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)
TABLE = "databridge/lni/inspections"
CALLER = "arn:aws:iam::123456789012:user/ops"


def running(status: str = "submitted", job_id: str | None = "job-7", attempts: int = 1) -> Run:
    started = NOW - timedelta(minutes=40)
    return Run(
        table=TABLE,
        run_id="scheduled-20261124T1115Z",
        trigger="schedule",
        steps=(
            StepRecord(name="extract", status="succeeded", attempts=1, job_id="job-6"),
            StepRecord(name="load", status=status, attempts=attempts, job_id=job_id, since=started),
        ),
        current=1,
        created_at=started,
        updated_at=started,
        version=4,
    )


def test_a_running_run_is_saved_cancelled_with_who_and_why_and_its_alert_pending():
    run = running()

    cancellation = cancel_run(run, TABLE, None, "  wrong Carto table ", CALLER, NOW)

    cancelled = cancellation.run
    assert (cancelled.status, cancelled.finished_at, cancelled.updated_at) == ("cancelled", NOW, NOW)
    assert cancelled.note == f"cancelled by {CALLER}: wrong Carto table"
    assert cancelled.alert == "pending", "the reconciliation pass posts its one Slack line"
    assert cancelled.version == run.version, "saved with a conditional write on the version it was read at"
    assert cancelled.steps == run.steps and cancelled.current == run.current, "where it was when cancelled"
    assert cancellation.job_id == "job-7"
    assert cancellation.in_flight is False


def test_only_a_submitted_step_has_a_job_to_terminate():
    assert cancel_run(running("retry_pending", "job-7"), TABLE, None, "x", CALLER, NOW).job_id is None, "it failed"
    assert cancel_run(running("pending", None), TABLE, None, "x", CALLER, NOW).job_id is None
    submitting = cancel_run(running("submitting", None), TABLE, None, "x", CALLER, NOW)
    assert (submitting.job_id, submitting.in_flight) == (None, True), "a SubmitJob may be under way"


def test_a_caller_aws_would_not_name_is_said_to_be_unknown():
    assert cancel_note(None, "wrong table") == "cancelled by an unknown caller: wrong table"
    assert cancel_run(running(), TABLE, None, "wrong table", None, NOW).run.note == cancel_note(None, "wrong table")


@pytest.mark.parametrize("status", ["succeeded", "failed", "cancelled"])
def test_a_finished_run_is_refused_saying_when_it_finished_and_how_to_run_the_table_again(status):
    finished = running().model_copy(update={"status": status, "finished_at": NOW - timedelta(minutes=5)})

    with pytest.raises(CancelRefused) as refused:
        cancel_run(finished, TABLE, finished.run_id, "x", CALLER, NOW)

    assert str(refused.value) == (
        f"run scheduled-20261124T1115Z of {TABLE} already {status} at 2026-11-24T11:55:00Z: nothing to cancel "
        f"(`rerun {TABLE}` starts a new run)"
    )


def test_no_running_run_and_no_such_run_are_refused_with_where_to_look():
    with pytest.raises(CancelRefused, match=rf"^{TABLE} has no running run to cancel \(`status {TABLE}` shows"):
        cancel_run(None, TABLE, None, "x", CALLER, NOW)
    with pytest.raises(
        CancelRefused, match=rf"^the run ledger has no run manual-1 of {TABLE} \(`status {TABLE}` lists"
    ):
        cancel_run(None, TABLE, "manual-1", "x", CALLER, NOW)


def test_a_cancellation_needs_a_reason():
    with pytest.raises(ValueError, match="needs a reason"):
        cancel_run(running(), TABLE, None, "  ", CALLER, NOW)
