"""The submitter: one run request (an SQS record) -> a run started, a duplicate dropped, a hold-back, a
paused table's run skipped, or an early retry deferred."""

from __future__ import annotations

import difflib
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from databridge_pipeline.domain.catalog import Catalog
from databridge_pipeline.domain.errors import LeftToPass, RetryLater, SlotBusy
from databridge_pipeline.domain.pauses import describe, pause_of
from databridge_pipeline.domain.run_request import SHOWN, InvalidRequest, RunRequest, parse_request, run_id_for, shown
from databridge_pipeline.domain.runs import Decision, Defer, RequestRejected, Start, on_request
from databridge_pipeline.domain.settings import PipelineSettings
from databridge_pipeline.domain.tables import Table
from databridge_pipeline.observability import count, logger
from databridge_pipeline.ports import Clock, Ledger, RunQueue
from databridge_pipeline.services.executor import RunExecutor

# A request for a busy table is sent back to the queue to wait this long (SQS's longest delay is 900 s).
HOLD_BACK_SECONDS = 300


class BadMessage(ValueError):
    """A message that can never succeed: it fails alone and, after a few receives, lands in the DLQ."""


@dataclass(eq=False)
class Submitter:
    catalog: Catalog
    ledger: Ledger
    queue: RunQueue
    executor: RunExecutor
    settings: PipelineSettings
    clock: Clock

    def handle_batch(self, records: Iterable[dict[str, Any]]) -> dict[str, list[dict[str, str]]]:
        """SQS records -> the partial batch response: each record that raised is reported alone (and comes
        back after the visibility timeout), the others are deleted. Even when every record fails the
        invocation succeeds, so no good record is retried along with a bad one. (Powertools' batch utility
        does the same but costs ~80 ms of every cold start to import.)"""
        failures = []
        for record in records:
            try:
                self.handle(record["body"], record["messageId"])
            except Exception:  # each record fails alone; handle() has logged why when it knows
                failures.append({"itemIdentifier": record["messageId"]})
        return {"batchItemFailures": failures}

    def handle(self, body: str, message_id: str) -> str:
        """Handle one message; returns what happened (for logs and tests). Raises BadMessage or to retry."""
        logger.set_correlation_id(None)  # until this record's run id is known: never the previous record's
        try:
            request, table = self._parse(body)
            run_id = run_id_for(request, message_id)
            logger.set_correlation_id(run_id)
            run = self.ledger.get_run(str(table.id), run_id)
            try:
                decision = on_request(run, request, table, run_id, self.clock(), self.settings.command_set)
            except RequestRejected as error:
                raise BadMessage(str(error)) from None
        except BadMessage as error:
            logger.warning(f"rejected message {message_id}: {error}", extra={"message_id": message_id})
            count("MessagesRejected", self.settings.environment)
            raise
        if isinstance(decision, Defer):
            return self._defer(decision, request, run_id)
        if isinstance(decision, Start) and self._skipped_paused(request, table, run_id):
            return "skipped_paused"
        return self._apply(decision, request, table, run_id)

    def _apply(self, decision: Decision, request: RunRequest, table: Table, run_id: str) -> str:
        try:
            self.executor.apply(decision, table)
        except SlotBusy as busy:
            held = request.model_copy(update={"run_id": run_id})
            self.queue.send(held, delay_seconds=HOLD_BACK_SECONDS)
            logger.info(
                f"{table.id} is busy with run {busy.holder}; run {run_id} held back {HOLD_BACK_SECONDS} s",
                extra={"table": str(table.id), "run_id": run_id, "run_status": "held_back"},
            )
            return "held_back"
        except (LeftToPass, RetryLater) as later:  # the run is in the ledger: the pass finishes it, not the DLQ
            logger.info(f"{later}; message {run_id} done", extra={"table": str(table.id), "run_id": run_id})
            return "left_to_pass"
        except Exception as error:
            logger.warning(
                f"run {run_id} of {table.id} not submitted, the message will be retried: "
                f"{type(error).__name__}: {error}",
                extra={"table": str(table.id), "run_id": run_id},
            )
            raise
        return decision.kind

    def _skipped_paused(self, request: RunRequest, table: Table, run_id: str) -> bool:
        """A new run of a paused table is skipped (logged, counted, the message deleted) unless the request
        says ``force``. The pauses are read only here, for a message that would start a run: one Query."""
        if request.force:
            return False
        pause = pause_of(str(table.id), self.ledger.pauses())
        if pause is None:
            return False
        logger.info(
            f'{table.id} {run_id}: not started, {describe(pause)} (a request with "force": true runs it)',
            extra={"table": str(table.id), "run_id": run_id, "run_status": "skipped_paused"},
        )
        count("MessagesSkippedPaused", self.settings.environment, str(table.id))
        return True

    def _defer(self, decision: Defer, request: RunRequest, run_id: str) -> str:
        """A retry that came early goes back to the queue for the time left (in steps of SQS's longest delay);
        this message is deleted. A copy that comes twice is dropped as a duplicate once the retry is made."""
        delay = decision.delay_seconds(self.clock())
        again = request.model_copy(update={"run_id": run_id, "not_before": decision.until})
        self.queue.send(again, delay_seconds=delay)
        logger.info(
            f"{decision.reason}: deferred {delay} s",
            extra={"table": str(request.table), "run_id": run_id, "run_status": "retry_deferred"},
        )
        return decision.kind

    def _parse(self, body: str) -> tuple[RunRequest, Table]:
        try:
            request = parse_request(body)
        except InvalidRequest as error:
            raise BadMessage(str(error)) from None
        table = self.catalog.get(str(request.table))
        if table is None:
            guesses = difflib.get_close_matches(str(request.table)[:SHOWN], self.catalog.ids(), n=1)
            hint = f" (did you mean {guesses[0]}?)" if guesses else ""
            raise BadMessage(f"table: unknown table {shown(str(request.table))}{hint}")
        return request, table
