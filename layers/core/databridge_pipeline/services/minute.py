"""The dispatcher Lambda's minute: the tick, then the reconciliation pass, then the freshness check.

Each runs whatever became of the one before: a pass that fails (DynamoDB throttled, one bad item, a bug)
must not take the freshness check with it, so the failure is raised only once the check has run, and the
invocation still fails where CloudWatch's Errors alarm sees it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from databridge_pipeline.observability import logger
from databridge_pipeline.services.dispatcher import Dispatcher
from databridge_pipeline.services.freshness_check import FreshnessCheck
from databridge_pipeline.services.reconciler import Reconciler, Remaining


@dataclass(eq=False)
class Minute:
    dispatcher: Dispatcher
    reconciler: Reconciler
    freshness: FreshnessCheck

    def run(self, time: datetime, remaining: Remaining | None = None) -> dict[str, Any]:
        """One tick's work; ``remaining`` is the Lambda's time left, in seconds, which the pass budgets."""
        dispatched = self.dispatcher.tick(time)
        if dispatched.window is None:  # a repeated or late tick: the one that moved the cursor runs the pass
            return {**dispatched.model_dump(mode="json"), "reconcile": None, "freshness": None}
        failure: Exception | None = None
        reconciled = None
        try:
            reconciled = self.reconciler.run_pass(remaining)
        except Exception as error:
            logger.exception("the reconciliation pass failed; the freshness check runs all the same")
            failure = error
        checked = self.freshness.check(time)
        if failure is not None:
            raise failure
        return {
            **dispatched.model_dump(mode="json"),
            "reconcile": reconciled.model_dump(mode="json") if reconciled else None,
            "freshness": checked.model_dump(mode="json") if checked else None,
        }
