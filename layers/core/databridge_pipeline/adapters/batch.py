"""AWS Batch: submit one step's job."""

from __future__ import annotations

from typing import Any

from databridge_pipeline.steps import JobRequest


class BatchJobs:
    def __init__(self, client: Any) -> None:
        """``client`` is a boto3 Batch client (its own retry mode absorbs brief throttling)."""
        self.client = client

    def submit(self, request: JobRequest) -> str:
        """Submit the job and return its id. Errors propagate: the caller's message or event is retried."""
        response = self.client.submit_job(**request.submit_job_kwargs())
        job_id: str = response["jobId"]
        return job_id
