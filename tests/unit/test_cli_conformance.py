"""The current set's commands against the City's CLIs, as command_templates/cli_facts.yml records them.

A small parser in click's manner (a group's options before its command, the command's after it) reads
every command the current set generates, for every example table and every step kind.
"""

from __future__ import annotations

import re
import shlex
from importlib import resources
from pathlib import Path
from typing import Any

import pytest
import yaml

from databridge_pipeline.configs.loader import load_tables
from databridge_pipeline.domain.job_requests import plan_steps, run_job_requests
from databridge_pipeline.domain.settings import settings_for
from databridge_pipeline.domain.step_kinds import StepEntry, step_kinds
from databridge_pipeline.domain.tables import Table, TableConfig, TableId

FACTS: dict[str, Any] = yaml.safe_load(
    (resources.files("databridge_pipeline.domain") / "command_templates" / "cli_facts.yml").read_text()
)
CURRENT = settings_for("prod", {"COMMAND_SET": "current"})
EXAMPLES = Path(__file__).resolve().parents[2] / "table_configs"
SHARED = Path(__file__).resolve().parents[3] / "shared" / "legacy-databridge-airflow" / "dags"


def conformance_problems(argv: list[str]) -> list[str]:
    """Why click, at the recorded commit, would refuse ``argv`` or not do what we mean; [] when it is fine."""
    tool = FACTS["tools"].get(argv[0])
    if tool is None:
        return [f"no facts about program {argv[0]!r}"]
    rest = argv[1:]
    if "groups" in tool:
        if not rest or rest[0] not in tool["groups"]:
            return [f"{argv[0]}: no group {rest[0] if rest else None!r} (groups: {', '.join(tool['groups'])})"]
        group = tool["groups"][rest[0]]
        given, rest, problems = _options(rest[1:], group["options"], stop_at_argument=True)
        if not rest or rest[0] not in group["commands"]:
            found = rest[0] if rest else None
            return [*problems, f"{argv[1]}: no command {found!r} (commands: {', '.join(group['commands'])})"]
        command = group["commands"][rest[0]] or {}
        more, arguments, more_problems = _options(rest[1:], command.get("options", {}), stop_at_argument=False)
        problems += more_problems + [f"{rest[0]}: unexpected argument {a!r}" for a in arguments]
        given |= more
        problems += _required(group["options"], given) + _required(command.get("options", {}), given)
    else:
        if not rest or rest[0] not in tool["commands"]:
            return [f"{argv[0]}: no command {rest[0] if rest else None!r}"]
        command = tool["commands"][rest[0]]
        given, arguments, problems = _options(rest[1:], command.get("options", {}), stop_at_argument=False)
        names = command.get("arguments", [])
        if len(arguments) != len(names):
            problems.append(f"{rest[0]}: {len(arguments)} arguments, expected {len(names)} ({', '.join(names)})")
        for name, value in zip(names, arguments, strict=False):
            pattern = command.get("argument_values", {}).get(name)
            if pattern and not re.match(pattern, value):
                problems.append(f"{rest[0]}: argument {name} {value!r} does not match {pattern}")
        problems += _required(command.get("options", {}), given)
    problems += [f"{rest[0]}: needs {name}" for name in command.get("needs", []) if name not in given]
    return problems


def _options(
    words: list[str], specs: dict[str, Any], stop_at_argument: bool
) -> tuple[dict[str, str], list[str], list[str]]:
    """Options given (name -> value), the words left (a group stops at its command), and problems."""
    given: dict[str, str] = {}
    arguments: list[str] = []
    problems: list[str] = []
    index = 0
    while index < len(words):
        word = words[index]
        if not word.startswith("-"):
            if stop_at_argument:
                return given, words[index:], problems
            arguments.append(word)
            index += 1
            continue
        name, has_value, value = word.partition("=")
        spec = specs.get(name)
        if spec is None:
            problems.append(f"no such option {name} (here: {', '.join(specs) or 'none'})")
            index += 1
            continue
        spec = spec or {}
        if spec.get("flag"):
            if has_value:
                problems.append(f"{name} is a flag and takes no value")
            given[name] = ""
            index += 1
            continue
        if not has_value:
            if index + 1 >= len(words):
                problems.append(f"{name} requires a value")
                break
            value = words[index + 1]
            index += 1
        index += 1
        pattern = spec.get("value")
        if pattern and not re.match(pattern, value):
            problems.append(f"{name} {value!r} does not match {pattern}: {spec.get('why', '')}")
        given[name] = value
    return given, arguments, problems


def _required(specs: dict[str, Any], given: dict[str, str]) -> list[str]:
    return [
        f"missing required {name}" for name, spec in specs.items() if (spec or {}).get("required") and name not in given
    ]


def argv(command: list[str]) -> list[str]:
    assert command[:2] == ["bash", "-c"]
    words = shlex.split(command[2])
    assert words[0] == "exec"
    return words[1:]


