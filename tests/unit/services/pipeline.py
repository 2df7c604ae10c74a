"""A pipeline on fakes, for the services' unit tests: the example table configs, dev settings, and every
service wired as the Lambdas wire them (``bootstrap.Wiring`` and its service builders), over FakeLedger,
FakeBatch, FakeRunQueue, FakeAlerts and a FakeClock. No AWS, no moto: a test here takes milliseconds."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fakes import FakeAlerts, FakeBatch, FakeClock, FakeLedger, FakeRunQueue

from databridge_pipeline.bootstrap import Wiring, dispatcher_services, job_events_service, submitter_service
from databridge_pipeline.configs.loader import load_tables
from databridge_pipeline.domain.catalog import Catalog
from databridge_pipeline.domain.runs import Run
from databridge_pipeline.domain.settings import PipelineSettings, settings_for
from databridge_pipeline.services.executor import LogLinks

EXAMPLE_CONFIGS = Path(__file__).resolve().parents[3] / "table_configs"
EXAMPLES = Catalog(load_tables(EXAMPLE_CONFIGS))
LINKS = LogLinks(region="us-east-1", log_group="/aws/batch/databridge-pipeline-dev")

INSPECTIONS = "databridge/lni/inspections"  # 06:15 America/New_York (11:15 UTC in November); retries 1, 10 min
ASSESSMENTS = "databridge/opa/assessment_history"  # quarterly; the environment's retries (dev: none)
SCHEDULED = {"table": INSPECTIONS, "trigger": "schedule", "scheduled_for": "2026-11-24T11:15:00Z"}
RUN_ID = "scheduled-20261124T1115Z"


@dataclass
class Pipeline:
    catalog: Catalog
    settings: PipelineSettings
    clock: FakeClock
    ledger: FakeLedger
    batch: FakeBatch
    queue: FakeRunQueue
    alerts: FakeAlerts

    def __post_init__(self) -> None:
        self.wiring = Wiring(
            self.catalog, self.settings, self.ledger, self.batch, self.queue, self.alerts, LINKS, self.clock
        )
        self.executor = self.wiring.executor
        self.submitter = submitter_service(self.wiring)
        self.job_events = job_events_service(self.wiring)
        self.dispatcher, self.reconciler, self.freshness = dispatcher_services(self.wiring)

    def request(self, body: dict[str, Any] | str, message_id: str = "message-1") -> str:
        """One run-queue message handed to the submitter; returns what it did."""
        return self.submitter.handle(body if isinstance(body, str) else json.dumps(body), message_id)

    def event(self, job_id: str, status: str, **details: Any) -> str:
        """The state-change event of ``job_id`` reaching ``status``, handed to the job-events service."""
        return self.job_events.handle_raw(self.batch.state_change(job_id, status, self.clock(), **details))

    def run(self, table: str = INSPECTIONS, run_id: str = RUN_ID) -> Run:
        run = self.ledger.get_run(table, run_id)
        assert run is not None, f"no run {run_id} of {table} in the ledger"
        return run

    def jobs(self) -> list[tuple[str, str, str]]:
        """Every job submitted, oldest first, as (run id, step, attempt)."""
        return [(r.tags["run_id"], r.tags["step"], r.tags["attempt"]) for r in self.batch.submitted()]

    def last_job(self) -> str:
        return list(self.batch.jobs)[-1]


def pipeline_of(catalog: Catalog = EXAMPLES, settings: PipelineSettings | None = None) -> Pipeline:
    return Pipeline(
        catalog, settings or settings_for("dev"), FakeClock(), FakeLedger(), FakeBatch(), FakeRunQueue(), FakeAlerts()
    )
