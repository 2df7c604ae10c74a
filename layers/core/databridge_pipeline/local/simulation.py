"""The local run: the real three handlers on moto, fast-forwarded tick by tick over simulated time.

Each simulated minute: the schedule tick goes to the dispatcher; the run queue is polled in batches of ten
for the submitter, as the SQS event source would (visibility timeouts, partial failures, redrive to the
DLQ); Batch jobs that have run their simulated duration finish, and their state-change events go through
the template's EventBridge rule to the job-events handler, which Lambda retries twice when it raises.
"""

from __future__ import annotations

import bisect
import json
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from types import ModuleType
from typing import Any

import boto3
from botocore.exceptions import ClientError

from databridge_pipeline.domain.errors import RetryLater
from databridge_pipeline.local.batch_events import job_state_change
from databridge_pipeline.local.moto_patches import RUNNING, answer_describe_jobs
from databridge_pipeline.local.scenario import Scenario
from databridge_pipeline.local.slack_standin import SlackStandIn
from databridge_pipeline.local.stack import ACCOUNT, REGION, sqs_event

# Lambda retries a failed asynchronous invocation twice, about one and two minutes later.
ASYNC_RETRY_MINUTES = (1, 2)


@dataclass
class SimClock:
    now: datetime

    def __call__(self) -> datetime:
        return self.now


@dataclass
class Job:
    job: dict[str, Any]
    table: str
    step: str
    finishes_at: datetime
    stuck: bool = False
    done: bool = False
    outcome: dict[str, Any] | None = None  # the job's terminal DescribeJobs fields, once it has finished


@dataclass
class PendingEvent:
    event: dict[str, Any]
    due: datetime
    retries_left: int


@dataclass
class PipelineError:
    at: datetime
    handler: str
    error: str
    expected: bool


@dataclass
class Counters:
    ticks: int = 0
    ticks_dropped: int = 0
    minutes_skipped: int = 0  # quiet minutes the loop passed over (see Simulation._next_minute)
    messages_delivered: int = 0
    events_delivered: int = 0
    events_lost: int = 0
    events_dropped: int = 0
    crashes_after_submit: int = 0


class LambdaContext:
    function_name = "databridge-pipeline-local"
    memory_limit_in_mb = 512
    invoked_function_arn = f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:databridge-pipeline-local"
    aws_request_id = "00000000-0000-4000-8000-000000000000"

    @staticmethod
    def get_remaining_time_in_millis() -> int:
        return 60_000


