"""A loaded table as a deploy would run it: in each command set, its steps with the SubmitJob request the
submitter would make for each, and the line of the config key each step comes from.

The requests are built by ``job_requests.job_request`` itself, so what ``batch_limits`` and ``collisions``
check is what the submitter sends, never a copy of how it names or sizes a job. They are built for the
worst case a run can reach: prod's names (longer than dev's), the longest run id a rerun may give and the
last attempt a table may make.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache

from databridge_pipeline.configs.flat_yaml import Where
from databridge_pipeline.configs.problems import ConfigProblem, Severity
from databridge_pipeline.domain.job_requests import JobRequest, job_request, plan_steps
from databridge_pipeline.domain.settings import CommandSet, EnvironmentName, PipelineSettings, settings_for
from databridge_pipeline.domain.step_kinds import COMMAND_SETS, ResolvedStep, step_kinds
from databridge_pipeline.domain.tables import Table

ENVIRONMENT: EnvironmentName = "prod"  # "prod" is longer than "dev" in every queue and job definition name
LONGEST_RUN_ID = "0" * 80  # run_request.RUN_ID_PATTERN: at most 80 characters (an operator's rerun may give one)
LAST_ATTEMPT = 11  # a table retries at most 10 times

Lines = Callable[[Where], int]  # the line of a key in the table's file (``Parsed.line``)


@dataclass(frozen=True)
class PlannedStep:
    """One step of one run, its SubmitJob request, and where in the config it comes from."""

    step: ResolvedStep
    request: JobRequest
    where: Where


@dataclass(frozen=True)
class Planned:
    """A table, the lines of its file, and each command set's steps."""

    table: Table
    line: Lines
    steps: dict[CommandSet, list[PlannedStep]]

    def problem(self, where: Where, message: str, severity: Severity = "error") -> ConfigProblem:
        return ConfigProblem(self.table.source_file, self.line(where), message, severity)


def plan(table: Table, line: Lines) -> Planned:
    """``table``'s steps in every command set, each with the request its last attempt would send."""
    steps = {
        command_set: [
            PlannedStep(
                step=step,
                request=job_request(table, step, settings(command_set), LONGEST_RUN_ID, LAST_ATTEMPT),
                where=step_where(table, step.name),
            )
            for step in plan_steps(table, command_set)
        ]
        for command_set in COMMAND_SETS
    }
    return Planned(table=table, line=line, steps=steps)


@lru_cache(maxsize=len(COMMAND_SETS))
def settings(command_set: CommandSet) -> PipelineSettings:
    return settings_for(ENVIRONMENT, {"COMMAND_SET": command_set})


def step_where(table: Table, name: str) -> Where:
    """The config key a step comes from: its ``steps:`` entry's kind; in a chain the legacy keys give, the
    file's path for the extract (line 1) and ``upload_to_carto`` for the steps it adds."""
    if table.config.steps is None:
        return () if name == "extract" else ("upload_to_carto",)
    kinds = step_kinds()
    for index, entry in enumerate(table.config.steps):
        kind = kinds.get(entry.kind)
        if kind is not None and kind.step == name:
            return ("steps", index, "kind")
    return ("steps",)
