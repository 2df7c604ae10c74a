"""The README's bad day, simulated once per test session (per worker) and shared by the test of its outcome
(test_flow) and the test of the IAM actions its handlers use (test_least_privilege): a whole simulated day
is the suite's costliest step. Both carry ``xdist_group("bad_day")`` and ``make test`` distributes by group,
so one worker runs it once. Also here: recording each AWS call a handler makes as the IAM action it needs.
"""

from __future__ import annotations

import sys
from collections import defaultdict
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from types import FrameType
from typing import Any

import pytest
from aws_lambda_powertools.utilities import parameters
from botocore.client import BaseClient

from databridge_pipeline.local.command import LocalResult, run_local
from databridge_pipeline.local.scenario import Scenario, load_scenario
from databridge_pipeline.local.simulation import Simulation
from databridge_pipeline.local.stack import REGION

ROOT = Path(__file__).resolve().parents[2]
Calls = dict[str, set[tuple[str, str]]]


@dataclass(frozen=True)
class BadDay:
    scenario: Scenario
    result: LocalResult
    calls: Calls  # per handler, the (IAM action, ledger partition) pairs its invocations needed


@pytest.fixture(scope="session")
def bad_day() -> BadDay:
    """``make local ARGS="--start 2026-11-24T05:00 --scenario tests/e2e/bad_day.yml"``, in-process."""
    scenario = load_scenario(ROOT / "tests" / "e2e" / "bad_day.yml")
    with pytest.MonkeyPatch.context() as monkeypatch, _recording(monkeypatch) as calls:
        result = run_local(ROOT / "table_configs", datetime(2026, 11, 24, 5, 0, tzinfo=UTC), 24, scenario)
    return BadDay(scenario=scenario, result=result, calls=calls)


@pytest.fixture
def calls(monkeypatch: pytest.MonkeyPatch) -> Iterator[Calls]:
    """The (action, partition) pairs each function's invocations needed during the test."""
    with _recording(monkeypatch) as recorded:
        yield recorded


@contextmanager
def _recording(monkeypatch: pytest.MonkeyPatch) -> Iterator[Calls]:
    """Record each handler's AWS calls as IAM actions (the stand-in's own calls left out); with fake
    credentials in the environment, as moto needs."""
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"):
        monkeypatch.setenv(name, "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    monkeypatch.setenv("AWS_REGION", REGION)
    recorded: Calls = defaultdict(set)
    current: list[str] = []
    make_api_call = BaseClient._make_api_call
    invoke = Simulation._invoke

    def recording_call(self: BaseClient, operation: str, params: dict[str, Any]) -> Any:
        if current and not _from_the_simulation():
            recorded[current[-1]].update(iam_actions(self, operation, params))
        return make_api_call(self, operation, params)

    def attributed_invoke(self: Simulation, name: str, event: dict[str, Any], minute: int) -> Any:
        parameters.clear_caches()  # each function is its own container: it reads the Slack token itself
        current.append(name)
        try:
            return invoke(self, name, event, minute)
        finally:
            current.pop()

    monkeypatch.setattr(BaseClient, "_make_api_call", recording_call)
    monkeypatch.setattr(Simulation, "_invoke", attributed_invoke)
    yield recorded


TRANSACT_ACTIONS = {
    "Put": "PutItem",
    "Update": "UpdateItem",
    "Delete": "DeleteItem",
    "ConditionCheck": "ConditionCheckItem",
}


def iam_actions(client: BaseClient, operation: str, params: dict[str, Any]) -> list[tuple[str, str]]:
    """The IAM actions one API call needs, each with the ledger partition it touches ('' if none)."""
    prefix = client.meta.service_model.signing_name
    if operation == "TransactWriteItems":
        return [
            (f"dynamodb:{TRANSACT_ACTIONS[kind]}", _partition(body))
            for item in params["TransactItems"]
            for kind, body in item.items()
        ]
    if operation == "SendMessageBatch":
        return [("sqs:SendMessage", "")]
    actions = [(f"{prefix}:{operation}", _partition(params) if prefix == "dynamodb" else "")]
    if operation == "SubmitJob" and params.get("tags"):
        actions.append(("batch:TagResource", ""))
    return actions


def _from_the_simulation() -> bool:
    """True for the stand-in's own calls, not the handler's. The stand-in wraps the handler's SubmitJob and
    DescribeJobs (a wrapper's caller is the handler) and describes each job it records (a wrapper's caller is
    the stand-in itself)."""
    frame: FrameType | None = sys._getframe(2)
    while frame is not None and "botocore" in frame.f_code.co_filename:
        frame = frame.f_back
    caller = frame.f_back if frame is not None and _in_simulation(frame) else None
    return caller is not None and _in_simulation(caller)


def _in_simulation(frame: FrameType) -> bool:
    return frame.f_code.co_filename.endswith(str(Path("local", "simulation.py")))


def _partition(params: dict[str, Any]) -> str:
    key = params.get("Key") or params.get("Item") or {}
    value = key.get("pk", "")
    return str(value.get("S", "") if isinstance(value, dict) else value)
