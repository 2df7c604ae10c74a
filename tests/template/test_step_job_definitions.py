"""template.yaml runs each step kind and connection in its own job definition: the image pinned for the command
set, and the secret of exactly that connection, read through an execution role that can read nothing else."""

from __future__ import annotations

import json
import re
from importlib import resources
from pathlib import Path
from typing import Any

import pytest
import yaml

from databridge_pipeline.domain.connections import CONNECTIONS, connections_of_type
from databridge_pipeline.domain.settings import settings_for
from databridge_pipeline.domain.step_kinds import STEP_NAMES, step_kinds
from databridge_pipeline.local.template_spec import Resolver, load_template

TEMPLATE = Path(__file__).resolve().parents[2] / "template.yaml"
FACTS: dict[str, Any] = yaml.safe_load(
    (resources.files("databridge_pipeline.domain") / "command_templates" / "cli_facts.yml").read_text()
)
IMAGE_PARAMETERS = {name for images in FACTS["images"].values() for name in images.values()}


@pytest.fixture(scope="module")
def template() -> dict[str, Any]:
    return load_template(TEMPLATE)


def job_definitions(template: dict[str, Any], command_set: str) -> tuple[Resolver, dict[str, dict[str, Any]]]:
    """The job definitions a prod stack of ``command_set`` creates (every image given), by name."""
    resolver = Resolver(template, "prod", "123456789012", "us-east-1")
    resolver.values["CommandSet"] = command_set
    resolver.values |= {name: f"<{name}>" for name in IMAGE_PARAMETERS}
    created = {
        resolver.resolve(resource["Properties"]["JobDefinitionName"]): resource["Properties"]
        for resource in template["Resources"].values()
        if resource["Type"] == "AWS::Batch::JobDefinition"
        and ("Condition" not in resource or resolver.condition(resource["Condition"]))
    }
    return resolver, created


def secret_parameter(connection: str) -> str:
    """The template parameter naming a connection's secret: ``knack_test`` -> ``KnackTestSecretName``."""
    return "".join(part.title() for part in connection.split("_")) + "SecretName"


SECRET_ARN = "arn:aws:secretsmanager:us-east-1:123456789012:secret:"


@pytest.mark.parametrize("command_set", ["legacy", "current"])
def test_each_step_kind_has_a_job_definition_per_connection_with_its_sets_image_and_only_that_connections_secret(
    template, command_set
):
    resolver, created = job_definitions(template, command_set)
    resolver.values |= {secret_parameter(c): f"secret-of-{c}" for c in CONNECTIONS}
    settings = settings_for("prod", {"COMMAND_SET": command_set})
    runs = {name: kind for name, kind in step_kinds().items() if kind.command(command_set) is not None}
    expected = {
        settings.job_definition(name, connection): (kind, connection)
        for name, kind in runs.items()
        for connection in connections_of_type(kind.connection)
    }

    assert set(created) == set(expected)
    for definition, (kind, connection) in expected.items():
        container = created[definition]["ContainerProperties"]
        command = kind.command(command_set)
        assert command is not None
        assert resolver.resolve(container["Image"]) == f"<{FACTS['images'][command_set][command[0]]}>", definition
        fields = CONNECTIONS[connection].fields.values()
        assert {(s["Name"], resolver.resolve(s["ValueFrom"])) for s in container["Secrets"]} == {
            (f.env_var, f"{SECRET_ARN}secret-of-{connection}:{f.json_key}::") for f in fields
        }, definition
        role_name = container["ExecutionRoleArn"]["Fn::GetAtt"][0]
        assert readable_secrets(template, resolver, role_name) == {f"{SECRET_ARN}secret-of-{connection}-??????"}


def readable_secrets(template: dict[str, Any], resolver: Resolver, role_name: str) -> set[str]:
    """The secrets an execution role's inline policies let it read."""
    role = template["Resources"][role_name]["Properties"]
    statements = [s for p in role["Policies"] for s in p["PolicyDocument"]["Statement"]]
    assert all(s["Action"] == "secretsmanager:GetSecretValue" for s in statements), role_name
    resources = [resolver.resolve(s["Resource"]) for s in statements]
    return {r for item in resources for r in (item if isinstance(item, list) else [item])}


def test_every_connection_has_a_secret_parameter_whose_default_is_the_mapped_secret(template):
    for connection in CONNECTIONS.values():
        parameter = template["Parameters"][secret_parameter(connection.conn_id)]

        assert parameter.get("Default") in (connection.secret_name, None), connection.conn_id


def test_each_image_parameter_of_the_current_set_names_the_commit_its_commands_were_checked_against(template):
    for program, parameter in FACTS["images"]["current"].items():
        commit = FACTS["tools"][program]["commit"]

        assert commit[:8] in template["Parameters"][parameter]["Description"], parameter


def test_a_legacy_stack_without_the_airtable_and_geocoder_images_creates_no_job_definitions_for_them(template):
    resolver = Resolver(template, "prod", "123456789012", "us-east-1")

    assert not resolver.condition("HasAirtableTool")
    assert not resolver.condition("HasGeocoderTool")
    resolver.values["ExtractAirtableImage"] = "123456789012.dkr.ecr.us-east-1.amazonaws.com/extract-airtable:1"
    assert resolver.condition("HasAirtableTool")


def test_the_dashboard_charts_every_step_name(template):
    body = template["Resources"]["Dashboard"]["Properties"]["DashboardBody"]["Fn::Sub"][0]
    widgets = json.loads(re.sub(r"\$\{[^}]+\}", "x", body))["widgets"]
    (steps,) = [w for w in widgets if w["properties"].get("title", "").startswith("Steps by outcome")]
    named = {word for metric in steps["properties"]["metrics"] for word in metric if isinstance(word, str)}

    assert set(STEP_NAMES) <= named
