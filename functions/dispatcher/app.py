"""Dispatcher Lambda, every minute: run requests for the tables due in (last tick, this tick], then the
reconciliation pass that brings every active run to where AWS Batch says it is, then (every 15 minutes)
the freshness check."""

import os
from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from databridge_pipeline.bootstrap import dispatcher_services, wiring_from_environ
from databridge_pipeline.domain.aws_events import ScheduleTick
from databridge_pipeline.observability import logger, traced

wiring = wiring_from_environ(os.environ)
dispatcher, reconciler, freshness = dispatcher_services(wiring)  # one executor shared by all three


@logger.inject_lambda_context
@traced
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    tick = ScheduleTick.model_validate(event)
    dispatched = dispatcher.tick(tick.time)
    if dispatched.window is None:  # a repeated or late tick: the one that moved the cursor runs this minute's pass
        return {**dispatched.model_dump(mode="json"), "reconcile": None, "freshness": None}
    reconciled = reconciler.run_pass()
    checked = freshness.check(tick.time)
    return {
        **dispatched.model_dump(mode="json"),
        "reconcile": reconciled.model_dump(mode="json"),
        "freshness": checked.model_dump(mode="json") if checked else None,
    }
