"""The SQS run queue: send run requests, ten to a SendMessageBatch call."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from databridge_pipeline.domain.run_request import RunRequest

BATCH_SIZE = 10


class QueueSendError(Exception):
    """Some messages could not be sent even after one more try; the caller retries the whole tick."""


class SqsRunQueue:
    def __init__(self, client: Any, url: str) -> None:
        self._client = client
        self.url = url

    def send(self, request: RunRequest, delay_seconds: int = 0) -> str:
        response = self._client.send_message(
            QueueUrl=self.url, MessageBody=body(request), DelaySeconds=min(max(delay_seconds, 0), 900)
        )
        message_id: str = response["MessageId"]
        return message_id

    def send_all(self, requests: Sequence[RunRequest]) -> int:
        """Send every request with SendMessageBatch (ten a call); returns the number of calls made."""
        calls = 0
        for start in range(0, len(requests), BATCH_SIZE):
            entries = [
                {"Id": str(index), "MessageBody": body(request)}
                for index, request in enumerate(requests[start : start + BATCH_SIZE])
            ]
            calls += 1
            failed = self._client.send_message_batch(QueueUrl=self.url, Entries=entries).get("Failed", [])
            if failed:
                retry = [e for e in entries if e["Id"] in {f["Id"] for f in failed}]
                calls += 1
                if self._client.send_message_batch(QueueUrl=self.url, Entries=retry).get("Failed"):
                    raise QueueSendError(f"{len(failed)} run request(s) not accepted by the run queue")
        return calls


def body(request: RunRequest) -> str:
    """A message body as an operator would write it: only the fields that are set."""
    return request.model_dump_json(exclude_none=True, exclude_defaults=False)
