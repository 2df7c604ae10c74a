"""Dispatcher Lambda: a one-minute tick -> run requests for the tables due in (last tick, this tick]."""

import os
from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from databridge_pipeline.events import ScheduleTick
from databridge_pipeline.observability import logger, traced
from databridge_pipeline.wiring import services_from_environ

dispatcher = services_from_environ(os.environ).dispatcher


@logger.inject_lambda_context
@traced
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    tick = ScheduleTick.model_validate(event)
    return dispatcher.tick(tick.time).model_dump(mode="json")
