"""What a deploy gives the stack: every parameter named by the workflow (samconfig.toml's list for the
environment plus the account's values, one variable each), no default that is a production name, and the
template's checks refusing a dev stack that names a production destination: as a name, as an ARN, or as the
full name of prod's secret."""

from __future__ import annotations

import re
import shlex
import tomllib
from pathlib import Path
from typing import Any

import pytest
import yaml
from cfn_rules import refusals
from samcli.cli.types import CfnParameterOverridesType

from databridge_pipeline.local.template_spec import load_template

ROOT = Path(__file__).resolve().parents[2]
WORKFLOW = ROOT / ".github" / "workflows" / "deploy.yml"
DEPLOY_JOBS = {"dev": "deploy-dev", "prod": "changeset-prod"}
# The account's own values: not in the repository, one GitHub environment variable each.
ACCOUNT_PARAMETERS = {
    "SubnetIds", "SecurityGroupIds", "AssignPublicIp", "EtlToolsImage", "ExtractKnackImage", "CurrentEtlToolsImage",
    "ExtractAirtableImage", "BatchGeocoderImage", "AlarmEmail", "ChatbotSlackWorkspaceId", "ChatbotSlackChannelId",
}  # fmt: skip
IMAGE = "123456789012.dkr.ecr.us-east-1.amazonaws.com/databridge-etl-tools:legacy"
# An account's variables as an operator would set them; the optional ones empty.
ACCOUNT = {
    "SUBNET_IDS": "subnet-0a1b2c3d,subnet-4e5f6a7b", "SECURITY_GROUP_IDS": "sg-0123456789abcdef0",
    "ASSIGN_PUBLIC_IP": "DISABLED", "ETL_TOOLS_IMAGE": IMAGE, "EXTRACT_KNACK_IMAGE": IMAGE,
    "CURRENT_ETL_TOOLS_IMAGE": "", "EXTRACT_AIRTABLE_IMAGE": "", "BATCH_GEOCODER_IMAGE": "", "ALARM_EMAIL": "",
    "CHATBOT_SLACK_WORKSPACE_ID": "", "CHATBOT_SLACK_CHANNEL_ID": "",
}  # fmt: skip
DEV_ACCOUNT = {**ACCOUNT, "S3_BUCKET": "citygeo-databridge-pipeline-dev"}
PROD_ACCOUNT = {**ACCOUNT, "ALARM_EMAIL": "citygeo-oncall@phila.gov"}
# The names only prod may use: its staging bucket, its channel, its Carto secrets.
PROD_DESTINATIONS = ("S3Bucket", "SlackChannel", "CartoPhlSecretName", "CartoGsgSecretName")
PROD_CARTO_ARN = "arn:aws:secretsmanager:us-east-1:123456789012:secret:carto-prod"


@pytest.fixture(scope="module")
def template() -> dict[str, Any]:
    return load_template(ROOT / "template.yaml")


def samconfig(environment: str) -> dict[str, str]:
    config = tomllib.loads((ROOT / "samconfig.toml").read_text())
    listed = config[environment]["deploy"]["parameters"]["parameter_overrides"]
    return dict(CfnParameterOverridesType().convert(listed, None, None))


def deploy_step(environment: str) -> dict[str, Any]:
    workflow: dict[str, Any] = yaml.safe_load(WORKFLOW.read_text())
    [step] = [s for s in workflow["jobs"][DEPLOY_JOBS[environment]]["steps"] if "sam deploy" in s.get("run", "")]
    return step


def deployed(environment: str, variables: dict[str, str]) -> tuple[dict[str, str], set[str]]:
    """The parameters the workflow's sam deploy gives, as sam parses them, with the environment's variables set
    to ``variables``; and the names of the parameters whose value came from a variable."""
    step = deploy_step(environment)
    for name, value in step["env"].items():
        assert value == f"${{{{ vars.{name} }}}}", f"{name}: one variable of the same name"
    words = shlex.split(step["run"])
    overrides = words[words.index("--parameter-overrides") + 1 :]
    assert not any(word.startswith("--") for word in overrides), "the overrides come last"
    from_variables = {word.split("=", 1)[0] for word in overrides if "${" in word}
    for word in overrides:
        assert set(re.findall(r"\$\{(\w+)\}", word)) <= set(step["env"]), word
    expanded = [re.sub(r"\$\{(\w+)\}", lambda m: variables[m.group(1)], word) for word in overrides]
    return dict(CfnParameterOverridesType().convert(tuple(expanded), None, None)), from_variables


@pytest.mark.parametrize("environment", ["dev", "prod"])
def test_each_deploy_names_every_parameter_so_none_keeps_a_previous_value_or_falls_back_to_a_default(
    template, environment
):
    # sam deploy passes UsePreviousValue for a parameter it is not given: a parameter left out would keep
    # whatever the stack had, or take the template's default on a first deploy.
    given, _ = deployed(environment, DEV_ACCOUNT if environment == "dev" else PROD_ACCOUNT)

    assert set(given) == set(template["Parameters"])
    assert given["Environment"] == environment


