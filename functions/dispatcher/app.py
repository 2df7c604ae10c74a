"""Dispatcher Lambda, every minute: run requests for the tables due in (last tick, this tick], then the
reconciliation pass that brings every active run to where AWS Batch says it is, then (every 15 minutes)
the freshness check, which runs even when the pass fails."""

import os
from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from databridge_pipeline.bootstrap import dispatcher_services, wiring_from_environ
from databridge_pipeline.domain.aws_events import ScheduleTick
from databridge_pipeline.observability import logger, traced
from databridge_pipeline.services.minute import Minute

wiring = wiring_from_environ(os.environ)
dispatcher, reconciler, freshness = dispatcher_services(wiring)  # one executor shared by all three
minute = Minute(dispatcher, reconciler, freshness)


@logger.inject_lambda_context
@traced
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    tick = ScheduleTick.model_validate(event)
    return minute.run(tick.time, remaining=lambda: context.get_remaining_time_in_millis() / 1000)
