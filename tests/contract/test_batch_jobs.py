"""The BatchJobs port's promises, held by FakeBatch and by AwsBatchJobs on moto's Batch (no Docker) alike.

moto's jobs reach SUCCEEDED the moment they are submitted and it has no way to fail one, so what DescribeJobs
says of a finished job is laid over moto's answer as AWS would shape it (``local.moto_patches``, as the local
run does); the fake is told the same through ``set_state``. A running job and TerminateJob are the other two
things moto's Docker-less Batch cannot show: see ``Subject.start`` and ``_terminate_as_batch_does``.

The adapter is built as the Lambdas build it (``adapters.aws_clients``: a standard-retries client and a
one-attempt client for SubmitJob); the last tests hold the adapter alone to that one attempt, against a
stand-in endpoint on loopback.
"""

from __future__ import annotations

import json
import threading
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import botocore.endpoint
import pytest
from botocore.exceptions import ClientError
from fakes import FakeBatch
from moto.batch.models import Job, batch_backends
from moto.core import DEFAULT_ACCOUNT_ID

from databridge_pipeline.adapters.aws_clients import aws_clients
from databridge_pipeline.adapters.batch import AwsBatchJobs
from databridge_pipeline.domain.connections import connections_of_type
from databridge_pipeline.domain.errors import JobRejected, NotMade
from databridge_pipeline.domain.job_requests import JobRequest, job_request, plan_steps
from databridge_pipeline.domain.settings import settings_for
from databridge_pipeline.domain.step_kinds import step_kinds
from databridge_pipeline.domain.tables import Table, TableConfig, TableId
from databridge_pipeline.local.moto_patches import answer_describe_jobs
from databridge_pipeline.local.stack import REGION

SETTINGS = settings_for("dev")  # the names local.stack.create_resources gives the queues and job definitions
# The job definitions local.stack.create_resources registers: one per step kind and connection.
STACK_JOB_DEFINITIONS = {
    SETTINGS.job_definition(name, connection)
    for name, kind in step_kinds().items()
    for connection in connections_of_type(kind.connection)
}
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

    def start(self, job_id: str) -> None:
        """The job's container is running. moto's Docker-less Batch finishes every job at SubmitJob, so its
        job is put back to RUNNING, as its Docker backend's job is while the container runs."""
        if isinstance(self.jobs, FakeBatch):
            self.jobs.set_state(job_id, "RUNNING")
            return
        job = batch_backends[DEFAULT_ACCOUNT_ID][REGION]._jobs[job_id]
        job.status, job.job_stopped, job.job_stopped_reason, job.stop = "RUNNING", False, None, False


def _terminate_as_batch_does(job: Job, reason: str) -> None:
    """TerminateJob as AWS Batch does it: a job not yet finished ends FAILED with the reason, a finished one
    is left as it is. moto only sets a stop flag, which its Docker backend's container loop acts on (ending the
    job FAILED) and its Docker-less one never reads; and it sets the reason on a finished job too."""
    if job.status in ("SUCCEEDED", "FAILED"):
        return
    job.job_stopped_reason = reason
    job._mark_stopped(success=False)


