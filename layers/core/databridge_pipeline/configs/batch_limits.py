"""What AWS Batch would refuse of a table's steps, said by ``validate`` rather than by a failed run: a job
name over 128 characters or with a character Batch refuses, a SubmitJob request over 30 KiB, and a job
definition the stack does not create.

Which job definitions a stack creates is read by the CLI from the SAM template (``StackJobDefinitions``);
this module only compares. A definition the stack creates only when an image parameter is given (in the
legacy set, ``ExtractAirtableImage`` for ``airtable_extract``) is a warning: the stack may set it. One that
no parameter creates is an error.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field

from databridge_pipeline.configs.flat_yaml import Where
from databridge_pipeline.configs.planned import Planned, PlannedStep
from databridge_pipeline.configs.problems import ConfigProblem
from databridge_pipeline.domain.job_requests import JobRequest
from databridge_pipeline.domain.names import echo
from databridge_pipeline.domain.settings import CommandSet
from databridge_pipeline.domain.tables import Table

# AWS Batch's own limits on SubmitJob (a ClientException, the adapter's JobRejected, for good).
MAX_JOB_NAME = 128
JOB_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,127}")
MAX_REQUEST_BYTES = 30 * 1024


@dataclass(frozen=True)
class StackJobDefinitions:
    """The job definitions a stack of ``command_set`` creates, with the image parameters it is given, and for
    each one it leaves out that a parameter would create, that parameter (whose default is empty)."""

    command_set: CommandSet
    created: frozenset[str]
    created_by: Mapping[str, str] = field(default_factory=dict)


def request_bytes(request: JobRequest) -> int:
    """The size Batch measures: the SubmitJob request as JSON."""
    return len(json.dumps(request.submit_job_kwargs()).encode())


def batch_problems(planned: Planned, stack: StackJobDefinitions | None = None) -> list[ConfigProblem]:
    """The table's worst job name and worst request in any command set, if Batch would refuse them, and with
    ``stack`` each step of its set whose job definition the stack may not create."""
    steps = [step for sets in planned.steps.values() for step in sets]
    problems = [planned.problem(where, message) for where, message in _name_problems(steps)]
    largest = max(steps, key=lambda step: request_bytes(step.request), default=None)
    size = request_bytes(largest.request) if largest else 0
    if largest and size > MAX_REQUEST_BYTES:
        key = largest_key(planned.table)
        problems.append(
            planned.problem(
                key,
                f"the {largest.step.name} step's SubmitJob request is {size:,} bytes; AWS Batch takes at most "
                f"{MAX_REQUEST_BYTES:,} (30 KiB): shorten {key[-1] if key else 'the names'}",
            )
        )
    if stack is not None:
        problems += job_definition_problems(planned, stack)
    return problems


def _name_problems(steps: list[PlannedStep]) -> list[tuple[Where, str]]:
    """The longest job name, if it is too long, else one with a character Batch refuses; at the file's path,
    which names the table and its schema (line 1)."""
    if not steps:
        return []
    longest = max(steps, key=lambda step: len(step.request.job_name))
    name = longest.request.job_name
    if len(name) > MAX_JOB_NAME:
        return [
            (
                (),
                f"the {longest.step.name} step's job name {echo(name)} is {len(name)} characters; AWS Batch takes at "
                f"most {MAX_JOB_NAME}: shorten the table's name (the file's) or its schema's (the folder's)",
            )
        ]
    bad = next((step.request.job_name for step in steps if not JOB_NAME.fullmatch(step.request.job_name)), None)
    if bad is not None:
        return [
            ((), f"job name {echo(bad)}: AWS Batch takes letters, digits, - and _, starting with a letter or digit")
        ]
    return []


def largest_key(table: Table) -> Where:
    """The config key whose names make the request long: carto_users, indexes or a step option."""
    config = table.config
    sizes: dict[Where, int] = {("carto_users",): _length(config.carto_users), ("indexes",): _length(config.indexes)}
    for index, entry in enumerate(config.steps or ()):
        for name, value in entry.options.items():
            sizes[("steps", index, name)] = _length(value if isinstance(value, list) else [value])
    where = max(sizes, key=lambda key: sizes[key])
    return where if sizes[where] else ()


def _length(names: list[str] | None) -> int:
    return sum(len(name) + 1 for name in names or ())


def job_definition_problems(planned: Planned, stack: StackJobDefinitions) -> list[ConfigProblem]:
    """Each step of the stack's command set whose job definition the stack does not create: a warning when
    an image parameter would create it, else an error."""
    problems: list[ConfigProblem] = []
    for step in planned.steps[stack.command_set]:
        definition = step.request.job_definition
        if definition in stack.created:
            continue
        kind = step.step.kind.kind
        parameter = stack.created_by.get(definition)
        if parameter is None:
            message = (
                f"{kind} runs in job definition {definition}, which a {stack.command_set} stack does not create "
                "with any parameters: every run would fail at SubmitJob"
            )
            problems.append(planned.problem(step.where, message))
            continue
        message = (
            f"{kind} needs the stack parameter {parameter} (empty by default); without it every run fails at "
            f"SubmitJob with an alert (if the stack sets it: validate --image {parameter})"
        )
        problems.append(planned.problem(step.where, message, "warning"))
    return problems
