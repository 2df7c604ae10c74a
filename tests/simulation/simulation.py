"""One seed's simulation: a discrete-event loop over simulated time, driving the real services on the fakes.

The loop, in the main thread: fire the harness events due (ticks, Batch jobs moving, EventBridge deliveries,
faults switched on and off), start a submitter for visible run-queue messages, then resume one live
invocation (picked by the seeded rng) until it reaches its next AWS call or ends; when nothing is live,
jump to the next event. Time also passes inside invocations (each AWS call takes milliseconds, a slow Slack
post seconds), so events fall due while invocations are live and interleave with them.

After the fault window (``World.window``) comes the drain: no faults, no new fires (the ticks run with the
schedule off), time running on until everything settled or ``World.drain`` is over.
"""

from __future__ import annotations

import heapq
import random
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from fakes import FakeAlerts, FakeBatch, FakeClock, FakeLedger, FakeRunQueue

from databridge_pipeline.domain.errors import JobRejected
from databridge_pipeline.domain.runs import Run
from databridge_pipeline.domain.settings import PipelineSettings

from .aws import BatchDriver, Message, SimQueue
from .baton import Baton, Crash
from .faults import FaultInjector
from .faults import Invocation as CallSite
from .lambdas import (
    Backends,
    Container,
    Invocation,
    alert_key,
    failed_ids,
    marked_sent,
    run_keys,
)
from .plan import plan_world
from .record import Record
from .trace import Trace
from .world import World

LAMBDA_TIMEOUT = timedelta(seconds=60)
CONCURRENCY = {"dispatcher": 1, "submitter": 5, "job_events": 5}  # the template's reserved concurrency
ASYNC_RETRIES = 2  # Lambda's for an asynchronous invocation (the job-events function)
COLD_STARTS = 0.05  # of invocations that find a warm container: a new one all the same


