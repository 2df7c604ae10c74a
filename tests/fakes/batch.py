"""AWS Batch in memory, as ``adapters.batch.AwsBatchJobs`` sees it: jobs submitted, found again by run, step and
attempt, and described in calls of at most 100 ids.

A job starts ``SUBMITTED`` and stays so until a test says otherwise with ``set_state`` (AWS Batch, like moto,
moves jobs on by itself; here nothing moves unless told). ``forget`` drops a job, as Batch does some days
after it ended. ``state_change`` gives the EventBridge event AWS would send for a job reaching a state.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from databridge_pipeline.domain.aws_events import JobState
from databridge_pipeline.domain.errors import JobRejected, NotMade
from databridge_pipeline.domain.job_requests import JobRequest
from databridge_pipeline.local.batch_events import job_state_change

ACCOUNT = "123456789012"
REGION = "us-east-1"
# DescribeJobs takes at most 100 job ids a call.
DESCRIBE_BATCH = 100


# AWS Batch's own limits on SubmitJob, refused with a ClientException (the adapter's JobRejected).
JOB_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,127}")
MAX_REQUEST_BYTES = 30 * 1024


class SubmitRefused(NotMade):
    """What a throttled SubmitJob raises here (the adapter's NotMade, from botocore's throttling errors)."""


def rejection(request: JobRequest, job_definitions: set[str] | None) -> str | None:
    """Why Batch would refuse ``request`` for good, if it would: its job name, its size, its job definition."""
    if not JOB_NAME.fullmatch(request.job_name):
        return f"AWS Batch refused SubmitJob: job name {request.job_name[:40]}... must be 1-128 letters, digits, - or _"
    size = len(json.dumps(request.submit_job_kwargs()).encode())
    if size > MAX_REQUEST_BYTES:
        return f"AWS Batch refused SubmitJob: the request is {size} bytes; AWS Batch takes at most {MAX_REQUEST_BYTES}"
    if job_definitions is not None and request.job_definition not in job_definitions:
        return f"AWS Batch refused SubmitJob: job definition {request.job_definition} does not exist"
    return None


@dataclass
class FakeJob:
    job_id: str
    request: JobRequest
    state: JobState

    @property
    def tags(self) -> dict[str, str]:
        return self.request.tags


class FakeBatch:
    def __init__(self, job_definitions: set[str] | None = None) -> None:
        """``job_definitions``: the ones the stack created (a request naming another is rejected); None takes any."""
        self.job_definitions = job_definitions
        self.jobs: dict[str, FakeJob] = {}  # by id, oldest first
        self.describe_calls = 0
        self.submit_calls = 0
        self.terminated: list[str] = []
        self._refusals = 0
        self._created = 0
        # (queue, job name, run id, step, attempt) -> ids, newest first, so find() is a lookup
        self._by_attempt: dict[tuple[str, ...], list[str]] = {}
        self._by_name: dict[tuple[str, str], int] = {}

    # --- driving it from a test ----------------------------------------------------------------------

    def refuse_next(self, times: int = 1) -> None:
        """The next ``times`` SubmitJob calls are throttled: ``SubmitRefused`` (a ``NotMade``), no job made."""
        self._refusals = times

    def set_state(
        self,
        job_id: str,
        status: str,
        status_reason: str | None = None,
        exit_code: int | None = None,
        log_stream: str | None = None,
    ) -> None:
        """What DescribeJobs says of the job from now on."""
        self.jobs[job_id].state = JobState(
            job_id=job_id, status=status, status_reason=status_reason, exit_code=exit_code, log_stream=log_stream
        )

    def forget(self, job_id: str) -> None:
        """Batch no longer knows the job: ListJobs and DescribeJobs leave it out."""
        request = self.jobs.pop(job_id).request
        self._by_name[(request.job_queue, request.job_name)] -= 1

    def state_change(self, job_id: str, status: str, at: datetime, **reason_and_exit: Any) -> dict[str, Any]:
        """The "Batch Job State Change" event of the job reaching ``status`` (``status_reason``, ``exit_code`` as
        ``job_state_change`` takes them); DescribeJobs says the same from now on."""
        event = job_state_change(self.described(job_id), status, at, ACCOUNT, REGION, **reason_and_exit)
        container = event["detail"]["container"]
        self.set_state(
            job_id, status, event["detail"].get("statusReason"), container.get("exitCode"), container["logStreamName"]
        )
        return event

    def described(self, job_id: str) -> dict[str, Any]:
        """The job as a DescribeJobs entry (the fields the event and the tests read)."""
        job = self.jobs[job_id]
        request = job.request
        return {
            "jobArn": f"arn:aws:batch:{REGION}:{ACCOUNT}:job/{job_id}",
            "jobName": request.job_name,
            "jobId": job_id,
            "jobQueue": f"arn:aws:batch:{REGION}:{ACCOUNT}:job-queue/{request.job_queue}",
            "jobDefinition": f"arn:aws:batch:{REGION}:{ACCOUNT}:job-definition/{request.job_definition}:1",
            "status": job.state.status,
            "container": {"command": request.command},
            "tags": dict(request.tags),
        }

    def submitted(self) -> list[JobRequest]:
        """Every request submitted, oldest first."""
        return [job.request for job in self.jobs.values()]

    # --- the BatchJobs port --------------------------------------------------------------------------

    def submit(self, request: JobRequest) -> str:
        self.submit_calls += 1
        if self._refusals:
            self._refusals -= 1
            raise SubmitRefused(f"SubmitJob throttled for {request.job_name}")
        reason = rejection(request, self.job_definitions)
        if reason is not None:
            raise JobRejected(reason)
        self._created += 1
        job_id = f"job-{self._created:04}"
        self.jobs[job_id] = FakeJob(job_id, request, JobState(job_id=job_id, status="SUBMITTED"))
        self._by_attempt.setdefault(_attempt_key(request), []).insert(0, job_id)
        name = (request.job_queue, request.job_name)
        self._by_name[name] = self._by_name.get(name, 0) + 1
        return job_id

    def find(self, request: JobRequest) -> str | None:
        """As the adapter: the jobs of the queue with the request's name are listed and described (a DescribeJobs
        call per 100 of them), and the newest with the same table, run, step and attempt tags is the one."""
        listed = self._by_name.get((request.job_queue, request.job_name), 0)
        self.describe_calls += math.ceil(listed / DESCRIBE_BATCH)
        ids = [job_id for job_id in self._by_attempt.get(_attempt_key(request), []) if job_id in self.jobs]
        return ids[0] if ids else None

    def states(self, job_ids: Iterable[str]) -> dict[str, JobState]:
        ids = list(dict.fromkeys(job_ids))
        states: dict[str, JobState] = {}
        for start in range(0, len(ids), DESCRIBE_BATCH):
            states.update((state.job_id, state) for state in self.describe_jobs(ids[start : start + DESCRIBE_BATCH]))
        return states

    def terminate(self, job_id: str, reason: str) -> None:
        """As TerminateJob: a job not finished ends FAILED with ``reason``; a finished or unknown one is left."""
        self.terminated.append(job_id)
        job = self.jobs.get(job_id)
        if job is not None and job.state.status not in ("SUCCEEDED", "FAILED"):
            self.set_state(job_id, "FAILED", status_reason=reason)

    def describe_jobs(self, job_ids: list[str]) -> list[JobState]:
        """One DescribeJobs call: what Batch says of each job it still knows. More than 100 ids is refused,
        as AWS refuses them."""
        if len(job_ids) > DESCRIBE_BATCH:
            raise ValueError(f"DescribeJobs called with {len(job_ids)} ids; AWS takes at most {DESCRIBE_BATCH}")
        self.describe_calls += 1
        return [self.jobs[job_id].state for job_id in job_ids if job_id in self.jobs]


def _attempt_key(request: JobRequest) -> tuple[str, ...]:
    tags = request.tags
    return (request.job_queue, request.job_name, tags["table"], tags["run_id"], tags["step"], tags["attempt"])
