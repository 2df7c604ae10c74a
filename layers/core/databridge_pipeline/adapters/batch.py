"""AWS Batch: submit one step's job, find a job again by table, run, step and attempt, ask what became of
jobs, and stop one."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from botocore.exceptions import ClientError

from databridge_pipeline.domain.aws_events import JobState
from databridge_pipeline.domain.errors import JobRejected, NotMade
from databridge_pipeline.domain.job_requests import JobRequest
from databridge_pipeline.domain.text import cut

# DescribeJobs takes at most 100 job ids a call.
DESCRIBE_BATCH = 100
# The tags that tell one attempt's job from another's: every attempt of a step has the same job name, and so
# do the jobs of two sources' tables with the same schema and name (databridge/lni/x, airtable/lni/x).
ATTEMPT_TAGS = ("table", "run_id", "step", "attempt")
# Batch says "refused for good" with a ClientException (a bad request: an unknown job definition, a job name
# it does not take, a request over 30 KiB); a throttled call did nothing. These are botocore's own throttling
# codes (botocore.retries.standard, ThrottledRetryableChecker), less the ones of other services' quotas.
REFUSED = "ClientException"
THROTTLED = frozenset(
    {
        "Throttling",
        "ThrottlingException",
        "ThrottledException",
        "RequestThrottledException",
        "TooManyRequestsException",
        "RequestLimitExceeded",
        "RequestThrottled",
        "SlowDown",
    }
)
MAX_MESSAGE = 300  # of Batch's message, in a JobRejected (it ends up in the ledger and an alert)


class AwsBatchJobs:
    def __init__(self, client: Any, submit_client: Any) -> None:
        """``client``: a Batch client with standard retries (ListJobs, DescribeJobs, TerminateJob: a retry
        of them is harmless). ``submit_client``: one that makes each call once (``aws_clients(...)("batch",
        no_retries=True)``), for SubmitJob, which has no idempotency token: a retry after a lost response
        would make a second job."""
        self.client = client
        self.submit_client = submit_client
        self.describe_calls = 0

    def submit(self, request: JobRequest) -> str:
        """Submit the job once and return its id. ``JobRejected`` when Batch refuses it (a ClientException:
        sending it again would be refused again), ``NotMade`` when throttled (nothing done); any other error
        propagates as it is, its outcome unknown (a 5xx or a timeout may come after the job was made)."""
        try:
            response = self.submit_client.submit_job(**request.submit_job_kwargs())
        except ClientError as error:
            details = error.response.get("Error", {})
            code, message = details.get("Code", ""), details.get("Message") or str(error)
            if code == REFUSED:
                raise JobRejected(f"AWS Batch refused SubmitJob: {cut(message, MAX_MESSAGE)}") from error
            if code in THROTTLED:
                raise NotMade(f"AWS Batch throttled SubmitJob ({code}): {cut(message, MAX_MESSAGE)}") from error
            raise
        job_id: str = response["jobId"]
        return job_id

    def find(self, request: JobRequest) -> str | None:
        """The id of a job already submitted for ``request``'s table, run, step and attempt (same queue, same
        job name, same tags), or None. ListJobs filtered by job name lists every status, newest first."""
        ids: list[str] = []
        kwargs: dict[str, Any] = {
            "jobQueue": request.job_queue,
            "filters": [{"name": "JOB_NAME", "values": [request.job_name]}],
        }
        while True:
            page = self.client.list_jobs(**kwargs)
            ids.extend(summary["jobId"] for summary in page.get("jobSummaryList", []))
            if not page.get("nextToken"):
                break
            kwargs["nextToken"] = page["nextToken"]
        wanted = {key: request.tags[key] for key in ATTEMPT_TAGS}
        for job in self._describe(ids):
            tags = job.get("tags") or {}
            if all(tags.get(key) == value for key, value in wanted.items()):
                found: str = job["jobId"]
                return found
        return None

    def states(self, job_ids: Iterable[str]) -> dict[str, JobState]:
        """What Batch says of each job, by id; a job Batch no longer knows is absent from the result."""
        return {job["jobId"]: _job_state(job) for job in self._describe(list(dict.fromkeys(job_ids)))}

    def terminate(self, job_id: str, reason: str) -> None:
        """TerminateJob: Batch cancels a job not yet started and stops a running one (its event says FAILED);
        a finished job is left as it is. Errors propagate (a retry of TerminateJob is harmless)."""
        self.client.terminate_job(jobId=job_id, reason=reason)

    def _describe(self, job_ids: list[str]) -> list[dict[str, Any]]:
        jobs: list[dict[str, Any]] = []
        for start in range(0, len(job_ids), DESCRIBE_BATCH):
            self.describe_calls += 1
            jobs.extend(self.client.describe_jobs(jobs=job_ids[start : start + DESCRIBE_BATCH])["jobs"])
        return jobs


def _job_state(job: dict[str, Any]) -> JobState:
    attempts = job.get("attempts") or []
    container = job.get("container") or (attempts[-1].get("container") if attempts else None) or {}
    return JobState(
        job_id=job["jobId"],
        status=job["status"],
        status_reason=job.get("statusReason") or container.get("reason"),
        exit_code=container.get("exitCode"),
        log_stream=container.get("logStreamName"),
    )
