"""Job-events Lambda: a Batch job of ours SUCCEEDED or FAILED -> the next step, a retry, or the run's end."""

import os
from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from databridge_pipeline.bootstrap import job_events_service, wiring_from_environ
from databridge_pipeline.observability import logger, traced

wiring = wiring_from_environ(os.environ)
job_events = job_events_service(wiring)


@logger.inject_lambda_context(correlation_id_path="detail.tags.run_id")
@traced
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, str]:
    return {"result": job_events.handle_raw(event)}
