"""Which Batch state-change events are ours and what they say, from the AWS-shaped samples in events/."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from databridge_pipeline.domain.aws_events import BatchJobStateChange, ScheduleTick, job_outcome
from databridge_pipeline.local.batch_events import job_state_change

EVENTS = Path(__file__).resolve().parents[2] / "events"
QUEUES = {"databridge-pipeline-dev-extract", "databridge-pipeline-dev-carto"}
JOB = {
    "jobArn": "arn:aws:batch:us-east-1:123456789012:job/4c9a0f5e-2b7d-4f1e-9c3a-8d6b5e4f3a21",
    "jobName": "load_lni_inspections",
    "jobId": "4c9a0f5e-2b7d-4f1e-9c3a-8d6b5e4f3a21",
    "jobQueue": "arn:aws:batch:us-east-1:123456789012:job-queue/databridge-pipeline-dev-carto",
    "jobDefinition": "arn:aws:batch:us-east-1:123456789012:job-definition/databridge-pipeline-dev-carto-load:3",
    "tags": {"table": "databridge/lni/inspections", "run_id": "manual-abc", "step": "load"},
}


def event(status: str, **kwargs: Any) -> BatchJobStateChange:
    raw = job_state_change(
        JOB,
        status,
        __import__("datetime").datetime(2026, 11, 24, 12, tzinfo=__import__("datetime").UTC),
        "123456789012",
        "us-east-1",
        **kwargs,
    )
    return BatchJobStateChange.model_validate(raw)


def test_a_failed_job_of_ours_gives_its_reason_exit_code_and_log_stream():
    outcome = job_outcome(event("FAILED", status_reason="OutOfMemoryError", exit_code=137), QUEUES)

    assert outcome is not None
    assert (outcome.table, outcome.run_id, outcome.step, outcome.status) == (
        "databridge/lni/inspections", "manual-abc", "load", "FAILED",
    )  # fmt: skip
    assert (outcome.exit_code, outcome.status_reason) == (137, "OutOfMemoryError")
    assert outcome.log_stream == "load_lni_inspections/default/4c9a0f5e2b7d4f1e9c3a8d6b5e4f3a21"


@pytest.mark.parametrize("status", ["SUBMITTED", "RUNNABLE", "RUNNING"])
def test_non_final_states_are_not_outcomes(status: str):
    assert job_outcome(event(status), QUEUES) is None


def test_a_job_on_another_queue_or_without_our_tags_is_not_ours():
    assert job_outcome(event("SUCCEEDED"), {"someone-elses-queue"}) is None
    untagged = event("SUCCEEDED")
    untagged.detail.tags.clear()
    assert job_outcome(untagged, QUEUES) is None


def test_the_schedule_tick_sample_parses_with_its_time():
    tick = ScheduleTick.model_validate(json.loads((EVENTS / "schedule_tick.json").read_text()))

    assert tick.time.isoformat() == "2026-11-24T11:15:00+00:00"


@pytest.mark.parametrize("name", ["batch_job_succeeded.json", "batch_job_failed.json"])
def test_the_batch_samples_in_events_are_outcomes_of_ours(name: str):
    path = EVENTS / name
    sample = BatchJobStateChange.model_validate(json.loads(path.read_text()))

    outcome = job_outcome(sample, QUEUES)

    assert outcome is not None
    assert outcome.status == sample.detail.status
