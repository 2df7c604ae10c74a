"""The three Lambdas as the simulation runs them: each invocation a unit of work with its own ``Wiring`` (a
container's), whose ports are fault proxies over the shared fakes, calling the same service methods the
handlers call (functions/*/app.py) and nothing else.

- dispatcher: ``dispatcher.tick(time)``; when it dispatched a window, ``reconciler.run_pass()`` and then
  ``freshness.check(time)`` (the handler's order);
- submitter: ``submitter.handle_batch(records)``, whose ``batchItemFailures`` SQS acts on;
- job events: ``job_events.handle_raw(event)``; what it raises, Lambda retries (twice).
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, cast

from databridge_pipeline.bootstrap import Wiring, dispatcher_services, job_events_service, submitter_service
from databridge_pipeline.domain.catalog import Catalog
from databridge_pipeline.domain.runs import Run
from databridge_pipeline.domain.settings import PipelineSettings
from databridge_pipeline.ports import AlertSink, BatchJobs, Clock, Ledger, RunQueue
from databridge_pipeline.services.executor import LogLinks

from .baton import Task
from .faults import FaultInjector, PortProxy
from .record import AlertKey

LINKS = LogLinks(region="us-east-1", log_group="/aws/batch/databridge-pipeline-prod")


@dataclass(eq=False)
class Invocation:
    """One Lambda invocation: its thread, its Lambda deadline, and the alerts it posted but has not yet
    marked sent (``open_posts``, for telling a duplicate the harness caused from one the product did)."""

    name: str
    kind: str  # dispatcher | submitter | job_events
    deadline: datetime
    payload: Any = None
    open_posts: set[AlertKey] = field(default_factory=set)
    received_at: datetime | None = None  # a submitter's: when SQS handed it its records
    task: Task = field(init=False)
    container: Container = field(init=False)


@dataclass(frozen=True)
class Backends:
    """The shared fakes every invocation's proxies wrap."""

    ledger: object
    batch: object
    queue: object
    alerts: object
    clock: Clock


class Container:
    """A Lambda execution environment: its Wiring and services built once, at its cold start, as app.py's
    module level builds them (warm state such as the dispatcher's schedule index lives on between its
    invocations); its ports are fault proxies acting for the invocation it runs now (``current``)."""

    def __init__(
        self, kind: str, catalog: Catalog, settings: PipelineSettings, backends: Backends, injector: FaultInjector
    ) -> None:
        self.kind = kind
        self.settings = settings
        self.current: Invocation | None = None

        def proxy(target: object, port: str) -> Any:
            return PortProxy(target, port, self, injector)

        self.wiring = Wiring(
            catalog=catalog,
            settings=settings,
            ledger=cast(Ledger, proxy(backends.ledger, "ledger")),
            batch=cast(BatchJobs, proxy(backends.batch, "batch")),
            queue=cast(RunQueue, proxy(backends.queue, "queue")),
            alerts=cast(AlertSink, proxy(backends.alerts, "alerts")),
            links=LINKS,
            clock=backends.clock,
        )
        self.handle = HANDLERS[kind](self)

    def seconds_left(self) -> float:
        """The Lambda time left of the invocation it runs (``context.get_remaining_time_in_millis() / 1000``)."""
        return (self.invocation.deadline - self.wiring.now()).total_seconds()

    @property
    def invocation(self) -> Invocation:
        assert self.current is not None, f"a {self.kind} container called AWS outside an invocation"
        return self.current


Handler = Callable[[Any], object]


def dispatcher_handler(container: Container) -> Handler:
    """functions/dispatcher/app.py: ``services.minute.Minute.run`` where the product has it (the tick, the pass
    with the Lambda's time left, the freshness check even when the pass failed), else the handler's older
    sequence (the tick; the pass and the freshness check when it dispatched a window). The work: the tick's
    time."""
    dispatcher, reconciler, freshness = dispatcher_services(container.wiring)
    minute_service = _minute_service()
    minute = None if minute_service is None else minute_service(dispatcher, reconciler, freshness)

    def handle(tick: datetime) -> object:
        if minute is not None:
            return minute.run(tick, remaining=container.seconds_left)
        dispatched = dispatcher.tick(tick)
        if dispatched.window is None:
            return "no window"
        reconciler.run_pass()
        freshness.check(tick)
        return "ticked"

    return handle


def _minute_service() -> Any:
    try:
        module = importlib.import_module("databridge_pipeline.services.minute")
    except ImportError:
        return None
    return module.Minute


def submitter_handler(container: Container) -> Handler:
    """functions/submitter/app.py: SQS records -> the partial batch response."""
    submitter = submitter_service(container.wiring)
    return lambda records: submitter.handle_batch(records)


def job_events_handler(container: Container) -> Handler:
    """functions/job_events/app.py: one Batch job state-change event."""
    job_events = job_events_service(container.wiring)
    return lambda event: job_events.handle_raw(event)


HANDLERS: dict[str, Callable[[Container], Handler]] = {
    "dispatcher": dispatcher_handler,
    "submitter": submitter_handler,
    "job_events": job_events_handler,
}


def failed_ids(result: object) -> set[str]:
    """The message ids a submitter's partial batch response reports as failed."""
    if not isinstance(result, dict):
        return set()
    return {str(failure["itemIdentifier"]) for failure in result.get("batchItemFailures", [])}


def alert_key(alert: object) -> AlertKey:
    kind = str(getattr(alert, "kind", type(alert).__name__))
    return kind, str(getattr(alert, "table", "")), str(getattr(alert, "run_id", ""))


SENT_BY_FIELD = {"alert": ("run_failed", "run_cancelled"), "stuck_alert": ("run_stuck",)}


def marked_sent(run: Run) -> set[AlertKey]:
    """The alert keys a saved run marks as sent."""
    return {
        (kind, run.table, run.run_id)
        for name, kinds in SENT_BY_FIELD.items()
        if getattr(run, name) == "sent"
        for kind in kinds
    }


def run_keys(args: tuple[Any, ...]) -> set[tuple[str, str]]:
    """The (table, run id) pairs a port call is about: a run, an alert, or (table, run id) arguments."""
    keys = {
        (str(arg.table), str(arg.run_id))
        for arg in args
        if isinstance(getattr(arg, "run_id", None), str) and getattr(arg, "table", None) is not None
    }
    if len(args) >= 2 and isinstance(args[0], str) and isinstance(args[1], str):
        keys.add((args[0], args[1]))
    return keys