class Simulation:
    def __init__(self, world: World, batch_wrapper: Callable[[FakeBatch], object] | None = None) -> None:
        """``batch_wrapper``: put something between the proxies and FakeBatch (the harness's own tests)."""
        self.world = world
        self.clock = FakeClock(world.start)
        self.ledger, self.run_queue, self.alerts = FakeLedger(), FakeRunQueue(), FakeAlerts()
        self.batch = FakeBatch(job_definitions=set(world.job_definitions))
        self.rng = random.Random(world.seed * 7919 + 1)
        self.trace = Trace(self.clock)
        self.injector = FaultInjector(self.rng, world.profile, self, self.trace)
        batch = batch_wrapper(self.batch) if batch_wrapper else self.batch
        self.backends = Backends(self.ledger, batch, self.run_queue, self.alerts, self.clock)
        self.sqs = SimQueue(self.run_queue, self.rng, self.trace, self.clock)
        timeouts = {spec.id: spec.table.config.timeout_minutes for spec in world.tables}
        self.driver = BatchDriver(self.batch, self.rng, self.trace, self.clock, self.at, self._publish, timeouts)
        self.catalog = world.catalog
        self.record = Record()
        self.baton = Baton()
        self.live: list[Invocation] = []
        self._events: list[tuple[datetime, int, str, Callable[[], None]]] = []
        self._seq = 0
        self._started: dict[str, int] = {}
        self._deliveries = 0  # job-event deliveries scheduled, not yet started
        self._cursor: datetime | None = None
        self._warm: list[Container] = []  # containers between invocations
        self._stopped = False

    # --- the loop ------------------------------------------------------------------------------------

    def run(self) -> Record:
        plan_world(self)
        try:
            self._loop()
        finally:
            for inv in list(self.live):
                self.record.harness_errors.append(f"{inv.name} still live when the seed ended")
                self.baton.finish(inv.task, "the seed ended")
            self.record.harness_errors.extend(self.injector.harness_errors)
        return self.record

    def _loop(self) -> None:
        limit = self.world.end_of_fires + self.world.drain
        while not self._stopped:
            self._fire_due()
            self._poll_sqs()
            if self.live:
                self._step(self.rng.choice(self.live))
                continue
            upcoming = [t for t in (self._events[0][0] if self._events else None, self.sqs.next_visible()) if t]
            if not upcoming or min(upcoming) > limit:
                return
            self.clock.now = max(self.clock.now + timedelta(milliseconds=1), min(upcoming))

    def at(self, when: datetime, label: str, action: Callable[[], None]) -> None:
        self._seq += 1
        heapq.heappush(self._events, (when, self._seq, label, action))

    def stop(self) -> None:
        self._stopped = True

    def _fire_due(self) -> None:
        while self._events and self._events[0][0] <= self.clock.now:
            _, _, _, action = heapq.heappop(self._events)
            action()

    def run_invocation(self, inv: Invocation) -> None:
        """Run one started invocation to its end, alone (the harness's own tests)."""
        while not inv.task.done:
            self._step(inv)

    def _step(self, inv: Invocation) -> None:
        self.baton.resume(inv.task)
        self._sync(inv)
        if inv.task.done:
            self.live.remove(inv)
            self._ended(inv)

    def _sync(self, inv: Invocation | None = None) -> None:
        profile = self.injector.profile
        self.sqs.sync(profile)
        self.driver.sync(profile)
        tick = self.ledger.last_tick
        if tick != self._cursor:
            dispatching = inv is not None and inv.kind == "dispatcher" and bool(inv.payload)
            self.record.cursor_moves.append((self._cursor, tick, dispatching))
            self.trace.note(f"cursor {self._cursor} -> {tick} ({'dispatching' if dispatching else 'schedule off'})")
            self._cursor = tick

    # --- invocations ---------------------------------------------------------------------------------

    def live_count(self, kind: str) -> int:
        return sum(inv.kind == kind for inv in self.live)

    def start(self, kind: str, work: Any, settings: PipelineSettings, payload: Any = None) -> Invocation:
        """An invocation of ``kind`` doing ``work`` (what its handler takes), in a warm container or a new one."""
        number = self._started[kind] = self._started.get(kind, 0) + 1
        inv = Invocation(f"{kind}#{number}", kind, deadline=self.clock() + LAMBDA_TIMEOUT, payload=payload)
        inv.container = container = self._container(kind, settings)
        container.current = inv
        inv.task = self.baton.task(inv.name, lambda: container.handle(work))
        self.live.append(inv)
        self.record.invocations += 1
        return inv

    def _container(self, kind: str, settings: PipelineSettings) -> Container:
        warm = [c for c in self._warm if c.kind == kind and c.settings == settings]
        if warm and self.rng.random() >= COLD_STARTS:
            container = self.rng.choice(warm)
            self._warm.remove(container)
            return container
        return Container(kind, self.catalog, settings, self.backends, self.injector)

    def drop_warm(self) -> None:
        """A deploy (the drain's settings): every later invocation starts cold."""
        self._warm.clear()

    def _poll_sqs(self) -> None:
        while self.live_count("submitter") < CONCURRENCY["submitter"]:
            batch = self.sqs.receive(self.rng.randint(1, 3))
            if not batch:
                return
            records = [message.record() for message in batch]
            inv = self.start("submitter", records, self.world.settings, batch)
            inv.received_at = self.clock()
            self.trace.note(f"{inv.name} gets {', '.join(f'{m.message_id}#{m.copy}' for m in batch)}")

    def _ended(self, inv: Invocation) -> None:
        error = inv.task.error
        self.trace.note(f"{inv.name} ended: {type(error).__name__ + ': ' + str(error) if error else inv.task.result}")
        inv.container.current = None
        if error is not None:
            self.record.escaped.append((inv.kind, inv.name, error))
        if not isinstance(error, Crash):  # Lambda replaces an environment that timed out or died
            self._warm.append(inv.container)
        if inv.kind == "submitter":
            batch: list[Message] = inv.payload
            failed = {m.message_id for m in batch} if error else failed_ids(inv.task.result)
            self.sqs.settle(batch, failed, inv.received_at or self.clock())
        elif inv.kind == "job_events" and error is not None:
            event, attempt = inv.payload
            if attempt < ASYNC_RETRIES:
                self.deliver(event, attempt + 1, timedelta(seconds=60 * (attempt + 1) + self.rng.uniform(0, 10)))
            else:
                self.record.events_lost += 1
                self.trace.note(f"{inv.name}: event of {event['detail']['jobId']} lost after {ASYNC_RETRIES} retries")

    def deliver(self, event: dict[str, Any], attempt: int, after: timedelta) -> None:
        """A job-events invocation for ``event`` after ``after`` (throttled: a second later)."""
        self._deliveries += 1

        def arrive() -> None:
            if self.live_count("job_events") >= CONCURRENCY["job_events"]:
                self.at(self.clock() + timedelta(seconds=1), "job event throttled", arrive)
                return
            self._deliveries -= 1
            self.start("job_events", event, self.world.settings, (event, attempt))

        self.at(self.clock() + after, "job event", arrive)

    def _publish(self, event: dict[str, Any]) -> None:
        """EventBridge: the job's event delivered late, twice, or lost, as the profile says."""
        profile, rng = self.injector.profile, self.rng
        job_id = event["detail"]["jobId"]
        if rng.random() < profile.event_lost:
            self.record.events_lost += 1
            self.trace.note(f"eventbridge loses the {event['detail']['status']} event of {job_id}")
            return
        for _ in range(2 if rng.random() < profile.event_duplicate else 1):
            late = rng.random() < profile.event_late
            self.deliver(event, 0, timedelta(seconds=rng.uniform(60, 600) if late else rng.uniform(0.1, 5)))

    # --- settling ------------------------------------------------------------------------------------

    def settled(self) -> bool:
        """Nothing left to happen: no invocation, delivery or job under way, every run finished or alerted as
        stuck, and no message waiting but for a table whose slot stays held (alerted)."""
        if self.live or self._deliveries or self.driver.running:
            return False
        blocked = self.blocked_tables()
        if any(str(message.request.table) not in blocked for message in self.sqs.waiting):
            return False
        return all(run.finished or run.stuck_alert == "sent" for run in self.ledger.runs.values())

    def blocked_tables(self) -> set[str]:
        """Tables whose slot is held for good: by an unreadable item, or by a run alerted as stuck."""
        blocked = set()
        for table, holder in self.ledger.slot_holders.items():
            run = self.ledger.runs.get((table, holder))
            if (table, holder) in self.ledger.unreadable or (run is not None and run.stuck_alert == "sent"):
                blocked.add(table)
        return blocked

    # --- the injector's observer ---------------------------------------------------------------------

    def now(self) -> datetime:
        return self.clock.now

    def advance(self, seconds: float) -> None:
        self.clock.now += timedelta(seconds=seconds)

    def others_live(self, invocation: CallSite) -> bool:
        return len(self.live) > 1

    def acted(self, invocation: CallSite, label: str, args: tuple[Any, ...], result: Any) -> None:
        inv = self._inv(invocation)
        if label == "alerts.post":
            key = alert_key(args[0])
            self.record.posted.append((key, inv.name))
            if key[0].startswith("run_"):
                inv.open_posts.add(key)
        elif label == "ledger.save_run" and isinstance(args[0], Run):
            inv.open_posts -= marked_sent(args[0])
        elif label == "batch.terminate":
            self.driver.terminated(str(args[0]))

    def failed(self, invocation: CallSite, label: str, args: tuple[Any, ...], error: BaseException) -> None:
        if label == "batch.submit" and isinstance(error, JobRejected):
            tags = args[0].tags
            self.record.rejected.add((tags["table"], tags["run_id"]))

    def harness_failed(self, invocation: CallSite, label: str, args: tuple[Any, ...], acted: bool) -> None:
        """A fault the harness made: a post it cost the chance to be marked sent may be posted again."""
        inv = self._inv(invocation)
        if label == "alerts.post" and acted:
            key = alert_key(args[0])
            self.record.tolerated[key] += 1
            inv.open_posts.discard(key)
            return
        keys = run_keys(args)
        for post in sorted(inv.open_posts):
            if (post[1], post[2]) in keys:
                self.record.tolerated[post] += 1
                inv.open_posts.discard(post)

    def _inv(self, invocation: CallSite) -> Invocation:
        assert isinstance(invocation, Invocation)
        return invocation
