"""Logger and Tracer shared by the Lambdas, and the two things they record about runs.

Metrics are EMF with low-cardinality dimensions only (environment, step, outcome); the table id goes in
as a property, never a dimension. Run log lines carry ``table``, ``run_id``, ``step`` and ``run_status``,
which the dashboard's Logs Insights widget reads.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any, TypeVar, cast

from aws_lambda_powertools import Logger
from aws_lambda_powertools.metrics import MetricUnit, single_metric

from databridge_pipeline.domain.runs import Run

SERVICE = "databridge-pipeline"
NAMESPACE = "DatabridgePipeline"

# The service is named here rather than through POWERTOOLS_SERVICE_NAME: that variable would add a
# `service` dimension to every metric, and metrics keep to environment, step and outcome.
logger = Logger(service=SERVICE)

Handler = TypeVar("Handler", bound=Callable[..., Any])


def traced(handler: Handler) -> Handler:
    """Powertools Tracer around a handler, unless POWERTOOLS_TRACE_DISABLED is set (the template's
    XRayTracing parameter). Tracer loads the X-Ray SDK even when disabled, ~140 ms of every cold start,
    so with tracing off it is not created at all."""
    if os.environ.get("POWERTOOLS_TRACE_DISABLED", "").lower() in ("1", "true"):
        return handler
    from aws_lambda_powertools import Tracer

    return cast(Handler, Tracer(service=SERVICE).capture_lambda_handler(handler))


def count(
    name: str,
    environment: str,
    table: str | None = None,
    value: float = 1,
    unit: MetricUnit = MetricUnit.Count,
    **dimensions: str,
) -> None:
    """Emit one EMF metric now (a count unless ``unit`` says otherwise), with its own dimensions."""
    namespace = os.environ.get("POWERTOOLS_METRICS_NAMESPACE", NAMESPACE)
    with single_metric(
        name=name,
        unit=unit,
        value=value,
        namespace=namespace,
        default_dimensions={"environment": environment, **dimensions},
    ) as metric:
        if table is not None:
            metric.add_metadata(key="table", value=table)


def log_run(run_status: str, run: Run, **extra: object) -> None:
    """One structured line per run transition; never the event or message it came from."""
    logger.info(
        f"{run.table} {run.run_id}: {run_status}",
        extra={"table": run.table, "run_id": run.run_id, "step": run.step.name, "run_status": run_status, **extra},
    )