def table(table_id: str, **config: object) -> Table:
    return Table(id=TableId.parse(table_id), config=TableConfig.model_validate(config))


# Tables that between them use every step kind and every optional argument.
COVERAGE = [
    table("databridge/311/service_requests", upload_to_carto=True, carto_users=["publicuser"], indexes=["id", "ts"]),
    table(
        "knack/carto_gsg/ppr/ppr_programs",
        upload_to_carto=True,
        carto_users=["publicuser"],
        knack_object_id=5,
        knack_conn_id="knack_test",
        carto_conn_id="carto_gsg",
    ),
    table(
        "airtable/oia/services",
        carto_users=["publicuser"],
        steps=[
            StepEntry(kind="airtable_extract"),
            StepEntry.model_validate(
                {"kind": "ais_geocode", "query_fields": ["a", "b"], "ais_fields": ["lat"], "remove_fields": ["b"]}
            ),
            StepEntry(kind="carto_load"),
        ],
    ),
]


def every_table() -> list[Table]:
    return load_tables(EXAMPLES) + COVERAGE


@pytest.mark.parametrize("subject", every_table(), ids=lambda t: str(t.id))
def test_every_current_command_of_every_table_satisfies_the_facts(subject):
    for request in run_job_requests(subject, CURRENT, "r"):
        assert conformance_problems(argv(request.command)) == [], f"{subject.id} step {request.step}"


@pytest.mark.skipif(not SHARED.is_dir(), reason="the legacy configs live in ../shared beside the clone")
def test_every_current_command_of_the_98_legacy_tables_satisfies_the_facts(tmp_path):
    for path in (SHARED / "databridge_dag_config").glob("*/*.yml"):
        (tmp_path / "databridge" / path.parent.name).mkdir(parents=True, exist_ok=True)
        (tmp_path / "databridge" / path.parent.name / path.name).write_bytes(path.read_bytes())
    for path in (SHARED / "knack_dag_config").glob("*/*/*.yml"):
        target = tmp_path / "knack" / path.parent.parent.name / path.parent.name / path.name
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(path.read_bytes())

    tables = load_tables(tmp_path)

    assert len(tables) == 98
    for subject in tables:
        for request in run_job_requests(subject, CURRENT, "r"):
            assert conformance_problems(argv(request.command)) == [], f"{subject.id} step {request.step}"


def test_the_tables_checked_cover_every_step_kind_the_current_set_runs():
    covered = {step.kind.kind for t in every_table() for step in plan_steps(t, "current")}

    assert covered == {name for name, kind in step_kinds().items() if kind.command("current") is not None}


def test_the_schema_step_writes_where_the_load_reads_by_the_tools_own_rule():
    (subject,) = [t for t in COVERAGE if t.id.source == "databridge"]
    _, schema, load = (argv(r.command) for r in run_job_requests(subject, CURRENT, "r"))
    rule = FACTS["tools"]["databridge_etl_tools"]["groups"]["postgres"]["commands"]["extract-json-schema"]
    rule = rule["writes_schema"]

    written = schema[schema.index(rule["from"]) + 1]
    for old, new in rule["replace"]:
        written = written.replace(old, new)

    assert load[load.index("--json_schema_s3_key") + 1] == written == "schemas/311/service_requests_new.json"


@pytest.mark.parametrize(
    ("command", "problem"),
    [
        (
            "databridge_etl_tools knack --app_id a --api_key k --knack_objectid 32 --s3_bucket b --s3_key k extract",
            "--knack_objectid '32' does not match",
        ),
        ("databridge_etl_tools ais_geocoder --s3-bucket b geocode", "no group 'ais_geocoder'"),
        ("databridge_etl_tools carto --table_name t --s3_bucket b --s3_key k update", "missing required"),
        ("databridge_etl_tools airtable --api_key k --table_name t extract", "no such option --api_key"),
        ("databridge_etl_tools postgres --connection_string c --table_name t --table_schema s extract", "needs"),
        (
            "databridge_etl_tools postgres --connection_string c --table_name t --table_schema s extract_json_schema",
            "no command 'extract_json_schema'",
        ),
        ("databridge_etl_tools ais-geocoder --s3_bucket b geocode", "no such option --s3_bucket"),
        ("extract-knack generate-schema a k object_5 --s3_bucket b --s3_key k", "argument object_id 'object_5'"),
        ("extract-knack generate-schema a k --s3_bucket b --s3_key k", "2 arguments, expected 3"),
        (
            "databridge_etl_tools postgres --connection_string c --table_name t --table_schema s load --create_table=1",
            "--create_table is a flag",
        ),
    ],
)
def test_the_checker_refuses_what_the_tools_would_refuse(command, problem):
    found = conformance_problems(shlex.split(command))

    assert any(problem in p for p in found), found


def test_the_facts_name_the_commits_they_were_read_at():
    for name, tool in FACTS["tools"].items():
        assert re.fullmatch(r"[0-9a-f]{40}", tool["commit"]), name
        assert tool["repository"].startswith("CityOfPhiladelphia/"), name
