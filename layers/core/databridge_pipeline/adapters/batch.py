"""AWS Batch: submit one step's job, find a job again by run, step and attempt, and ask what became of jobs."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from databridge_pipeline.domain.aws_events import JobState
from databridge_pipeline.domain.job_requests import JobRequest

# DescribeJobs takes at most 100 job ids a call.
DESCRIBE_BATCH = 100


class AwsBatchJobs:
    def __init__(self, client: Any) -> None:
        """``client`` is a boto3 Batch client (its own retry mode absorbs brief throttling)."""
        self.client = client
        self.describe_calls = 0

    def submit(self, request: JobRequest) -> str:
        """Submit the job and return its id. Errors propagate: the caller's message or event is retried."""
        response = self.client.submit_job(**request.submit_job_kwargs())
        job_id: str = response["jobId"]
        return job_id

    def find(self, request: JobRequest) -> str | None:
        """The id of a job already submitted for ``request``'s run, step and attempt (same queue, same job
        name, same tags), or None. ListJobs filtered by job name lists every status, newest first."""
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
        wanted = {key: request.tags[key] for key in ("run_id", "step", "attempt")}
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
        """TerminateJob: Batch cancels a job not yet started and stops a running one (its event says FAILED)."""
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
