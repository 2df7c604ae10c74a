"""The BatchJobs port's promises, held by FakeBatch and by AwsBatchJobs on moto's Batch (no Docker) alike.

moto's jobs reach SUCCEEDED the moment they are submitted and it has no way to fail one, so what DescribeJobs
says of a finished job is laid over moto's answer as AWS would shape it (``local.moto_patches``, as the local
run does); the fake is told the same through ``set_state``.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from fakes import FakeBatch

from databridge_pipeline.adapters.batch import AwsBatchJobs
from databridge_pipeline.domain.job_requests import JobRequest, job_request, plan_steps
from databridge_pipeline.domain.settings import settings_for
from databridge_pipeline.domain.tables import Table, TableConfig, TableId
from databridge_pipeline.local.moto_patches import answer_describe_jobs

SETTINGS = settings_for("dev")  # the names local.stack.create_resources gives the queues and job definitions
BATCH_STATUSES = {"SUBMITTED", "PENDING", "RUNNABLE", "STARTING", "RUNNING", "SUCCEEDED", "FAILED"}


@dataclass
class Subject:
    """The port under test, and how a test says what Batch says of a job."""

    jobs: FakeBatch | AwsBatchJobs
    says: dict[str, dict[str, Any] | None] = field(default_factory=dict)

    def finish(self, job_id: str, status: str, reason: str, exit_code: int, log_stream: str) -> None:
        if isinstance(self.jobs, FakeBatch):
            self.jobs.set_state(job_id, status, reason, exit_code, log_stream)
        else:  # as DescribeJobs shows a finished job: the reason on the job, the rest on its container
            container = {"exitCode": exit_code, "logStreamName": log_stream}
            self.says[job_id] = {"status": status, "statusReason": reason, "container": container}


@pytest.fixture(params=["fake", "moto"])
def batch(request: pytest.FixtureRequest) -> Iterator[Subject]:
    if request.param == "fake":
        yield Subject(FakeBatch())
        return
    client = request.getfixturevalue("moto_stack").client("batch")
    subject = Subject(AwsBatchJobs(client))
    answer_describe_jobs(client, lambda job_id: subject.says.get(job_id, {}))
    yield subject


@pytest.fixture
def table() -> Table:
    """A table of this test's own: its job names are seen by no other test sharing the module's Batch."""
    name = f"t_{uuid.uuid4().hex[:12]}"
    return Table(id=TableId.parse(f"databridge/contract/{name}"), config=TableConfig(upload_to_carto=True))


def request_for(table: Table, run_id: str = "manual-1", step: str = "extract", attempt: int = 1) -> JobRequest:
    [resolved] = [s for s in plan_steps(table, SETTINGS.command_set) if s.name == step]
    return job_request(table, resolved, SETTINGS, run_id, attempt=attempt)


def test_a_submitted_job_is_known_to_batch_by_the_id_submit_returned(batch, table):
    job_id = batch.jobs.submit(request_for(table))

    [(known, state)] = batch.jobs.states([job_id]).items()
    assert known == job_id == state.job_id
    assert state.status in BATCH_STATUSES


def test_find_returns_the_job_of_the_same_run_step_and_attempt_and_nothing_else(batch, table):
    assert batch.jobs.find(request_for(table)) is None, "nothing submitted yet"
    first = batch.jobs.submit(request_for(table))
    second = batch.jobs.submit(request_for(table, attempt=2))

    assert batch.jobs.find(request_for(table)) == first
    assert batch.jobs.find(request_for(table, attempt=2)) == second
    assert batch.jobs.find(request_for(table, attempt=3)) is None
    assert batch.jobs.find(request_for(table, run_id="manual-2")) is None
    assert batch.jobs.find(request_for(table, step="load")) is None


def test_a_finished_job_reads_with_its_status_reason_exit_code_and_log_stream(batch, table):
    job_id = batch.jobs.submit(request_for(table))
    batch.finish(job_id, "FAILED", "Essential container in task exited", 2, "extract/default/abc")

    state = batch.jobs.states([job_id])[job_id]

    assert (state.status, state.status_reason, state.exit_code, state.log_stream) == (
        "FAILED",
        "Essential container in task exited",
        2,
        "extract/default/abc",
    )


def test_a_job_batch_never_gave_is_absent_from_what_it_says(batch, table):
    job_id = batch.jobs.submit(request_for(table))

    assert set(batch.jobs.states([job_id, "no-such-job"])) == {job_id}


def test_states_asks_at_most_a_hundred_ids_a_call_and_each_id_once(batch):
    before = batch.jobs.describe_calls
    ids = [f"unknown-{n}" for n in range(250)]

    assert batch.jobs.states(ids + ids[:50]) == {}
    assert batch.jobs.describe_calls - before == 3, "ceil(250 / 100)"
    assert batch.jobs.states([]) == {}
    assert batch.jobs.describe_calls - before == 3, "no ids, no call"


def test_find_describes_the_jobs_listed_under_the_requests_name_and_counts_the_call(batch, table):
    before = batch.jobs.describe_calls
    batch.jobs.find(request_for(table))
    assert batch.jobs.describe_calls == before, "no job of that name: nothing to describe"

    batch.jobs.submit(request_for(table))
    batch.jobs.find(request_for(table, attempt=2))

    assert batch.jobs.describe_calls == before + 1
