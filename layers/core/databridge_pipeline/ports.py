"""What the services need of the outside world, as Protocols: the ledger, AWS Batch, the run queue, alerts.

The adapters (DynamoDB, Batch, SQS, Slack) and the in-memory fakes of the tests both satisfy these; the
contract suite (tests/contract) runs one behaviour against both, so a fake cannot drift from AWS.
Conditional writes are the ledger's promise: ``start_run`` raises ``SlotBusy`` when another run holds the
table's slot, ``save_run`` raises ``StaleRun`` when the run changed since it was read.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from datetime import datetime
from typing import Protocol

from pydantic import BaseModel, ConfigDict

from databridge_pipeline.domain.alerts import Alert, StaleAlert
from databridge_pipeline.domain.aws_events import JobState
from databridge_pipeline.domain.freshness import Freshness
from databridge_pipeline.domain.job_requests import JobRequest
from databridge_pipeline.domain.ledger_alerts import UnreadableAlert
from databridge_pipeline.domain.pauses import Pause
from databridge_pipeline.domain.run_request import RunRequest
from databridge_pipeline.domain.runs import Run

Clock = Callable[[], datetime]


class UnreadableRun(BaseModel):
    """A run item the code cannot parse (written by another version, or damaged): named by its key only, so
    no log line or alert repeats its content. The pass skips it, counts it and alerts it once."""

    model_config = ConfigDict(frozen=True)

    table: str
    run_id: str
    error: str  # the parse error's type and location, never the item's values


LedgerRun = Run | UnreadableRun


class Ledger(Protocol):
    """Runs, each table's run slot, the dispatcher's cursor, pauses and each table's record."""

    def get_run(self, table_id: str, run_id: str) -> Run | None: ...

    def start_run(self, run: Run) -> Run:
        """Create the run and take its table's slot, atomically; ``SlotBusy`` if another run holds it."""
        ...

    def save_run(self, run: Run) -> Run:
        """Write the run if unchanged since it was read (returned with its new version); ``StaleRun`` if not."""
        ...

    def free_slot(self, table_id: str, run_id: str) -> None:
        """Free the table's slot if ``run_id`` still holds it."""
        ...

    def slots(self) -> list[tuple[str, str, LedgerRun | None]]:
        """Every taken slot: (table, run id, the run, or None when the ledger no longer has it); each item
        parsed on its own, so one unreadable item is an ``UnreadableRun``, not an error for all."""
        ...

    def pending_alert_runs(self) -> list[LedgerRun]:
        """The runs whose alert has not been accepted yet, as the index says (eventually consistent: re-read
        a run with ``get_run`` before acting on it)."""
        ...

    def runs_exist(self, keys: Sequence[tuple[str, str]]) -> set[tuple[str, str]]:
        """Which of the (table, run id) keys the ledger has a run for, read consistently."""
        ...

    def claim_unreadable_alert(self, table_id: str, run_id: str) -> bool:
        """Mark an unreadable run item as alerted; True only for the first claim (a conditional write)."""
        ...

    def release_unreadable_alert(self, table_id: str, run_id: str) -> None:
        """Undo a claim whose alert Slack did not accept, so the next pass tries again."""
        ...

    def pauses(self) -> list[Pause]: ...

    def record_success(self, table_id: str, at: datetime) -> None: ...

    def record_finished(self, run: Run) -> None:
        """Keep the run as its table's latest finished run (unless a later one is already kept)."""
        ...

    def freshness(self) -> dict[str, Freshness]: ...

    def first_seen(self, table_ids: list[str], now: datetime) -> None: ...

    def stale_alerted(self, table_id: str, reference: datetime) -> None: ...

    def cursor(self) -> datetime | None:
        """The last tick dispatched."""
        ...

    def advance_cursor(self, tick: datetime) -> bool:
        """Move the cursor to ``tick`` if it is later; False when another tick got there first."""
        ...


class BatchJobs(Protocol):
    """AWS Batch as the pipeline uses it: submit a step's job, find it again, ask what became of jobs."""

    @property
    def describe_calls(self) -> int:
        """DescribeJobs calls made so far (the pass reports its own)."""
        ...

    def submit(self, request: JobRequest) -> str:
        """Submit the job once (never retried inside: a lost response must not make a second job); returns
        its id. ``JobRejected`` when Batch refuses it for good, ``NotMade`` when throttled; any other error
        leaves unknown whether the job exists."""
        ...

    def find(self, request: JobRequest) -> str | None:
        """The id of the job already submitted for this request's table, run, step and attempt, if any."""
        ...

    def states(self, job_ids: Iterable[str]) -> dict[str, JobState]:
        """What Batch says of each job it still knows, by id."""
        ...

    def terminate(self, job_id: str, reason: str) -> None:
        """Stop the job, whatever its state (a finished job is left as it is)."""
        ...


class RunQueue(Protocol):
    """The SQS run queue: run requests for the submitter."""

    def send(self, request: RunRequest, delay_seconds: int = 0) -> str: ...

    def send_all(self, requests: Sequence[RunRequest]) -> int:
        """Send every request; returns the number of calls it took."""
        ...


class AlertSink(Protocol):
    """Where alerts go (Slack); raises when the alert was not accepted."""

    def post(self, alert: Alert | StaleAlert | UnreadableAlert) -> None: ...
