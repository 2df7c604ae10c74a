"""The job-events reaction: a Batch job of ours SUCCEEDED or FAILED -> next step, retry, or finish."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from typing import Any

from pydantic import ValidationError

from databridge_pipeline.domain.aws_events import BatchJobStateChange, job_outcome
from databridge_pipeline.domain.catalog import Catalog
from databridge_pipeline.domain.errors import LeftToPass, RetryLater
from databridge_pipeline.domain.repairs import RetryPolicy
from databridge_pipeline.domain.runs import Drop, Wait, on_job_outcome
from databridge_pipeline.domain.settings import PipelineSettings
from databridge_pipeline.observability import count, logger
from databridge_pipeline.ports import Clock, Ledger
from databridge_pipeline.services.executor import RunExecutor


@dataclass(eq=False)
class JobEvents:
    catalog: Catalog
    ledger: Ledger
    executor: RunExecutor
    settings: PipelineSettings
    clock: Clock

    @cached_property
    def our_queues(self) -> set[str]:
        """The settings may name a queue or give its ARN (the template passes ARNs); events carry ARNs."""
        return {q.rsplit("/", 1)[-1] for q in (self.settings.extract_job_queue, self.settings.carto_job_queue)}

    def handle_raw(self, event: dict[str, Any]) -> str:
        """Parse then handle; a malformed event is logged (its errors, not its content) and ignored."""
        try:
            parsed = BatchJobStateChange.model_validate(event)
        except ValidationError as error:
            where = sorted({".".join(str(p) for p in e["loc"]) for e in error.errors()})
            logger.warning(f"ignored a malformed Batch event: {', '.join(where)} missing or invalid")
            return "malformed"
        return self.handle(parsed)

    def handle(self, event: BatchJobStateChange) -> str:
        """Handle one event; returns what happened. Raises to have the event retried (e.g. Slack down)."""
        outcome = job_outcome(event, self.our_queues)
        if outcome is None:
            logger.debug("ignored a job that is not ours or not finished", extra={"job_id": event.detail.job_id})
            return "ignored"
        table = self.catalog.get(outcome.table)
        if table is None:
            logger.error(f"job {outcome.job_id} names table {outcome.table}, which has no config; ignored")
            return "ignored"
        settings = self.settings
        policy = RetryPolicy.of(table, settings)
        run = self.ledger.get_run(outcome.table, outcome.run_id)
        decision = on_job_outcome(run, outcome, policy.retries, policy.delay_minutes, self.clock())
        if not isinstance(decision, Drop | Wait) and getattr(decision, "save", True):
            result = "succeeded" if outcome.status == "SUCCEEDED" else "failed"
            count("StepsFinished", settings.environment, outcome.table, step=outcome.step, outcome=result)
        try:
            self.executor.apply(decision, table)
        except (LeftToPass, RetryLater) as later:  # the run is in the ledger: the pass finishes it
            logger.info(f"{later}; event of job {outcome.job_id} done")
            return "left_to_pass"
        return decision.kind
