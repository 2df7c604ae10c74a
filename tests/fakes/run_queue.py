"""The SQS run queue in memory, as ``adapters.run_queue.SqsRunQueue`` uses it: a request sent alone with a
delay (clamped to SQS's 0-900 s), or many ten to a SendMessageBatch call.

Each message is kept as its body, the same JSON the adapter sends (``adapters.run_queue.body``), so what a
test reads back has been through the serialisation a real message goes through.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from databridge_pipeline.adapters.run_queue import BATCH_SIZE, QueueSendError, body
from databridge_pipeline.domain.run_request import RunRequest

MAX_DELAY_SECONDS = 900  # SQS's longest DelaySeconds


@dataclass(frozen=True)
class Sent:
    message_id: str
    body: str
    delay_seconds: int

    @property
    def request(self) -> RunRequest:
        return RunRequest.model_validate_json(self.body)


class FakeRunQueue:
    def __init__(self) -> None:
        self.sent: list[Sent] = []
        self.send_calls = 0  # SendMessage
        self.batch_calls = 0  # SendMessageBatch
        self._refusals = 0

    def refuse_next(self, times: int = 1) -> None:
        """The next ``times`` sends (a SendMessage, or a whole send_all) raise ``QueueSendError`` and send nothing."""
        self._refusals = times

    def requests(self) -> list[RunRequest]:
        """Every request sent, in order."""
        return [sent.request for sent in self.sent]

    def send(self, request: RunRequest, delay_seconds: int = 0) -> str:
        self._refuse("SendMessage")
        self.send_calls += 1
        return self._keep(request, min(max(delay_seconds, 0), MAX_DELAY_SECONDS))

    def send_all(self, requests: Sequence[RunRequest]) -> int:
        if not requests:
            return 0  # as the adapter: no request, no call
        self._refuse("SendMessageBatch")
        calls = math.ceil(len(requests) / BATCH_SIZE)
        self.batch_calls += calls
        for request in requests:
            self._keep(request, 0)
        return calls

    def _keep(self, request: RunRequest, delay_seconds: int) -> str:
        message_id = f"message-{len(self.sent) + 1:04}"
        self.sent.append(Sent(message_id, body(request), delay_seconds))
        return message_id

    def _refuse(self, operation: str) -> None:
        if self._refusals:
            self._refusals -= 1
            raise QueueSendError(f"{operation} refused by the fake run queue")
