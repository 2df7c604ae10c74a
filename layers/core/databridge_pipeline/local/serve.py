"""``local --serve``: after the simulation, keep the local stack running on a loopback moto server, so that
``status``, ``rerun``, ``pause`` and ``resume`` can be tried with no AWS account.

The server shares moto's state with the simulation (same process), so it holds the simulated day's runs. A
stack named as the deployed one (``databridge-pipeline-<env>``) carries the outputs the commands look up,
and the handlers keep running in real time: a tick each minute, the run queue and job events every second.
"""

from __future__ import annotations

import json
import time as wall
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TextIO

import boto3

from databridge_pipeline.local.simulation import Simulation
from databridge_pipeline.local.stack import REGION

POLL_SECONDS = 1.0


def serve(
    simulation: Simulation,
    environment: str,
    configs: Path,
    out: TextIO,
    port: int = 0,
    keep_going: Callable[[], bool] = lambda: True,
) -> None:
    """Serve until interrupted (Ctrl-C), or until ``keep_going`` says stop (tests)."""
    from moto.server import ThreadedMotoServer

    _stack_outputs(simulation, environment)
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    host, bound = server.get_host_and_port()
    offset = simulation.clock.now - datetime.now(UTC)  # the simulated clock goes on at the wall clock's pace
    posted = len(simulation.slack.posts)
    out.write(
        f"\nThe local stack ({environment}) is serving on http://{host}:{bound} until Ctrl-C. In another shell:\n"
        f"export AWS_ENDPOINT_URL=http://{host}:{bound} AWS_ACCESS_KEY_ID=local AWS_SECRET_ACCESS_KEY=local "
        f"AWS_DEFAULT_REGION={REGION} DATABRIDGE_CONFIGS={configs.resolve()}\n"
        f"then e.g. databridge-pipeline status --env {environment}\n"
    )
    out.flush()
    minute = simulation.minutes
    try:
        while keep_going():
            now = datetime.now(UTC) + offset
            current = int((now - simulation.start) / timedelta(minutes=1))
            if current > minute:  # a new minute: its tick, at the minute's own time
                minute = current
                simulation.clock.now = simulation.start + timedelta(minutes=minute)
                simulation.step(minute)
            else:
                simulation.clock.now = now
                simulation.step(minute, tick=False)
            for post in simulation.slack.posts[posted:]:
                out.write("Slack: " + str(post.get("text", "")).replace("\n", "\n       ") + "\n")
            posted = len(simulation.slack.posts)
            out.flush()
            wall.sleep(POLL_SECONDS)
    except KeyboardInterrupt:
        out.write("stopped serving\n")
    finally:
        server.stop()


def _stack_outputs(simulation: Simulation, environment: str) -> None:
    """A stack with the deployed stack's name and the outputs the operator commands read."""
    template = {
        "Resources": {"Outputs": {"Type": "AWS::SNS::Topic"}},  # a stack needs one resource
        "Outputs": {
            "RunQueueUrl": {"Value": simulation.env["RUN_QUEUE_URL"]},
            "LedgerTableName": {"Value": simulation.env["LEDGER_TABLE"]},
            "RunDeadLetterQueueUrl": {"Value": simulation.env["DLQ_URL"]},
        },
    }
    boto3.client("cloudformation", region_name=REGION).create_stack(
        StackName=f"databridge-pipeline-{environment}", TemplateBody=json.dumps(template)
    )
