"""validate refuses, at path:line, what AWS Batch would refuse of a table's steps: a job name over 128
characters, a SubmitJob request over 30 KiB, a job definition the stack does not create (a warning when an
image parameter would create it)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml
from fakes.batch import rejection

from databridge_pipeline.cli import main
from databridge_pipeline.cli.config_commands import TEMPLATE, stack_job_definitions
from databridge_pipeline.configs.batch_limits import (
    JOB_NAME,
    MAX_JOB_NAME,
    MAX_REQUEST_BYTES,
    StackJobDefinitions,
    request_bytes,
)
from databridge_pipeline.configs.loader import check_tables, load_tables
from databridge_pipeline.configs.planned import LONGEST_RUN_ID, plan, settings
from databridge_pipeline.domain.job_requests import JobRequest, job_request, plan_steps
from databridge_pipeline.domain.run_request import RUN_ID_PATTERN
from databridge_pipeline.domain.tables import TableId

LOADED = "upload_to_carto: true\ncarto_users:\n  - publicuser\n"
AIRTABLE_CHAIN = (
    "carto_users: [publicuser]\n"
    "steps:\n"
    "  - kind: airtable_extract\n"
    "  - kind: ais_geocode\n"
    "    query_fields: [street_address]\n"
    "    ais_fields: [lat, lon]\n"
    "  - kind: carto_load\n"
)


def write(root: Path, relative: str, text: str) -> Path:
    path = root / relative
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def found(root: Path, stack: StackJobDefinitions | None = None) -> list[str]:
    """Every problem as ``path:line: message``, paths relative to ``root``."""
    _, problems = check_tables(root, deployable=True, stack=stack)
    return [str(p).removeprefix(f"{root}/") for p in problems]


def test_a_job_name_of_128_characters_is_taken_and_one_of_129_refused_at_line_1(tmp_path):
    longest = "t" * (MAX_JOB_NAME - len("extract_lni_"))
    write(tmp_path, f"databridge/lni/{longest}.yml", LOADED)
    write(tmp_path, f"databridge/opa/{longest}x.yml", LOADED)

    problems = found(tmp_path)

    assert len(problems) == 1
    assert problems[0].startswith(f"databridge/opa/{longest}x.yml:1: the extract step's job name 'extract_opa_ttt")
    assert "is 129 characters; AWS Batch takes at most 128: shorten the table's name" in problems[0]
    assert [str(t.id) for t in load_tables(tmp_path, deployable=False)] == [
        f"databridge/lni/{longest}",
        f"databridge/opa/{longest}x",
    ], "the plain load (the CLI's other commands) leaves Batch's limits to validate and the manifest build"


@pytest.mark.parametrize(
    ("folder", "job_name_length"),
    [("databridge/lni", 127), ("airtable/lni", 129), ("knack/carto_phl/ppr", 122)],
)
def test_a_130_character_table_id_is_a_valid_id_and_refused_exactly_when_its_job_name_is_too_long(
    tmp_path, folder, job_name_length
):
    table_id = f"{folder}/" + "n" * (130 - len(folder) - 1)
    assert len(table_id) == 130
    assert str(TableId.parse(table_id)) == table_id, "TableId caps no length: the job name rule must"
    knack = "knack_object_id: 5\nknack_conn_id: knack\n" if folder.startswith("knack") else ""
    write(tmp_path, f"{table_id}.yml", f"schedule_interval: 0 5 * * *\n{knack}{LOADED}")
    (table,) = load_tables(tmp_path)
    names = [s.request.job_name for steps in plan(table, lambda _: 1).steps.values() for s in steps]
    assert max(map(len, names)) == job_name_length

    tables, problems = check_tables(tmp_path, deployable=True)

    if job_name_length <= MAX_JOB_NAME:
        assert (problems, [str(t.id) for t in tables]) == ([], [table_id]), "Batch takes a name this long"
        return
    assert tables == []
    assert [(p.path.removeprefix(f"{tmp_path}/"), p.line) for p in problems] == [(f"{table_id}.yml", 1)]
    assert f"is {job_name_length} characters; AWS Batch takes at most 128" in problems[0].message


def test_a_knack_test_table_stages_and_names_its_jobs_under_schema_test_so_its_names_are_longer(tmp_path):
    name = "k" * (MAX_JOB_NAME - len("extract_ppr_test_") + 1)  # 128 as a knack table, 129 as a knack_test one
    knack = "knack_object_id: 5\nupload_to_carto: true\ncarto_users: [publicuser]\nknack_conn_id: "
    write(tmp_path, f"knack/carto_phl/ppr/{name}.yml", knack + "knack\n")
    write(tmp_path, f"knack/carto_gsg/ppr/{name}.yml", knack + "knack_test\n")

    problems = found(tmp_path)

    assert len(problems) == 1
    assert problems[0].startswith(f"knack/carto_gsg/ppr/{name}.yml:1: the extract step's job name 'extract_ppr_test_")


def test_a_request_over_30_kib_is_refused_at_the_key_that_makes_it_long(tmp_path):
    users = "".join(f"  - user_{n:05}\n" for n in range(3000))
    write(
        tmp_path,
        "databridge/lni/many_users.yml",
        "schedule_interval: false\nupload_to_carto: true\ncarto_users:\n" + users,
    )
    some = "".join(f"  - user_{n:05}\n" for n in range(100))
    write(tmp_path, "databridge/lni/some_users.yml", "upload_to_carto: true\ncarto_users:\n" + some)

    tables, problems = check_tables(tmp_path, deployable=True)

    assert [str(t.id) for t in tables] == ["databridge/lni/some_users"]
    (problem,) = problems
    table = next(t for t in load_tables(tmp_path) if t.id.name == "many_users")
    sizes = [request_bytes(s.request) for steps in plan(table, lambda _: 1).steps.values() for s in steps]
    size = max(sizes)
    assert size > MAX_REQUEST_BYTES
    assert (problem.line, problem.severity) == (3, "error"), "the carto_users key"
    assert problem.message == (
        f"the load step's SubmitJob request is {size:,} bytes; AWS Batch takes at most 30,720 (30 KiB): "
        "shorten carto_users"
    )


def test_a_long_step_option_is_pointed_at(tmp_path):
    columns = ", ".join(f"column_{n:05}" for n in range(3000))
    text = AIRTABLE_CHAIN.replace(
        "ais_fields: [lat, lon]\n", f"ais_fields: [lat, lon]\n    remove_fields: [{columns}]\n"
    )
    write(tmp_path, "airtable/lni/wide.yml", text)

    (problem,) = found(tmp_path)

    assert problem.startswith("airtable/lni/wide.yml:7: the geocode step's SubmitJob request is ")
    assert problem.endswith("shorten remove_fields")


def test_the_worst_case_run_id_is_the_longest_a_run_request_takes():
    assert re.fullmatch(RUN_ID_PATTERN, LONGEST_RUN_ID)
    assert not re.fullmatch(RUN_ID_PATTERN, LONGEST_RUN_ID + "0")


@pytest.mark.parametrize(
    ("name", "taken"),
    [("extract_lni_x", True), ("a" * 128, True), ("a" * 129, False), ("_extract", False), ("load.lni", False)],
)
def test_the_job_name_rule_is_the_one_the_fake_batch_refuses_by(name, taken, tmp_path):
    write(tmp_path, "databridge/lni/x.yml", LOADED)
    (table,) = load_tables(tmp_path)
    step = plan_steps(table, "legacy")[0]
    request = job_request(table, step, settings("legacy"), "run").model_copy(update={"job_name": name})

    assert bool(JOB_NAME.fullmatch(name)) == taken
    assert (rejection(request, None) is None) == taken


def test_the_size_rule_is_the_one_the_fake_batch_refuses_by(tmp_path):
    write(tmp_path, "databridge/lni/x.yml", LOADED)
    (table,) = load_tables(tmp_path)
    request = job_request(table, plan_steps(table, "legacy")[-1], settings("legacy"), "run")

    def padded(length: int) -> JobRequest:
        return request.model_copy(update={"environment": {**request.environment, "PAD": "p" * length}})

    room = MAX_REQUEST_BYTES - request_bytes(padded(0))  # each "p" is one byte more
    assert request_bytes(padded(room)) == MAX_REQUEST_BYTES
    assert rejection(padded(room), None) is None
    assert f"is {MAX_REQUEST_BYTES + 1} bytes" in str(rejection(padded(room + 1), None))


# --- job definitions: which ones the stack creates, read from template.yaml ---------------------------------


def test_a_default_legacy_stack_creates_no_airtable_or_geocoder_job_definitions_and_says_which_parameter_would():
    stack = stack_job_definitions(TEMPLATE, "legacy", [])

    airtable = settings("legacy").job_definition("airtable_extract", "airtable")
    geocode = settings("legacy").job_definition("ais_geocode", "ais")
    assert airtable not in stack.created and geocode not in stack.created
    assert stack.created_by == {airtable: "ExtractAirtableImage", geocode: "BatchGeocoderImage"}
    assert settings("legacy").job_definition("databridge_extract", "databridge") in stack.created
    given = stack_job_definitions(TEMPLATE, "legacy", ["ExtractAirtableImage"])
    assert airtable in given.created and given.created_by == {geocode: "BatchGeocoderImage"}
    current = stack_job_definitions(TEMPLATE, "current", [])
    assert {airtable, geocode} <= current.created and current.created_by == {}


def test_a_step_needing_an_image_parameter_is_a_warning_at_its_line_and_one_no_parameter_creates_an_error(tmp_path):
    write(tmp_path, "airtable/lni/chain.yml", AIRTABLE_CHAIN)
    write(tmp_path, "airtable/lni/plain.yml", "schedule_interval: false\n")
    every = stack_job_definitions(TEMPLATE, "legacy", [])
    without_geocoder = StackJobDefinitions(
        "legacy", every.created, {k: v for k, v in every.created_by.items() if v != "BatchGeocoderImage"}
    )

    tables, problems = check_tables(tmp_path, stack=without_geocoder)

    shown = [(p.path.removeprefix(f"{tmp_path}/"), p.line, p.severity, p.message.split(" (")[0]) for p in problems]
    assert shown == [
        ("airtable/lni/chain.yml", 3, "warning", "airtable_extract needs the stack parameter ExtractAirtableImage"),
        ("airtable/lni/chain.yml", 4, "error", "ais_geocode runs in job definition "
         "databridge-pipeline-prod-ais-geocode-ais, which a legacy stack does not create with any parameters: "
         "every run would fail at SubmitJob"),
        ("airtable/lni/plain.yml", 1, "warning", "airtable_extract needs the stack parameter ExtractAirtableImage"),
    ]  # fmt: skip
    assert [str(t.id) for t in tables] == ["airtable/lni/plain"], "a warning leaves the table valid"


def without_resource(tmp_path: Path, name: str) -> Path:
    """A copy of template.yaml without one resource (intrinsics kept as the mappings load_template reads)."""
    from databridge_pipeline.local.template_spec import load_template

    template = load_template(TEMPLATE)
    del template["Resources"][name]
    path = tmp_path / "template.yaml"
    path.write_text(yaml.safe_dump(template))
    return path


# --- the CLI ------------------------------------------------------------------------------------------------


@pytest.fixture
def airtable_table(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("COMMAND_SET", raising=False)
    write(tmp_path, "configs/airtable/lni/permits.yml", "schedule_interval: 0 5 * * *\n")
    return tmp_path


WARNING = (
    "configs/airtable/lni/permits.yml:1: warning: airtable_extract needs the stack parameter ExtractAirtableImage "
    "(empty by default); without it every run fails at SubmitJob with an alert "
    "(if the stack sets it: validate --image ExtractAirtableImage)"
)


def test_validate_warns_of_an_airtable_table_on_a_default_legacy_stack_and_exits_0(airtable_table, capsys):
    assert main(["validate", "--configs", "configs"]) == 0

    out = capsys.readouterr()
    assert out.err.splitlines() == [WARNING, "1 warning(s) in 1 file(s)"]
    assert out.out == "1 table config(s) valid\n"


def test_validate_image_says_the_stack_sets_it_and_the_warning_goes(airtable_table, capsys):
    assert main(["validate", "--configs", "configs", "--image", "ExtractAirtableImage"]) == 0

    out = capsys.readouterr()
    assert (out.err, out.out) == ("", "1 table config(s) valid\n")


def test_validate_strict_makes_the_warning_an_error(airtable_table, capsys):
    assert main(["validate", "--configs", "configs", "--strict"]) == 1

    assert capsys.readouterr().err.splitlines() == [
        WARNING.replace(": warning: ", ": "),
        "1 problem(s) in 1 file(s); 0 table(s) valid",
    ]


def test_validate_command_set_current_checks_the_current_stack_which_has_the_airtable_tool(airtable_table, capsys):
    assert main(["validate", "--configs", "configs", "--command-set", "current", "--strict"]) == 0

    assert capsys.readouterr().err == ""


def test_validate_refuses_an_image_parameter_the_template_does_not_have(airtable_table, capsys):
    assert main(["validate", "--configs", "configs", "--image", "ExtractAirtableImag"]) == 2

    assert "--image 'ExtractAirtableImag': not an image parameter the stack may leave empty" in capsys.readouterr().err


def test_validate_errs_on_a_step_whose_job_definition_no_parameter_creates(airtable_table, capsys):
    template = without_resource(airtable_table, "AirtableExtractJobDefinition")

    assert (
        main(["validate", "--configs", "configs", "--template", str(template), "--image", "ExtractAirtableImage"]) == 1
    )

    assert capsys.readouterr().err.splitlines() == [
        "configs/airtable/lni/permits.yml:1: airtable_extract runs in job definition "
        "databridge-pipeline-prod-airtable-extract-airtable, which a legacy stack does not create with any "
        "parameters: every run would fail at SubmitJob",
        "1 problem(s) in 1 file(s); 0 table(s) valid",
    ]


def test_validate_says_so_when_the_template_is_not_one(airtable_table, capsys):
    (airtable_table / "template.yaml").write_text("- not\n- a template\n")

    assert main(["validate", "--configs", "configs", "--template", "template.yaml"]) == 1

    assert (
        capsys.readouterr().err.strip()
        == "databridge-pipeline validate: template.yaml: not a SAM template (no Parameters)"
    )
