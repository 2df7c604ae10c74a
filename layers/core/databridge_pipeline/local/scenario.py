"""Scenario files for the local run: what goes wrong, and when (YAML or JSON).

Times are minutes from the start of the simulated window, so one scenario fits any start time.
"""

from __future__ import annotations

import difflib
import json
from collections.abc import Mapping, Sequence
from pathlib import Path

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from databridge_pipeline.domain.step_kinds import STEP_NAMES, StepName


class Window(BaseModel):
    """``from_minute`` .. ``from_minute + minutes`` of the simulation."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    from_minute: int = Field(ge=0)
    minutes: int = Field(ge=1)

    def covers(self, minute: int) -> bool:
        return self.from_minute <= minute < self.from_minute + self.minutes


class Failure(BaseModel):
    """Make a table's step fail ``times`` times (every attempt counts), with this exit code and reason."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    table: str
    step: StepName = "extract"
    times: int = Field(default=1, ge=1)
    exit_code: int = 1
    reason: str = "Essential container in task exited"


class Stuck(BaseModel):
    """Leave a table's step RUNNING for ever, so the dispatcher's stuck-run check fires."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    table: str
    step: StepName = "extract"


class LostEvents(BaseModel):
    """The state-change events of a table step's first ``times`` jobs are never delivered."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    table: str
    step: StepName = "extract"
    times: int = Field(default=1, ge=1)


class CrashAfterSubmit(BaseModel):
    """The invocation that submits a table's step dies right after SubmitJob returns, before its ledger write
    (once)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    table: str
    step: StepName = "extract"


class ManualRun(BaseModel):
    """An operator's rerun message, sent at ``at_minute``."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    at_minute: int = Field(ge=0)
    table: str
    from_step: StepName | None = None


class Scenario(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    job_minutes: int = Field(default=3, ge=1, description="how long every Batch job runs")
    step_minutes: dict[str, int] = Field(default_factory=dict, description="per-step override")
    deliveries: int = Field(default=1, ge=1, le=5, description="deliver every message and event this many times")
    failures: list[Failure] = Field(default_factory=list)
    stuck: list[Stuck] = Field(default_factory=list)
    lost_events: list[LostEvents] = Field(default_factory=list)
    crash_after_submit: list[CrashAfterSubmit] = Field(default_factory=list)
    slack_down: list[Window] = Field(default_factory=list)
    submit_job_down: list[Window] = Field(default_factory=list)
    drop_ticks: list[Window] = Field(default_factory=list)
    poison_messages: int = Field(default=0, ge=0, description="bad messages put on the run queue at the start")
    manual_runs: list[ManualRun] = Field(default_factory=list)

    @model_validator(mode="after")
    def _durations(self) -> Scenario:
        for step, minutes in self.step_minutes.items():
            if step not in STEP_NAMES:
                raise ValueError(f"step_minutes: unknown step {step!r} (one of {', '.join(STEP_NAMES)})")
            if minutes < 1:
                raise ValueError(f"step_minutes.{step} must be at least 1")
        return self

    def job_duration(self, step: str) -> int:
        return self.step_minutes.get(step, self.job_minutes)


def unknown_names(scenario: Scenario, steps_by_table: Mapping[str, Sequence[str]]) -> list[str]:
    """The scenario's entries that name a table the configs do not have, or a step that table does not run:
    such an entry would otherwise be ignored without a word, and the scenario not test what it says."""
    problems: list[str] = []
    entries: list[tuple[str, str, str | None]] = [
        *((f"failures[{i}]", e.table, e.step) for i, e in enumerate(scenario.failures)),
        *((f"stuck[{i}]", e.table, e.step) for i, e in enumerate(scenario.stuck)),
        *((f"lost_events[{i}]", e.table, e.step) for i, e in enumerate(scenario.lost_events)),
        *((f"crash_after_submit[{i}]", e.table, e.step) for i, e in enumerate(scenario.crash_after_submit)),
        *((f"manual_runs[{i}]", e.table, e.from_step) for i, e in enumerate(scenario.manual_runs)),
    ]
    for where, table, step in entries:
        steps = steps_by_table.get(table)
        if steps is None:
            guesses = difflib.get_close_matches(table, list(steps_by_table), n=1)
            hint = f" (did you mean {guesses[0]}?)" if guesses else ""
            problems.append(f"{where}: unknown table {table!r}{hint}")
        elif step is not None and step not in steps:
            problems.append(f"{where}: {table} has no step {step!r} (its steps: {', '.join(steps)})")
    return problems


class ScenarioError(Exception):
    """A scenario file that cannot be used; the message names the file and what is wrong."""


def load_scenario(path: Path) -> Scenario:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as error:
        raise ScenarioError(f"{path}: {error.strerror}") from None
    try:
        data = (
            json.loads(text)
            if path.suffix == ".json"
            else yaml.load(text, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
        )
    except (json.JSONDecodeError, yaml.YAMLError) as error:
        raise ScenarioError(f"{path}: not valid {'JSON' if path.suffix == '.json' else 'YAML'}: {error}") from None
    try:
        return Scenario.model_validate(data or {})
    except ValidationError as error:
        problems = "; ".join(f"{'.'.join(str(p) for p in e['loc']) or 'scenario'}: {e['msg']}" for e in error.errors())
        raise ScenarioError(f"{path}: {problems}") from None
