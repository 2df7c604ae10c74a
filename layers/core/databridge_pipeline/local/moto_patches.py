"""Every way the local run and the tests bend moto, in one place, each with the reason it exists.

moto stands in for AWS with no account and no Docker, but two of its behaviours do not fit a simulated
day: its SQS reads the wall clock, and its Batch jobs (with ``use_docker`` off) reach SUCCEEDED the moment
they are submitted. Nothing of the pipeline's own code is patched: only moto, or the boto client a
handler was given.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Any
from unittest import mock

RUNNING = {"status": "RUNNING"}


@contextmanager
def sqs_on_clock(clock: Callable[[], datetime]) -> Iterator[None]:
    """moto's SQS on simulated time: it reads the wall clock for DelaySeconds and visibility timeouts, so a
    simulated day would wait for real minutes; here it reads ``clock`` instead."""
    import moto.sqs.models as sqs_models

    def unix_time(dt: datetime | None = None) -> float:
        return (dt or clock()).timestamp()

    def unix_time_millis(dt: datetime | None = None) -> float:
        return unix_time(dt) * 1000

    with (
        mock.patch.object(sqs_models, "unix_time", unix_time),
        mock.patch.object(sqs_models, "unix_time_millis", unix_time_millis),
    ):
        yield


def answer_describe_jobs(client: Any, state: Callable[[str], dict[str, Any] | None]) -> None:
    """DescribeJobs on ``client`` answers with the simulated state of each job: moto's jobs succeed at once,
    so without this the reconciliation pass would see every job SUCCEEDED before its simulated end.
    ``state(job_id)`` gives the fields to show (e.g. ``RUNNING``), or None for a job Batch has forgotten."""
    describe = client.describe_jobs

    def describe_jobs(**kwargs: Any) -> Any:
        response = describe(**kwargs)
        jobs = []
        for job in response["jobs"]:
            fields = state(job["jobId"])
            if fields is not None:
                jobs.append(job | fields)
        return {**response, "jobs": jobs}

    client.describe_jobs = describe_jobs
