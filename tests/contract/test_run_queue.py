"""The RunQueue port's promises, held by FakeRunQueue and by SqsRunQueue on moto's SQS alike: a request sent
with a delay arrives after it (at most SQS's 15 minutes), and many go ten to a SendMessageBatch call.

Each moto test sends to a queue of its own; moto's SQS reads the module's clock, so delays pass at once.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fakes import FakeRunQueue

from databridge_pipeline.adapters.run_queue import SqsRunQueue
from databridge_pipeline.domain.run_request import RunRequest

QUEUE_NAMES = (f"contract-run-queue-{n}" for n in itertools.count())


def request(n: int = 0, **fields: Any) -> RunRequest:
    return RunRequest.model_validate({"table": f"databridge/lni/table_{n:03}", **fields})


@dataclass
class Subject:
    """The port under test; ``receive_after`` is what a receiver gets once ``seconds`` more have passed."""

    queue: FakeRunQueue | SqsRunQueue
    client: Any = None
    stack: Any = None
    calls: dict[str, int] = field(default_factory=dict)
    _elapsed: int = 0
    _received: set[str] = field(default_factory=set)

    def receive_after(self, seconds: int) -> list[RunRequest]:
        self._elapsed += seconds
        if isinstance(self.queue, FakeRunQueue):
            due = [
                s for s in self.queue.sent if s.delay_seconds <= self._elapsed and s.message_id not in self._received
            ]
            self._received.update(sent.message_id for sent in due)
            return [sent.request for sent in due]
        self.stack.clock.advance(seconds=seconds)
        received: list[RunRequest] = []
        while messages := self.client.receive_message(QueueUrl=self.queue.url, MaxNumberOfMessages=10).get(
            "Messages", []
        ):
            for message in messages:
                received.append(RunRequest.model_validate_json(message["Body"]))
                self.client.delete_message(QueueUrl=self.queue.url, ReceiptHandle=message["ReceiptHandle"])
        return received

    def batch_calls(self) -> int:
        if isinstance(self.queue, FakeRunQueue):
            return self.queue.batch_calls
        return self.calls.get("SendMessageBatch", 0)


@pytest.fixture(params=["fake", "sqs"])
def run_queue(request: pytest.FixtureRequest) -> Iterator[Subject]:
    if request.param == "fake":
        yield Subject(FakeRunQueue())
        return
    stack = request.getfixturevalue("moto_stack")
    client = stack.client("sqs")
    url = client.create_queue(QueueName=next(QUEUE_NAMES))["QueueUrl"]
    subject = Subject(SqsRunQueue(client, url), client=client, stack=stack)

    def count(model: Any, **_: Any) -> None:
        subject.calls[model.name] = subject.calls.get(model.name, 0) + 1

    client.meta.events.register("before-call.sqs.*", count)
    yield subject
    client.delete_queue(QueueUrl=url)


def test_a_request_sent_without_a_delay_arrives_at_once_as_it_was_sent(run_queue):
    sent = request(trigger="schedule", scheduled_for=datetime(2026, 11, 24, 11, 15, tzinfo=UTC), run_id="r-1")

    assert run_queue.queue.send(sent)
    assert run_queue.receive_after(0) == [sent]


def test_a_request_sent_with_a_delay_arrives_only_once_the_delay_has_passed(run_queue):
    retry = request(trigger="retry", run_id="r-1", from_step="load", attempt=2)
    run_queue.queue.send(retry, delay_seconds=300)

    assert run_queue.receive_after(299) == []
    assert run_queue.receive_after(1) == [retry]


def test_a_delay_past_fifteen_minutes_is_sent_as_fifteen_and_a_negative_one_as_none(run_queue):
    run_queue.queue.send(request(1), delay_seconds=-5)
    run_queue.queue.send(request(2), delay_seconds=int(timedelta(hours=1).total_seconds()))

    assert run_queue.receive_after(0) == [request(1)]
    assert run_queue.receive_after(899) == []
    assert run_queue.receive_after(1) == [request(2)]


def test_twenty_five_requests_take_three_send_message_batch_calls_and_all_arrive(run_queue):
    requests = [request(n) for n in range(25)]

    calls = run_queue.queue.send_all(requests)

    assert calls == run_queue.batch_calls() == 3
    assert sorted(run_queue.receive_after(0), key=lambda r: str(r.table)) == requests


def test_sending_no_requests_makes_no_call(run_queue):
    assert run_queue.queue.send_all([]) == 0
    assert run_queue.batch_calls() == 0
