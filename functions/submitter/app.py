"""Submitter Lambda: SQS run requests -> each run's first Batch job; a bad record fails alone."""

import os
from typing import Any

from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.typing import LambdaContext

from databridge_pipeline.observability import logger, traced
from databridge_pipeline.wiring import services_from_environ

submitter = services_from_environ(os.environ).submitter
# Report every failed record, even when all of a batch fail, rather than failing the whole invocation.
processor = BatchProcessor(event_type=EventType.SQS, raise_on_entire_batch_failure=False)


def handle_record(record: SQSRecord) -> str:
    return submitter.handle(record.body, record.message_id)


@logger.inject_lambda_context
@traced
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return process_partial_response(event=event, record_handler=handle_record, processor=processor, context=context)