@pytest.fixture(params=["fake", "moto"])
def batch(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Iterator[Subject]:
    if request.param == "fake":
        yield Subject(FakeBatch(job_definitions=STACK_JOB_DEFINITIONS))
        return
    request.getfixturevalue("moto_stack")
    client = aws_clients(REGION)
    subject = Subject(AwsBatchJobs(client("batch"), client("batch", no_retries=True)))
    answer_describe_jobs(subject.jobs.client, lambda job_id: subject.says.get(job_id, {}))
    monkeypatch.setattr(Job, "terminate", _terminate_as_batch_does)
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


def test_a_job_definition_batch_does_not_have_is_rejected_for_good_and_no_job_is_made(batch, table):
    unknown = f"{SETTINGS.job_definition_prefix}-no-such-kind-default"
    request = request_for(table).model_copy(update={"job_definition": unknown})

    with pytest.raises(JobRejected) as rejected:
        batch.jobs.submit(request)

    assert unknown in rejected.value.reason
    assert batch.jobs.find(request) is None
    assert batch.jobs.find(request_for(table)) is None


def test_find_ignores_a_job_of_another_table_with_the_same_name_and_run(batch, table):
    """A job's name is its step, schema and table name: a table of another source with the same schema and
    name (airtable/contract/x beside databridge/contract/x) gives its jobs the very names of ours."""
    ours = request_for(table)
    theirs = ours.model_copy(update={"tags": {**ours.tags, "table": f"airtable/contract/{table.id.name}"}})
    other = batch.jobs.submit(theirs)

    assert batch.jobs.find(ours) is None
    mine = batch.jobs.submit(ours)
    assert batch.jobs.find(ours) == mine
    assert batch.jobs.find(theirs) == other


def test_terminate_ends_a_running_job_failed_with_the_reason(batch, table):
    job_id = batch.jobs.submit(request_for(table))
    batch.start(job_id)
    assert batch.jobs.states([job_id])[job_id].status == "RUNNING"

    batch.jobs.terminate(job_id, "cancelled by arn:aws:iam::123456789012:user/ops: wrong table")

    state = batch.jobs.states([job_id])[job_id]
    assert (state.status, state.status_reason) == (
        "FAILED",
        "cancelled by arn:aws:iam::123456789012:user/ops: wrong table",
    )


def test_terminate_leaves_a_finished_job_as_it_is(batch, table):
    job_id = batch.jobs.submit(request_for(table))
    batch.finish(job_id, "SUCCEEDED", "Essential container in task exited", 0, "extract/default/abc")
    before = batch.jobs.states([job_id])[job_id]

    batch.jobs.terminate(job_id, "too late")

    assert batch.jobs.states([job_id])[job_id] == before


# --- the adapter alone: SubmitJob is made once, whatever comes back ------------------------------------------


class StandIn(ThreadingHTTPServer):
    """An endpoint on loopback answering every request with one status, header and body, counting them by
    operation (the path: /v1/submitjob, /v1/listjobs)."""

    def __init__(self, status: int, error_type: str) -> None:
        self.status, self.error_type = status, error_type
        self.message = f"stand-in {error_type}"
        self.calls: dict[str, int] = {}
        super().__init__(("127.0.0.1", 0), _Answer)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"


class _Answer(BaseHTTPRequestHandler):
    server: StandIn

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        self.server.calls[self.path] = self.server.calls.get(self.path, 0) + 1
        body = json.dumps({"message": self.server.message}).encode()
        self.send_response(self.server.status)
        self.send_header("x-amzn-ErrorType", self.server.error_type)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: Any) -> None:  # quiet
        pass


@pytest.fixture
def stand_in(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[StandIn, AwsBatchJobs]]:
    """A StandIn answering ``request.param`` (status, error type), and the adapter wired to it as bootstrap
    wires it; botocore's back-off sleeps are skipped, the attempts still counted."""
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        monkeypatch.setenv(name, "testing")
    monkeypatch.setattr(botocore.endpoint.time, "sleep", lambda seconds: None)
    server = StandIn(*request.param)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    client = aws_clients(REGION, endpoint_url=server.url)
    yield server, AwsBatchJobs(client("batch"), client("batch", no_retries=True))
    server.shutdown()
    server.server_close()


@pytest.mark.parametrize("stand_in", [(500, "ServerException")], indirect=True)
def test_submit_job_is_one_http_attempt_on_a_500_and_its_error_propagates(stand_in, table):
    server, jobs = stand_in

    with pytest.raises(ClientError) as error:
        jobs.submit(request_for(table))

    assert error.value.response["Error"]["Code"] == "ServerException", "outcome unknown: neither refused nor throttled"
    assert server.calls == {"/v1/submitjob": 1}, "a second attempt after a lost response would be a second job"


@pytest.mark.parametrize("stand_in", [(500, "ServerException")], indirect=True)
def test_the_other_batch_calls_keep_standard_retries(stand_in, table):
    server, jobs = stand_in

    with pytest.raises(ClientError):
        jobs.find(request_for(table))

    assert server.calls == {"/v1/listjobs": 6}, "RETRIES: 5 retries after the first attempt"


@pytest.mark.parametrize("stand_in", [(429, "TooManyRequestsException")], indirect=True)
def test_a_throttled_submit_job_is_not_made_after_one_attempt(stand_in, table):
    server, jobs = stand_in

    with pytest.raises(NotMade, match="TooManyRequestsException"):
        jobs.submit(request_for(table))

    assert server.calls == {"/v1/submitjob": 1}


@pytest.mark.parametrize("stand_in", [(400, "ClientException")], indirect=True)
def test_a_client_exception_is_a_rejection_with_batchs_message_cut_to_300_characters(stand_in, table):
    server, jobs = stand_in
    with pytest.raises(JobRejected) as rejected:
        jobs.submit(request_for(table))
    assert rejected.value.reason == "AWS Batch refused SubmitJob: stand-in ClientException"

    server.message = "Container overrides: " + "x" * 1000
    with pytest.raises(JobRejected) as rejected:
        jobs.submit(request_for(table))
    message = rejected.value.reason.removeprefix("AWS Batch refused SubmitJob: ")
    assert len(message) == 300 and message.startswith("Container overrides: xxx") and message.endswith("…")
    assert server.calls == {"/v1/submitjob": 2}, "one attempt each"