@pytest.mark.parametrize("environment", ["dev", "prod"])
def test_the_workflow_passes_samconfigs_list_word_for_word_and_only_the_accounts_values_from_variables(environment):
    given, from_variables = deployed(environment, DEV_ACCOUNT if environment == "dev" else PROD_ACCOUNT)
    listed = samconfig(environment)

    assert {name: given[name] for name in listed} == listed
    assert from_variables == ACCOUNT_PARAMETERS | ({"S3Bucket"} if environment == "dev" else set())
    assert set(given) == set(listed) | from_variables and not set(listed) & from_variables


def test_no_parameter_that_names_a_destination_a_channel_or_a_secret_has_a_default(template):
    naming = [name for name in template["Parameters"] if name.endswith(("SecretName", "Bucket", "Channel"))]

    assert len(naming) == 10
    for name in naming:
        assert "Default" not in template["Parameters"][name], f"{name}: a stack would fall back to it"


def test_no_default_is_a_name_prod_gives_anything(template):
    prod = samconfig("prod")
    prod_names = {value for name, value in prod.items() if not value.isdigit() and value not in ("legacy", "auto")}
    prod_names -= {"prod", "false"}

    assert "#databridge-pipeline" in prod_names and "carto-prod" in prod_names
    for name, spec in template["Parameters"].items():
        assert str(spec.get("Default")) not in prod_names, f"{name} defaults to prod's {spec['Default']}"


def test_the_rule_refuses_in_dev_exactly_the_names_prod_uses_for_its_destinations(template):
    rule = str(template["Rules"]["DevNeverTouchesProd"])
    prod = samconfig("prod")

    for name in PROD_DESTINATIONS:
        assert prod[name] in rule, f"prod's {name} {prod[name]} is not refused in dev"


@pytest.mark.parametrize("environment", ["dev", "prod"])
def test_what_each_deploy_gives_passes_the_templates_checks(template, environment):
    given, _ = deployed(environment, DEV_ACCOUNT if environment == "dev" else PROD_ACCOUNT)

    assert refusals(template, given) == []


@pytest.mark.parametrize(
    ("parameter", "value", "refused_by"),
    [
        ("CartoPhlSecretName", "carto-prod", "DevNeverTouchesProd"),
        ("CartoGsgSecretName", "carto-dev", "DevNeverTouchesProd"),
        ("CartoPhlSecretName", PROD_CARTO_ARN, "CartoPhlSecretName"),  # an ARN is not a name
        ("CartoPhlSecretName", f"{PROD_CARTO_ARN}-AbCdEf", "CartoPhlSecretName"),
        ("CartoGsgSecretName", "arn:aws:secretsmanager:us-east-1:123456789012:secret:carto-dev", "CartoGsgSecretName"),
        ("CartoPhlSecretName", "carto-prod-AbCdEf", "CartoPhlSecretName"),  # prod's secret by its full name
        ("CartoPhlSecretName", "carto-*", "CartoPhlSecretName"),  # the roles' grants would reach carto-prod
        ("CartoPhlSecretName", "carto-pro?", "CartoPhlSecretName"),
        ("S3Bucket", "citygeo-airflow-databridge2", "DevNeverTouchesProd"),
        ("S3Bucket", "arn:aws:s3:::citygeo-airflow-databridge2", "S3Bucket"),
        ("SlackChannel", "#databridge-pipeline", "DevNeverTouchesProd"),
        ("SlackChannel", "databridge-pipeline", "DevNeverTouchesProd"),
        ("SlackChannel", "", "SlackChannel"),
    ],
)
def test_a_dev_stack_naming_a_production_destination_is_refused(template, parameter, value, refused_by):
    given, _ = deployed("dev", DEV_ACCOUNT)

    problems = refusals(template, {**given, parameter: value})

    assert problems and all(p.startswith(f"{refused_by}:") for p in problems), problems


def test_prod_may_name_its_own_destinations_and_a_missing_account_value_is_refused_not_defaulted(template):
    given, _ = deployed("prod", PROD_ACCOUNT)
    unset, _ = deployed("dev", {**DEV_ACCOUNT, "S3_BUCKET": "", "ASSIGN_PUBLIC_IP": ""})

    assert refusals(template, given) == [] and given["CartoPhlSecretName"] == "carto-prod"
    assert [p.split(":")[0] for p in refusals(template, unset)] == ["AssignPublicIp", "S3Bucket"]
    nobody = refusals(template, {**given, "AlarmEmail": ""})
    assert nobody == [
        "ProdAlarmsReachAPerson: " + template["Rules"]["ProdAlarmsReachAPerson"]["Assertions"][0]["AssertDescription"]
    ]


def test_the_rule_evaluator_reads_contains_as_list_membership_as_cloudformation_does():
    not_prod = {"Fn::Not": [{"Fn::Contains": [["carto-prod"], {"Ref": "Name"}]}]}
    template = {
        "Parameters": {"Name": {"Type": "String"}},
        "Rules": {"NotProd": {"Assertions": [{"Assert": not_prod}]}},
    }  # fmt: skip

    assert refusals(template, {"Name": "carto-prod"}) == ["NotProd: refused"]
    assert refusals(template, {"Name": PROD_CARTO_ARN}) == [], "no substring match: hence the parameters' patterns"
    with pytest.raises(NotImplementedError):
        refusals({"Parameters": {}, "Rules": {"R": {"Assertions": [{"Assert": {"Fn::ValueOf": ["P", "VpcId"]}}]}}}, {})
