"""Batch job-state-change events, shaped like AWS's, for a job moto ran (moto emits none itself)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any


def job_state_change(
    job: dict[str, Any],
    status: str,
    time: datetime,
    account: str,
    region: str,
    status_reason: str | None = None,
    exit_code: int | None = None,
) -> dict[str, Any]:
    """The "Batch Job State Change" event AWS would send for ``job`` (a describe_jobs entry) reaching ``status``."""
    millis = int(time.timestamp() * 1000)
    log_stream = f"{job['jobName']}/default/{job['jobId'].replace('-', '')[:32]}"
    container = {
        "image": job.get("container", {}).get("image", ""),
        "command": job.get("container", {}).get("command", []),
        "exitCode": exit_code if exit_code is not None else (0 if status == "SUCCEEDED" else None),
        "logStreamName": log_stream,
        "networkInterfaces": [],
        "resourceRequirements": [],
        "secrets": [],
    }
    if status not in ("SUCCEEDED", "FAILED"):
        container.pop("exitCode")
    reason = status_reason or ("Essential container in task exited" if status in ("SUCCEEDED", "FAILED") else None)
    detail: dict[str, Any] = {
        "jobArn": job["jobArn"],
        "jobName": job["jobName"],
        "jobId": job["jobId"],
        "jobQueue": job["jobQueue"],
        "status": status,
        "attempts": [],
        "createdAt": job.get("createdAt", millis),
        "retryStrategy": {"attempts": 1, "evaluateOnExit": []},
        "dependsOn": [],
        "jobDefinition": job["jobDefinition"],
        "parameters": {},
        "container": container,
        "tags": dict(job.get("tags", {})),
        "propagateTags": True,
        "platformCapabilities": ["FARGATE"],
    }
    if status in ("SUCCEEDED", "FAILED"):
        detail |= _finished(container.get("exitCode"), log_stream, reason, millis)
    return {
        "version": "0",
        "id": str(uuid.uuid4()),
        "detail-type": "Batch Job State Change",
        "source": "aws.batch",
        "account": account,
        "time": time.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "region": region,
        "resources": [job["jobArn"]],
        "detail": detail,
    }


def _finished(exit_code: int | None, log_stream: str, reason: str | None, millis: int) -> dict[str, Any]:
    """The fields a finished job's event adds: its reason, times and the one attempt."""
    attempt = {
        "container": {"exitCode": exit_code, "logStreamName": log_stream, "networkInterfaces": []},
        "startedAt": millis - 1000,
        "stoppedAt": millis,
        "statusReason": reason,
    }
    return {"statusReason": reason, "startedAt": millis - 1000, "stoppedAt": millis, "attempts": [attempt]}
