"""Loading table configs from ``table_configs/``: every table that validates, every problem at ``file:line``.

The legacy Airflow configs must drop in unchanged; a config's identity comes from its path
(``databridge/<schema>/<table>.yml``, ``knack/<carto_conn>/<schema>/<table>.yml``, ``airtable/<schema>/<table>.yml``).
"""

from __future__ import annotations

import os
from pathlib import Path

from pydantic import ValidationError

from databridge_pipeline.configs.batch_limits import StackJobDefinitions, batch_problems
from databridge_pipeline.configs.collisions import collision_problems
from databridge_pipeline.configs.discovery import config_files, read_problem
from databridge_pipeline.configs.planned import Planned, plan
from databridge_pipeline.configs.problems import ConfigError, ConfigProblem, display_path, first_message, locate
from databridge_pipeline.configs.rules import cross_field_problems
from databridge_pipeline.configs.yaml_lines import Parsed, YamlProblem, parse_yaml
from databridge_pipeline.domain.tables import Table, TableConfig, TableId

MAX_BYTES = 1 << 20  # the legacy configs are under 300 bytes; a bigger file is read no further
_FIRST_READ = 1 << 14
MAX_PROBLEMS = 20  # per file: a list of 100,000 bad items says so in a few lines, not 100,000


def load_tables(root: Path, *, deployable: bool = False) -> list[Table]:
    """Every table under ``root``, sorted by id; raises ``ConfigError`` listing every error found (with
    ``deployable``, also what Batch would refuse and what two tables share: see ``check_tables``)."""
    tables, problems = check_tables(root, deployable=deployable)
    errors = [p for p in problems if p.is_error]
    if errors:
        raise ConfigError(errors)
    return tables


def check_tables(
    root: Path, *, deployable: bool = False, stack: StackJobDefinitions | None = None
) -> tuple[list[Table], list[ConfigProblem]]:
    """Load what validates and report what does not, so one bad file hides no other.

    With ``deployable`` (or a ``stack``), also what a deploy needs of the catalog: each step's SubmitJob
    request within Batch's limits (``batch_limits``), no two tables sharing a staged object or a job name
    (``collisions``), and with ``stack`` each step's job definition among those it creates. These build
    every step's request in both command sets, several times the cost of the load itself, so the plain load
    (the CLI's other commands, a folder at cold start) leaves them to ``validate`` and the manifest build."""
    if not root.is_dir():
        return [], [ConfigProblem(display_path(root), 0, "no such config directory")]
    shown_root = display_path(root)  # once: resolving each file's path would cost more than reading it
    folder = str(root)  # and plain strings: a Path per file costs a tenth of the load
    tables: list[Table] = []
    planned: list[Planned] = []
    files, problems = config_files(root)
    for relative in files:
        shown = relative if shown_root == "." else f"{shown_root}/{relative}"
        table, parsed, file_problems = _load(os.path.join(folder, relative), relative, shown)
        if table is not None and parsed is not None and (deployable or stack is not None):
            planned.append(plan(table, parsed.line))
            file_problems = batch_problems(planned[-1], stack)
        problems.extend(file_problems)
        if table is not None and not any(p.is_error for p in file_problems):
            tables.append(table)
    if planned:
        tables = _without_collisions(tables, planned, problems)
    tables.sort(key=lambda t: str(t.id))
    problems.sort(key=lambda p: (p.path, p.line))
    return tables, problems


def _without_collisions(tables: list[Table], planned: list[Planned], problems: list[ConfigProblem]) -> list[Table]:
    """The tables that share nothing with an earlier one; what the others share is added to ``problems``."""
    valid = {table.source_file for table in tables}
    collisions = collision_problems([p for p in planned if p.table.source_file in valid])
    problems.extend(collisions)
    refused = {problem.path for problem in collisions}
    return [table for table in tables if table.source_file not in refused]


def load_table(path: str | Path, relative: str, shown: str) -> tuple[Table | None, list[ConfigProblem]]:
    """Load one config file (``relative``, with ``/``, under the config folder; ``shown`` in messages): the
    table, or the problems that stop it (each with its line)."""
    table, _, problems = _load(path, relative, shown)
    return table, problems


def _load(path: str | Path, relative: str, shown: str) -> tuple[Table | None, Parsed | None, list[ConfigProblem]]:
    """``load_table``, with the parsed file (for the lines of the catalog's checks)."""
    if not relative.endswith(".yml"):
        return None, None, [ConfigProblem(shown, 1, "table configs end in .yml (rename the file)")]
    try:
        table_id = TableId.parse(relative.removesuffix(".yml"))
    except (ValueError, ValidationError) as error:
        return None, None, [ConfigProblem(shown, 1, f"not where a table config belongs: {first_message(error)}")]
    parsed, problems = _parse_file(path, shown)
    if parsed is None:
        return None, None, problems
    if not isinstance(parsed.data, dict):
        kind = "an empty file" if parsed.data is None else type(parsed.data).__name__
        return None, None, [ConfigProblem(shown, 1, f"expected a mapping of config keys, got {kind}")]
    try:
        config = TableConfig.model_validate(parsed.data)
    except ValidationError as error:
        located = [ConfigProblem(shown, *locate(e, parsed)) for e in error.errors()]
        return None, None, _bounded(list(dict.fromkeys(located)))
    problems = [
        ConfigProblem(shown, parsed.line(where), message) for where, message in cross_field_problems(table_id, config)
    ]
    if problems:
        return None, None, _bounded(problems)
    return Table(id=table_id, config=config, source_file=shown), parsed, []


def _parse_file(path: str | Path, shown: str) -> tuple[Parsed | None, list[ConfigProblem]]:
    """The file parsed, or why it cannot be: unreadable, over ``MAX_BYTES``, not UTF-8, not YAML we take."""
    try:
        with open(path, "rb") as file:  # bytes, decoded once: a text-mode reader costs a quarter more per file
            data = file.read(_FIRST_READ)  # a small buffer: a 1 MiB one per file costs the kernel a page map each
            if len(data) == _FIRST_READ:
                data += file.read(MAX_BYTES + 1 - _FIRST_READ)
        if len(data) > MAX_BYTES:
            return None, [ConfigProblem(shown, 0, f"over {MAX_BYTES >> 20} MiB; a table config is a few lines")]
        text = data.decode("utf-8")
        return parse_yaml(text.replace("\r\n", "\n") if "\r" in text else text), []
    except YamlProblem as problem:
        return None, [ConfigProblem(shown, problem.line, problem.message)]
    except UnicodeDecodeError:
        return None, [ConfigProblem(shown, 1, "not UTF-8 text")]
    except OSError as error:
        return None, [ConfigProblem(shown, 0, f"cannot read this file ({read_problem(error)})")]


def _bounded(problems: list[ConfigProblem]) -> list[ConfigProblem]:
    """The first ``MAX_PROBLEMS`` of a file's problems, and a line saying how many more there are."""
    if len(problems) <= MAX_PROBLEMS:
        return problems
    rest = len(problems) - MAX_PROBLEMS
    last = problems[MAX_PROBLEMS - 1]
    return [*problems[:MAX_PROBLEMS], ConfigProblem(last.path, last.line, f"and {rest} more problem(s) in this file")]