@dataclass
class Simulation:
    env: dict[str, str]
    clock: SimClock
    scenario: Scenario
    slack: SlackStandIn
    handlers: dict[str, ModuleType]
    start: datetime
    minutes: int
    on_progress: Callable[[int, Simulation], None] | None = None
    jobs: dict[str, Job] = field(default_factory=dict)
    pending_events: list[PendingEvent] = field(default_factory=list)
    errors: list[PipelineError] = field(default_factory=list)
    counters: Counters = field(default_factory=Counters)
    _failures_left: dict[tuple[str, str], int] = field(default_factory=dict)
    _lost_events_left: dict[tuple[str, str], int] = field(default_factory=dict)
    _crashes_left: set[tuple[str, str]] = field(default_factory=set)
    _events_put: bool = False
    _repairs: Counter[str] = field(default_factory=Counter)

    def __post_init__(self) -> None:
        self.sqs = boto3.client("sqs", region_name=REGION)
        self.events = boto3.client("events", region_name=REGION)
        self.context = LambdaContext()
        self._failures_left = {(f.table, f.step): f.times for f in self.scenario.failures}
        self._lost_events_left = {(lost.table, lost.step): lost.times for lost in self.scenario.lost_events}
        self._crashes_left = {(crash.table, crash.step) for crash in self.scenario.crash_after_submit}
        for name in ("dispatcher", "submitter", "job_events"):
            wiring = self.handlers[name].wiring
            wiring.clock = self.clock
            wiring.executor.on_repair = self._tally_repair
            self._watch_submissions(wiring.batch)

    def _tally_repair(self, kind: str, table: str) -> None:
        self._repairs[kind] += 1

    def repairs(self) -> dict[str, int]:
        """Repairs by kind, over every handler (the dispatcher's pass and the take-overs of the others)."""
        from databridge_pipeline.domain.repairs import REPAIR_KINDS

        return {kind: self._repairs.get(kind, 0) for kind in REPAIR_KINDS}

    def duplicate_jobs(self) -> int:
        """Jobs submitted for a (run, step, attempt) that already had one."""
        attempts = Counter(
            (tags.get("run_id"), tags.get("table"), tags.get("step"), tags.get("attempt"))
            for tags in (job.job.get("tags", {}) for job in self.jobs.values())
        )
        return sum(n - 1 for n in attempts.values())

    # --- the loop ---

    def run(self) -> None:
        for index in range(self.scenario.poison_messages):
            self.sqs.send_message(QueueUrl=self.env["RUN_QUEUE_URL"], MessageBody=f"poison message {index}: not JSON")
        marks = self._marked_minutes()
        minute = 0
        while minute <= self.minutes:
            self.clock.now = self.start + timedelta(minutes=minute)
            self.step(minute)
            if self.on_progress:
                self.on_progress(minute, self)
            minute = self._next_minute(minute, marks)

    def _next_minute(self, minute: int, marks: list[int]) -> int:
        """The next minute to simulate: the next one, or, when nothing is under way, the next marked minute.

        With no job running, no event or run request waiting, no active run and no alert pending, the ticks in
        between would find nothing due and nothing to repair; the tick at the marked minute covers them, as a
        tick after an outage does. Most of a simulated day is such minutes, each a handful of moto calls."""
        following = bisect.bisect_right(marks, minute)
        if following == len(marks) or marks[following] == minute + 1 or not self._quiet(minute):
            return minute + 1
        self.counters.minutes_skipped += marks[following] - minute - 1
        return marks[following]

    def _marked_minutes(self) -> list[int]:
        """Minutes that are always simulated: each table's fires, the freshness check's quarter hours, the
        scenario's reruns and the edges of its windows, and the last minute."""
        from databridge_pipeline.domain.schedule import next_fire_time

        end = self.start + timedelta(minutes=self.minutes)
        marks = {self.minutes} | {
            m for m in range(self.minutes + 1) if (self.start + timedelta(minutes=m)).minute % 15 == 0
        }
        for table in self.handlers["dispatcher"].dispatcher.catalog:
            if table.config.cron is None:
                continue
            fire = next_fire_time(table.config.cron, table.config.timezone, self.start - timedelta(minutes=1))
            while fire <= end:
                marks.add(int((fire - self.start).total_seconds() // 60))
                fire = next_fire_time(table.config.cron, table.config.timezone, fire)
        scenario = self.scenario
        marks |= {manual.at_minute for manual in scenario.manual_runs}
        for window in [*scenario.slack_down, *scenario.submit_job_down, *scenario.drop_ticks]:
            marks |= set(range(window.from_minute, window.from_minute + window.minutes + 1))
        return sorted(m for m in marks if 0 <= m <= self.minutes)

    def _quiet(self, minute: int) -> bool:
        """Nothing under way: every job ended, no event or run request waiting, no active run, no pending alert."""
        if self.pending_events or any(not job.done for job in self.jobs.values()):
            return False
        counts = self.sqs.get_queue_attributes(
            QueueUrl=self.env["RUN_QUEUE_URL"],
            AttributeNames=[
                "ApproximateNumberOfMessages",
                "ApproximateNumberOfMessagesNotVisible",
                "ApproximateNumberOfMessagesDelayed",
            ],
        )["Attributes"]
        if any(int(n) for n in counts.values()):
            return False
        ledger = self.handlers["dispatcher"].wiring.ledger
        return not ledger.slots() and not ledger.pending_alert_runs()

    def step(self, minute: int, tick: bool = True) -> None:
        """One simulated minute at the clock's time: the scenario's faults and reruns, the schedule tick (when
        ``tick``), the run queue, the jobs that are done, their events."""
        self._faults(minute)
        if tick:
            self._manual_runs(minute)
            self._tick(minute)
        self._pump_run_queue(minute)
        self._finish_jobs()
        self._deliver_events(minute)

    def _faults(self, minute: int) -> None:
        self.slack.fail_next(10**9 if any(w.covers(minute) for w in self.scenario.slack_down) else 0)

    def _fault_active(self, minute: int) -> bool:
        windows = [*self.scenario.slack_down, *self.scenario.submit_job_down]
        return any(w.covers(minute) for w in windows)

    def _expected(self, error: BaseException, minute: int) -> bool:
        """A drill's crash, an injected fault, or the pipeline asking to be retried (another invocation
        holds the step's submit lease) are expected; anything else is a pipeline error."""
        return isinstance(error, CrashAfterSubmit | RetryLater) or self._fault_active(minute)

    def _manual_runs(self, minute: int) -> None:
        for manual in self.scenario.manual_runs:
            if manual.at_minute == minute:
                body = {"table": manual.table, **({"from_step": manual.from_step} if manual.from_step else {})}
                self.sqs.send_message(QueueUrl=self.env["RUN_QUEUE_URL"], MessageBody=json.dumps(body))

    def _tick(self, minute: int) -> None:
        if any(w.covers(minute) for w in self.scenario.drop_ticks):
            self.counters.ticks_dropped += 1
            return
        event = {
            "version": "0",
            "id": f"tick-{minute}",
            "detail-type": "Scheduled Event",
            "source": "aws.events",
            "account": ACCOUNT,
            "time": self.clock.now.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "region": REGION,
            "resources": [f"arn:aws:events:{REGION}:{ACCOUNT}:rule/databridge-pipeline-tick"],
            "detail": {},
        }
        for _ in range(self.scenario.deliveries):
            self.counters.ticks += 1
            self._invoke("dispatcher", event, minute)

    def _pump_run_queue(self, minute: int) -> None:
        """Poll the run queue until nothing is visible, ten messages a batch, as the event source mapping does."""
        url = self.env["RUN_QUEUE_URL"]
        self._submit_job_down = any(w.covers(minute) for w in self.scenario.submit_job_down)
        for _ in range(1000):
            messages = self.sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, AttributeNames=["All"]).get(
                "Messages", []
            )
            if not messages:
                return
            event = sqs_event(messages)
            failed: set[str] = set()
            for _ in range(self.scenario.deliveries):
                reply = self._invoke("submitter", event, minute)
                if reply is _FAILED:  # the whole invocation died: every message of the batch comes back
                    failed = {message["MessageId"] for message in messages}
                else:
                    failed = {f["itemIdentifier"] for f in (reply or {}).get("batchItemFailures", [])}
            self.counters.messages_delivered += len(messages)
            for message in messages:
                if message["MessageId"] not in failed:
                    self.sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])

    def _finish_jobs(self) -> None:
        for job in self.jobs.values():
            if job.done or job.stuck or job.finishes_at > self.clock.now:
                continue
            job.done = True
            key = (job.table, job.step)
            failure = next((f for f in self.scenario.failures if (f.table, f.step) == key), None)
            if failure and self._failures_left.get(key, 0) > 0:
                self._failures_left[key] -= 1
                event = job_state_change(
                    job.job, "FAILED", self.clock.now, ACCOUNT, REGION, failure.reason, failure.exit_code
                )
            else:
                event = job_state_change(job.job, "SUCCEEDED", self.clock.now, ACCOUNT, REGION)
            job.outcome = event["detail"]
            if self._lost_events_left.get(key, 0) > 0:
                self._lost_events_left[key] -= 1
                self.counters.events_dropped += 1
                continue
            self._put_event(event)

    def _put_event(self, event: dict[str, Any]) -> None:
        """Publish on the default bus; the template's rule decides whether job-events sees it."""
        self._events_put = True
        self.events.put_events(
            Entries=[
                {
                    "Source": event["source"],
                    "DetailType": event["detail-type"],
                    "Detail": json.dumps(event["detail"]),
                    "Resources": event["resources"],
                    "Time": self.clock.now,
                }
            ]
        )

    def _deliver_events(self, minute: int) -> None:
        url = self.env["EVENTS_QUEUE_URL"]
        # Only this simulation puts events, and moto routes them to the queue at once: with none put since
        # the last drain the queue is empty, and a receive would be one more moto call every minute.
        while self._events_put and (
            messages := self.sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", [])
        ):
            for message in messages:
                self.sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
                event = json.loads(message["Body"])
                event.setdefault("account", ACCOUNT)  # AWS sends it; moto's rule targets leave it out
                for _ in range(self.scenario.deliveries):
                    self.pending_events.append(PendingEvent(event, self.clock.now, len(ASYNC_RETRY_MINUTES)))
        self._events_put = False
        due = [p for p in self.pending_events if p.due <= self.clock.now]
        self.pending_events = [p for p in self.pending_events if p.due > self.clock.now]
        for pending in due:
            self.counters.events_delivered += 1
            if self._invoke("job_events", pending.event, minute) is _FAILED:
                if pending.retries_left:
                    wait = ASYNC_RETRY_MINUTES[len(ASYNC_RETRY_MINUTES) - pending.retries_left]
                    self.pending_events.append(
                        PendingEvent(pending.event, self.clock.now + timedelta(minutes=wait), pending.retries_left - 1)
                    )
                else:
                    self.counters.events_lost += 1  # kept by the failure destination in AWS

    def _invoke(self, name: str, event: dict[str, Any], minute: int) -> Any:
        try:
            return self.handlers[name].lambda_handler(event, self.context)
        except (Exception, CrashAfterSubmit) as error:  # an invocation error: recorded, retried as Lambda would
            self.errors.append(
                PipelineError(self.clock.now, name, f"{type(error).__name__}: {error}", self._expected(error, minute))
            )
            return _FAILED

    def _watch_submissions(self, batch: Any) -> None:
        """Record each job the pipeline submits, refuse SubmitJob while the scenario says it is down, die
        right after SubmitJob where it says so, and answer DescribeJobs with the simulated state of each job
        (moto's jobs succeed at once)."""
        client, submitter = batch.client, batch.submit_client  # SubmitJob has a client of its own (no retries)
        if getattr(client, "_databridge_watched", False):
            return
        submit = submitter.submit_job

        def submit_job(**kwargs: Any) -> Any:
            if getattr(self, "_submit_job_down", False):
                raise ClientError(
                    {"Error": {"Code": "TooManyRequestsException", "Message": "Rate exceeded"}}, "SubmitJob"
                )
            response = submit(**kwargs)
            [job] = client.describe_jobs(jobs=[response["jobId"]])["jobs"]
            tags = kwargs.get("tags", {})
            step = tags.get("step", "extract")
            stuck = any((s.table, s.step) == (tags.get("table"), step) for s in self.scenario.stuck)
            self.jobs[response["jobId"]] = Job(
                job=job,
                table=tags.get("table", ""),
                step=step,
                finishes_at=self.clock.now + timedelta(minutes=self.scenario.job_duration(step)),
                stuck=stuck,
            )
            key = (tags.get("table", ""), step)
            if key in self._crashes_left:
                self._crashes_left.discard(key)
                self.counters.crashes_after_submit += 1
                raise CrashAfterSubmit(f"the invocation died right after submitting {step} of {key[0]}")
            return response

        submitter.submit_job = submit_job
        answer_describe_jobs(client, self._job_state)
        client._databridge_watched = True

    def _job_state(self, job_id: str) -> dict[str, Any]:
        simulated = self.jobs.get(job_id)
        return {} if simulated is None else (simulated.outcome or RUNNING)


_FAILED = object()


class CrashAfterSubmit(BaseException):
    """A drill: the invocation dies between SubmitJob and its ledger write. A BaseException, so no
    ``except Exception`` of the pipeline's runs on the way out, as none would when a process dies."""
