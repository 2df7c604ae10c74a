"""Submitter Lambda: SQS run requests -> each run's first Batch job; a bad record fails alone."""

import os
from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from databridge_pipeline.bootstrap import submitter_service, wiring_from_environ
from databridge_pipeline.observability import logger, traced

wiring = wiring_from_environ(os.environ)
submitter = submitter_service(wiring)


@logger.inject_lambda_context
@traced
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return submitter.handle_batch(event["Records"])
