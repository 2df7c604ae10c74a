"""The submitter: one run request (an SQS record) -> a run started, a duplicate dropped, or a hold-back."""

from __future__ import annotations

import difflib
from collections.abc import Iterable
from typing import Any

from pydantic import ValidationError

from databridge_pipeline.domain.catalog import Catalog
from databridge_pipeline.domain.errors import SlotBusy
from databridge_pipeline.domain.run_request import RunRequest, run_id_for
from databridge_pipeline.domain.runs import RequestRejected, on_request
from databridge_pipeline.domain.settings import PipelineSettings
from databridge_pipeline.domain.tables import Table
from databridge_pipeline.observability import count, logger
from databridge_pipeline.ports import Clock, Ledger, RunQueue
from databridge_pipeline.services.executor import RunExecutor

# A request for a busy table is sent back to the queue to wait this long (SQS's longest delay is 900 s).
HOLD_BACK_SECONDS = 300


class BadMessage(ValueError):
    """A message that can never succeed: it fails alone and, after a few receives, lands in the DLQ."""


class Submitter:
    def __init__(
        self,
        catalog: Catalog,
        ledger: Ledger,
        queue: RunQueue,
        executor: RunExecutor,
        settings: PipelineSettings,
        clock: Clock,
    ) -> None:
        self.catalog = catalog
        self.ledger = ledger
        self.queue = queue
        self.executor = executor
        self.settings = settings
        self.clock = clock

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
        except Exception as error:
            logger.warning(
                f"run {run_id} of {table.id} not submitted, the message will be retried: "
                f"{type(error).__name__}: {error}",
                extra={"table": str(table.id), "run_id": run_id},
            )
            raise
        return decision.kind

    def _parse(self, body: str) -> tuple[RunRequest, Table]:
        try:
            request = RunRequest.model_validate_json(body)
        except ValidationError as error:
            raise BadMessage("; ".join(_describe(e) for e in error.errors())) from None
        table = self.catalog.get(str(request.table))
        if table is None:
            guesses = difflib.get_close_matches(str(request.table), self.catalog.ids(), n=1)
            hint = f" (did you mean {guesses[0]}?)" if guesses else ""
            raise BadMessage(f"unknown table {str(request.table)!r}{hint}")
        return request, table


def _describe(error: object) -> str:
    """A validation error without the offending input (it could be anything a person pasted)."""
    details = error if isinstance(error, dict) else {}
    where = ".".join(str(part) for part in details.get("loc", ())) or "body"
    message = str(details.get("msg", "invalid")).removeprefix("Value error, ")
    return f"{where}: {message}"
