"""In-memory fakes of the ports (``databridge_pipeline.ports``): the ledger, AWS Batch, the run queue, Slack
and the clock, for the services' unit tests (tests/unit/services) and the benchmarks (benchmarks/run.py).

Each keeps the promises its adapter keeps (tests/contract runs the same behaviour suite against the fake and
against the adapter on moto, so a fake cannot drift) and adds a few ways to drive it and look inside.

Where they live: here, beside the tests that are their main users, imported as the top-level package
``fakes``. pytest puts ``tests/`` on ``sys.path`` for ``tests/conftest.py`` (its default ``prepend`` import
mode), and benchmarks/run.py puts it there beside ``benchmarks/``, as it does for its own modules; so neither
depends on the directory it is started from, and nothing of the tests ships in the core layer.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .alerts import FakeAlerts, SlackDown
from .batch import FakeBatch, FakeJob, SubmitRefused
from .clock import FakeClock
from .ledger import FakeLedger, TableRecord
from .run_queue import FakeRunQueue, Sent

__all__ = [
    "FakeAlerts",
    "FakeBatch",
    "FakeClock",
    "FakeJob",
    "FakeLedger",
    "FakeRunQueue",
    "Sent",
    "SlackDown",
    "SubmitRefused",
    "TableRecord",
]

if TYPE_CHECKING:  # mypy checks that each fake is its port, without a cast or an ignore
    from databridge_pipeline.ports import AlertSink, BatchJobs, Clock, Ledger, RunQueue

    def _as_ports(
        ledger: FakeLedger, batch: FakeBatch, queue: FakeRunQueue, alerts: FakeAlerts, clock: FakeClock
    ) -> tuple[Ledger, BatchJobs, RunQueue, AlertSink, Clock]:
        return ledger, batch, queue, alerts, clock
