"""What AWS does around the services, as the seed's profile has it: SQS delivering the run queue, AWS Batch
running jobs, EventBridge delivering their state changes.

- SQS (``SimQueue``): at-least-once (a message may be delivered twice), delays and latency, any order; a
  received message is invisible for the visibility timeout (360 s, the template's) and comes back when its
  receive failed or crashed; a message received 5 times (maxReceiveCount) goes to the DLQ on its next
  receive. What the services send is read from ``FakeRunQueue.sent``, delay included.
- Batch (``BatchDriver``): every job in ``FakeBatch.jobs`` (however it got there) goes SUBMITTED -> RUNNING
  -> SUCCEEDED or FAILED (exit code 1) after seeded durations; a hung job runs until Batch's own timeout
  ends it; now and then Batch forgets an old finished job. Each job ever made is kept in ``registry``.
- EventBridge: a job's SUCCEEDED or FAILED event is delivered late, twice, or never, as the profile says.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from fakes import FakeBatch, FakeRunQueue

from databridge_pipeline.domain.run_request import RunRequest

from .faults import FaultProfile
from .trace import Trace

VISIBILITY_TIMEOUT = timedelta(seconds=360)
MAX_RECEIVES = 5
Clock = Callable[[], datetime]
Schedule = Callable[[datetime, str, Callable[[], None]], None]


@dataclass
class Message:
    """One copy of a run-queue message (a duplicate delivery is a second copy with the same id)."""

    message_id: str
    body: str
    visible_at: datetime
    copy: int = 0
    receives: int = 0
    in_flight: bool = False

    @property
    def request(self) -> RunRequest:
        return RunRequest.model_validate_json(self.body)

    def record(self) -> dict[str, Any]:
        """The SQS record Lambda hands the submitter."""
        return {
            "messageId": self.message_id,
            "receiptHandle": f"{self.message_id}/{self.copy}/{self.receives}",
            "body": self.body,
            "attributes": {"ApproximateReceiveCount": str(self.receives)},
            "eventSource": "aws:sqs",
        }


@dataclass
class SimQueue:
    fake: FakeRunQueue
    rng: random.Random
    trace: Trace
    clock: Clock
    waiting: list[Message] = field(default_factory=list)
    dlq: list[Message] = field(default_factory=list)
    _seen: int = 0

    def sync(self, profile: FaultProfile) -> None:
        """Take in what the services sent since the last look."""
        sent = self.fake.sent
        while self._seen < len(sent):
            item = sent[self._seen]
            self._seen += 1
            copies = 2 if self.rng.random() < profile.sqs_duplicate else 1
            for copy in range(copies):
                delay = item.delay_seconds + self.rng.uniform(0.02, 2.0)
                if self.rng.random() < profile.sqs_delay:
                    delay += self.rng.uniform(5, 90)
                at = self.clock() + timedelta(seconds=delay)
                self.waiting.append(Message(item.message_id, item.body, at, copy))
                self.trace.note(f"sqs {item.message_id}#{copy} visible at {at:%H:%M:%S} {_about(item.body)}")

    def next_visible(self) -> datetime | None:
        return min((m.visible_at for m in self.waiting if not m.in_flight), default=None)

    def receive(self, most: int) -> list[Message]:
        """Up to ``most`` visible messages, in any order, one copy of an id at most; a message already received
        ``MAX_RECEIVES`` times goes to the DLQ instead."""
        now = self.clock()
        visible = [m for m in self.waiting if not m.in_flight and m.visible_at <= now]
        self.rng.shuffle(visible)
        batch: list[Message] = []
        for message in visible:
            if message.receives >= MAX_RECEIVES:
                self.waiting.remove(message)
                self.dlq.append(message)
                self.trace.note(f"sqs {message.message_id}#{message.copy} to the DLQ {_about(message.body)}")
            elif len(batch) < most and all(m.message_id != message.message_id for m in batch):
                message.receives += 1
                message.in_flight = True
                batch.append(message)
        return batch

    def settle(self, batch: list[Message], failed: set[str], received_at: datetime) -> None:
        """After the submitter: delete what succeeded; the rest comes back after the visibility timeout."""
        for message in batch:
            message.in_flight = False
            if message.message_id in failed:
                message.visible_at = received_at + VISIBILITY_TIMEOUT
            else:
                self.waiting.remove(message)


def _about(body: str) -> str:
    try:
        request = RunRequest.model_validate_json(body)
    except ValueError:
        return "(unparsable)"
    return f"{request.table} {request.run_id or request.scheduled_for} {request.trigger}#{request.attempt}"


@dataclass
class BatchDriver:
    fake: FakeBatch
    rng: random.Random
    trace: Trace
    clock: Clock
    schedule: Schedule
    publish: Callable[[dict[str, Any]], None]
    timeouts: dict[str, int]  # table -> timeout minutes (Batch's attempt duration)
    registry: dict[str, dict[str, str]] = field(default_factory=dict)  # every job ever made: its tags
    ended: dict[str, datetime] = field(default_factory=dict)
    _live: int = 0  # jobs of the registry still in FakeBatch.jobs

    @property
    def running(self) -> int:
        return len(self.registry) - len(self.ended)

    def sync(self, profile: FaultProfile) -> None:
        """Give every new job of FakeBatch its life."""
        if len(self.fake.jobs) == self._live:
            return
        for job_id, job in list(self.fake.jobs.items()):
            if job_id not in self.registry:
                tags = dict(job.tags)
                if tags in self.registry.values():  # checked as it happens, so the trace shows where
                    self.trace.note(f"!! {job_id} is a second job for {tags}")
                self.registry[job_id] = tags
                self._live += 1
                self._plan(job_id, job.tags, profile)

    def _plan(self, job_id: str, tags: dict[str, str], profile: FaultProfile) -> None:
        rng = self.rng
        starts = self.clock() + timedelta(seconds=rng.uniform(5, 120))
        if rng.random() < profile.job_hangs:
            ends, outcome = starts + timedelta(minutes=self.timeouts.get(tags["table"], 240)), "timeout"
        else:
            ends = starts + timedelta(seconds=rng.uniform(60, 720))
            outcome = "FAILED" if rng.random() < profile.job_fails else "SUCCEEDED"
        self.trace.note(
            f"batch {job_id} {tags['table']}/{tags['run_id']} {tags['step']}#{tags['attempt']} -> {outcome}"
        )
        self.schedule(starts, f"batch {job_id} running", lambda: self._running(job_id))
        self.schedule(ends, f"batch {job_id} ends", lambda: self._end(job_id, outcome))

    def _running(self, job_id: str) -> None:
        job = self.fake.jobs.get(job_id)
        if job is not None and job.state.status == "SUBMITTED":
            self.fake.set_state(job_id, "RUNNING")

    def _end(self, job_id: str, outcome: str) -> None:
        if job_id in self.ended or job_id not in self.fake.jobs:
            return
        self.ended[job_id] = self.clock()
        if outcome == "SUCCEEDED":
            event = self.fake.state_change(job_id, "SUCCEEDED", self.clock())
        elif outcome == "FAILED":
            event = self.fake.state_change(job_id, "FAILED", self.clock(), exit_code=1, status_reason="exit 1")
        else:
            event = self.fake.state_change(
                job_id, "FAILED", self.clock(), status_reason="Job attempt duration exceeded"
            )
        self.publish(event)

    def terminated(self, job_id: str) -> None:
        """The product called TerminateJob: a job not yet ended ends FAILED now (FakeBatch has set it)."""
        job = self.fake.jobs.get(job_id)
        if job is None or job_id in self.ended or job.state.status != "FAILED":
            return
        self.ended[job_id] = self.clock()
        self.publish(self.fake.state_change(job_id, "FAILED", self.clock(), status_reason=job.state.status_reason))

    def forget_one(self, older_than: timedelta) -> None:
        """Batch forgets one job that ended long enough ago, if there is one."""
        now = self.clock()
        old = [j for j, at in self.ended.items() if now - at > older_than and j in self.fake.jobs]
        if old:
            job_id = self.rng.choice(old)
            self.fake.forget(job_id)
            self._live -= 1
            self.trace.note(f"batch forgets {job_id}")
