"""template.yaml: it lints, it builds, its event rule matches what it should, and it wires what it names."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import tomllib
from importlib import metadata
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto import mock_aws
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from databridge_pipeline.bootstrap import LambdaEnvironment
from databridge_pipeline.domain.connections import CARTO_CONNECTIONS, CONNECTIONS
from databridge_pipeline.domain.settings import PipelineSettings
from databridge_pipeline.local.template_spec import Resolver, batch_event_pattern, load_template, queue_settings

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE = ROOT / "template.yaml"
EVENTS = ROOT / "events"
BIN = Path(sys.executable).parent
SAM_ENV = {**os.environ, "PYENV_VERSION": "3.11.7:3.12.1:3.13.0", "PATH": f"{BIN}:{os.environ['PATH']}"}


@pytest.fixture(scope="module")
def template() -> dict[str, Any]:
    return load_template(TEMPLATE)


def run(*command: str, timeout: int = 300) -> subprocess.CompletedProcess[str]:
    return subprocess.run(command, cwd=ROOT, env=SAM_ENV, capture_output=True, text=True, timeout=timeout)


def test_cfn_lint_is_clean():
    result = run(str(BIN / "cfn-lint"), "template.yaml")
    assert result.returncode == 0, result.stdout + result.stderr


def test_sam_validate_lint_is_clean():
    result = run(str(BIN / "sam"), "validate", "--lint")
    assert result.returncode == 0, result.stdout + result.stderr


def test_sam_build_packs_the_handlers_the_core_with_its_manifest_and_the_dependencies(tmp_path):
    build = tmp_path / "build"
    sam = str(BIN / "sam")
    result = run(
        sam, "build", "--build-in-source", "--build-dir", str(build), "--cache-dir", str(tmp_path), timeout=600
    )

    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    for function in ("DispatcherFunction", "SubmitterFunction", "JobEventsFunction"):
        assert (build / function / "app.py").is_file()
    core = build / "CoreLayer" / "python" / "databridge_pipeline"
    manifest = json.loads((core / "manifest.json").read_text())
    assert {t["id"] for t in manifest} >= {"databridge/lni/inspections", "knack/carto_phl/ppr/ppr_events"}
    shipped = {p.name for p in core.iterdir() if p.is_dir() and p.name != "__pycache__"}
    assert shipped == {"domain", "services", "adapters"}, "no CLI, local run or config loader in the layer"
    deps = build / "DepsLayer" / "python"
    assert list((deps / "pydantic_core").glob("*aarch64*.so")), "arm64 wheels for the arm64 functions"
    for package in ("aws_lambda_powertools", "croniter", "yaml", "slack_sdk", "tzdata"):
        assert (deps / package).is_dir()
    # Layers are read-only at run time: bytecode for the runtime's Python ships with them.
    assert (deps / "pydantic" / "__pycache__" / "main.cpython-312.pyc").is_file()
    assert (core / "domain" / "__pycache__" / "runs.cpython-312.pyc").is_file()
    for name in ("dispatcher", "submitter", "job_events"):
        assert_cold_start_from_the_built_layer(build, name)


def assert_cold_start_from_the_built_layer(build: Path, name: str) -> None:
    """Each built handler starts with only the built core on its path (the dev venv's third-party packages
    stand in for the arm64 DepsLayer): nothing it imports was left out of the layer."""
    probe = (
        "import json, runpy, sys; runpy.run_path(sys.argv[1]); import databridge_pipeline as p; "
        "print(json.dumps([p.__file__, sorted(m for m in sys.modules if m.startswith('databridge_pipeline'))]))"
    )
    env = {k: v for k, v in os.environ.items() if k != "TABLE_CONFIGS"} | LAMBDA_ENV
    env["PYTHONPATH"] = str(build / "CoreLayer" / "python")
    app = build / f"{''.join(part.title() for part in name.split('_'))}Function" / "app.py"
    result = subprocess.run([sys.executable, "-c", probe, str(app)], env=env, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr[-3000:]
    package, modules = json.loads(result.stdout.strip().splitlines()[-1])
    assert package.startswith(str(build)), package
    assert f"databridge_pipeline.services.{name}" in modules


LAMBDA_ENV = {
    "AWS_ACCESS_KEY_ID": "x", "AWS_SECRET_ACCESS_KEY": "x", "AWS_REGION": "us-east-1",
    "AWS_DEFAULT_REGION": "us-east-1", "ENVIRONMENT": "dev", "LEDGER_TABLE": "ledger",
    "RUN_QUEUE_URL": "https://sqs.us-east-1.amazonaws.com/1/runs", "S3_BUCKET": "bucket",
    "EXTRACT_JOB_QUEUE": "q1", "CARTO_JOB_QUEUE": "q2", "JOB_DEFINITION_PREFIX": "d",
    "DEFAULT_RETRIES": "0", "SLACK_SECRET_NAME": "s", "SLACK_CHANNEL": "#c", "POWERTOOLS_TRACE_DISABLED": "true",
}  # fmt: skip


def test_sam_build_fails_on_a_bad_table_config(tmp_path):
    source = tmp_path / "repo"
    # The checkout as a clone has it: no virtual environments (checkov's alone is ~300 MB), builds or caches.
    untracked = (".venv*", ".bench-venv", ".aws-sam", ".git", "*cache*", "*.egg-info", "bench-*.json", "local-run.log")
    shutil.copytree(ROOT, source, ignore=shutil.ignore_patterns(*untracked))
    bad = source / "table_configs" / "databridge" / "lni" / "broken.yml"
    bad.write_text("schedule_interval: 61 * * * *\n")

    # Only the layer that compiles the configs: the full build's other resources are the test above's.
    result = subprocess.run(
        [str(BIN / "sam"), "build", "CoreLayer", "--build-in-source", "--build-dir", str(tmp_path / "build")],
        cwd=source, env=SAM_ENV, capture_output=True, text=True, timeout=600,
    )  # fmt: skip

    assert result.returncode != 0
    assert "broken.yml:1: schedule_interval:" in result.stdout + result.stderr


# --- the Batch-events rule ------------------------------------------------------------------------------


def sample(name: str) -> dict[str, Any]:
    event: dict[str, Any] = json.loads((EVENTS / name).read_text())
    return event


def routed(events: list[dict[str, Any]]) -> list[str]:
    """Put the events on a moto bus whose rule has the template's pattern; return the ids that matched."""
    with mock_aws():
        sqs = boto3.client("sqs", region_name="us-east-1")
        url = sqs.create_queue(QueueName="matched")["QueueUrl"]
        arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        bus = boto3.client("events", region_name="us-east-1")
        bus.put_rule(Name="batch-jobs", EventPattern=json.dumps(batch_event_pattern(TEMPLATE, "dev")))
        bus.put_targets(Rule="batch-jobs", Targets=[{"Id": "q", "Arn": arn}])
        for event in events:
            entry = {
                "Source": event["source"],
                "DetailType": event["detail-type"],
                "Detail": json.dumps(event["detail"]),
            }
            bus.put_events(Entries=[{**entry, "Resources": event["resources"]}])
        messages = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", [])
        return sorted(
            json.loads(m["Body"])["detail"]["jobId"] + ":" + json.loads(m["Body"])["detail"]["status"] for m in messages
        )


def test_the_rule_matches_our_succeeded_and_failed_jobs():
    succeeded, failed = sample("batch_job_succeeded.json"), sample("batch_job_failed.json")

    assert routed([succeeded, failed]) == sorted(
        [f"{succeeded['detail']['jobId']}:SUCCEEDED", f"{failed['detail']['jobId']}:FAILED"]
    )


def test_the_rule_ignores_running_jobs_and_other_queues():
    running = sample("batch_job_running.json")
    elsewhere = sample("batch_job_succeeded.json")
    elsewhere["detail"]["jobQueue"] = "arn:aws:batch:us-east-1:210987654321:job-queue/databridge-pipeline-dev-extract"
    prod_queue = sample("batch_job_failed.json")
    prod_queue["detail"]["jobQueue"] = prod_queue["detail"]["jobQueue"].replace("-dev-", "-prod-")

    assert routed([running, elsewhere, prod_queue]) == []


def test_the_run_queue_redrives_to_its_dlq_and_outlasts_the_submitter(template):
    settings = queue_settings(TEMPLATE)
    submitter_timeout = template["Globals"]["Function"]["Timeout"]

    assert settings["visibility_timeout"] >= 6 * submitter_timeout
    assert 3 <= settings["max_receive_count"] <= 10


# --- wiring -----------------------------------------------------------------------------------------------


def function_environment(template: dict[str, Any], name: str) -> dict[str, Any]:
    shared = template["Globals"]["Function"]["Environment"]["Variables"]
    own = template["Resources"][name]["Properties"].get("Environment", {}).get("Variables", {})
    return {**shared, **own}


@pytest.mark.parametrize("function", ["DispatcherFunction", "SubmitterFunction", "JobEventsFunction"])
def test_every_function_gets_every_variable_its_cold_start_reads(template, function):
    names = set(function_environment(template, function))
    required = {
        str(field.alias)
        for model in (PipelineSettings, LambdaEnvironment)
        for field in model.model_fields.values()
        if field.is_required()
    }

    assert required - {"AWS_REGION"} <= names
    assert "POWERTOOLS_SERVICE_NAME" not in names, "it would add a service dimension to every metric"


@pytest.mark.parametrize("function", ["DispatcherFunction", "SubmitterFunction", "JobEventsFunction"])
def test_every_variable_points_at_a_resource_or_parameter_of_the_template(template, function):
    known = set(template["Resources"]) | set(template["Parameters"])
    for name, value in function_environment(template, function).items():
        for reference in _references(value):
            assert reference in known, f"{function} {name} refers to {reference}, which the template lacks"


PROD_PARAMETERS = {"S3Bucket": "citygeo-airflow-databridge2", "SlackChannel": "#databridge-pipeline"}


def test_variables_resolve_to_the_names_the_core_expects(template):
    env = Resolver(template, "prod", "123456789012", "us-east-1", PROD_PARAMETERS).resolve(
        function_environment(template, "SubmitterFunction")
    )

    settings = PipelineSettings.model_validate(env)
    assert settings.schedule_enabled, "prod dispatches its schedule by default"
    assert settings.extract_job_queue.endswith(":job-queue/databridge-pipeline-prod-extract")
    assert settings.carto_job_queue.endswith(":job-queue/databridge-pipeline-prod-carto")
    assert settings.default_retries == 2
    assert env["RUN_QUEUE_URL"].endswith("/databridge-pipeline-prod-runs")


def test_job_definitions_fill_every_secret_variable_a_command_can_name(template):
    filled = {
        secret["Name"]
        for resource in template["Resources"].values()
        if resource["Type"] == "AWS::Batch::JobDefinition"
        for secret in resource["Properties"]["ContainerProperties"]["Secrets"]
    }
    expected = {field.env_var for connection in CONNECTIONS.values() for field in connection.fields.values()}

    assert filled == expected


def test_carto_loads_run_one_at_a_time_by_default(template):
    carto = template["Resources"]["CartoComputeEnvironment"]["Properties"]["ComputeResources"]
    loads = [
        resource["Properties"]["ContainerProperties"]
        for resource in template["Resources"].values()
        if resource["Type"] == "AWS::Batch::JobDefinition"
        and resource["Properties"]["JobDefinitionName"]["Fn::Sub"].split("}-", 1)[1].startswith("carto-load-")
    ]
    vcpus = {next(r["Value"] for r in load["ResourceRequirements"] if r["Type"] == "VCPU") for load in loads}

    assert carto["MaxvCpus"] == {"Ref": "CartoMaxConcurrentLoads"}
    assert template["Parameters"]["CartoMaxConcurrentLoads"]["Default"] == 1
    assert len(loads) == len(CARTO_CONNECTIONS) and vcpus == {"1"}


# AWS Batch actions that take no resource-level permissions: '*' is the only resource they accept.
NO_RESOURCE_LEVEL_ACTIONS = {
    "batch:DescribeJobs",
    "batch:ListJobs",
    "cloudwatch:GetMetricData",
    "cloudwatch:GetMetricStatistics",
    "cloudwatch:ListMetrics",
}


def policy_statements(template: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    """Every statement of every IAM role, queue and topic policy (not KMS key policies: a key policy's
    statements are about the key itself, and '*' is the only resource they take), by resource name."""
    found: list[tuple[str, dict[str, Any]]] = []
    for name, resource in template["Resources"].items():
        props = resource.get("Properties", {})
        documents = [p["PolicyDocument"] for p in props.get("Policies", [])] + [props.get("PolicyDocument", {})]
        found += [(name, statement) for document in documents for statement in document.get("Statement", [])]
    return found


def as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def test_no_secret_value_in_the_template():
    text = TEMPLATE.read_text()

    assert not re.search(r"xox[abp]-|AKIA[0-9A-Z]{16}|://[^/\s:]+:[^@\s]+@|password\s*[:=]", text, re.IGNORECASE)


def test_a_wildcard_resource_only_for_actions_that_take_no_other(template):
    statements = policy_statements(template)

    assert len(statements) > 20, "the walk finds the roles' statements"
    for name, statement in statements:
        if "*" in as_list(statement["Resource"]):
            assert set(as_list(statement["Action"])) <= NO_RESOURCE_LEVEL_ACTIONS, (name, statement.get("Sid"))


def test_the_package_installs_exactly_the_layers_pinned_requirements():
    """One source of truth: pyproject's dependencies are read from the layer's requirements file."""
    layer = [
        line for line in (ROOT / "layers" / "deps" / "requirements.txt").read_text().splitlines()
        if line and not line.startswith("#")
    ]  # fmt: skip
    installed = [r for r in metadata.requires("databridge-pipeline") or [] if "extra ==" not in r]

    def normal(requirement: str) -> tuple[str, tuple[str, ...], str]:
        parsed = Requirement(requirement)
        return canonicalize_name(parsed.name), tuple(sorted(parsed.extras)), str(parsed.specifier)

    assert sorted(map(normal, installed)) == sorted(map(normal, layer))
    assert "dependencies" in tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dynamic"]


def test_samconfig_deploys_dev_and_prod_and_confirms_only_prod():
    config = tomllib.loads((ROOT / "samconfig.toml").read_text())

    assert config["dev"]["deploy"]["parameters"]["confirm_changeset"] is False
    assert config["prod"]["deploy"]["parameters"]["confirm_changeset"] is True
    assert "Environment=prod" in config["prod"]["deploy"]["parameters"]["parameter_overrides"]
    assert config["default"]["build"]["parameters"]["build_in_source"] is True


def test_samconfig_keeps_dev_off_prod_destinations_and_leaves_prods_alarm_email_to_the_deploy():
    config = tomllib.loads((ROOT / "samconfig.toml").read_text())
    dev = dict(p.split("=", 1) for p in config["dev"]["deploy"]["parameters"]["parameter_overrides"].split())
    prod = dict(p.split("=", 1) for p in config["prod"]["deploy"]["parameters"]["parameter_overrides"].split())

    assert dev.get("S3Bucket") != "citygeo-airflow-databridge2"
    assert {dev["CartoPhlSecretName"], dev["CartoGsgSecretName"]}.isdisjoint({"carto-prod", "carto-dev"})
    assert (prod["CartoPhlSecretName"], prod["CartoGsgSecretName"]) == ("carto-prod", "carto-dev")
    assert "AlarmEmail" not in prod, "no default address: the deploy names a person"


def _references(value: Any) -> list[str]:
    if isinstance(value, dict):
        if "Ref" in value:
            return [value["Ref"]]
        if "Fn::GetAtt" in value:
            return [value["Fn::GetAtt"][0]]
        if "Fn::If" in value:
            return [r for item in value["Fn::If"][1:] for r in _references(item)]
        if "Fn::Sub" in value:
            text = value["Fn::Sub"] if isinstance(value["Fn::Sub"], str) else value["Fn::Sub"][0]
            return [name.split(".")[0] for name in re.findall(r"\$\{([^}!:]+)\}", text)]
    return []


def test_the_ledger_has_the_sparse_pending_alerts_index_the_adapter_queries(template):
    from databridge_pipeline.adapters.ledger import PENDING_ALERT_KEY, PENDING_ALERTS_INDEX

    [index] = template["Resources"]["RunLedger"]["Properties"]["GlobalSecondaryIndexes"]
    assert index["IndexName"] == PENDING_ALERTS_INDEX
    assert index["KeySchema"][0] == {"AttributeName": PENDING_ALERT_KEY, "KeyType": "HASH"}


def test_each_job_events_failure_shape_has_its_own_queue_and_alarm(template):
    resources = template["Resources"]
    function = resources["JobEventsFunction"]["Properties"]
    destination = function["EventInvokeConfig"]["DestinationConfig"]["OnFailure"]["Destination"]
    rule = function["Events"]["BatchJobStateChange"]["Properties"]
    queues = {str(destination), str(rule["DeadLetterConfig"]["Arn"])}
    assert len(queues) == 2, "Lambda's invocation records and EventBridge's dead letters never share a queue"
    alarmed = {
        str(a["Properties"].get("Dimensions")) for a in resources.values() if a["Type"] == "AWS::CloudWatch::Alarm"
    }
    for queue in ("JobEventsFailedInvocationsQueue", "JobEventsRuleDeadLettersQueue"):
        assert any(queue in dims for dims in alarmed), f"{queue} has a depth alarm"


def test_a_silent_pipeline_alarms(template):
    alarms = {
        a["Properties"]["MetricName"]: a["Properties"]
        for a in template["Resources"].values()
        if a["Type"] == "AWS::CloudWatch::Alarm"
    }
    assert alarms["Ticks"]["TreatMissingData"] == "breaching", "no tick at all must alarm"
    assert alarms["Ticks"]["Period"] * alarms["Ticks"]["EvaluationPeriods"] == 300
    assert "ApproximateAgeOfOldestMessage" in alarms
    assert alarms["OldestPendingAlertMinutes"]["Threshold"] == 30


def test_alarms_can_publish_to_their_encrypted_topic_and_reach_a_person(template):
    resources = template["Resources"]
    topic = resources["AlarmTopic"]["Properties"]
    assert topic["KmsMasterKeyId"] == {"Ref": "AlarmTopicKey"}, "not alias/aws/sns, which CloudWatch cannot use"
    statements = resources["AlarmTopicKey"]["Properties"]["KeyPolicy"]["Statement"]
    granted = [s for s in statements if "cloudwatch.amazonaws.com" in str(s["Principal"])]
    assert granted and {"kms:GenerateDataKey*", "kms:Decrypt"} <= set(granted[0]["Action"])
    publish = resources["AlarmTopicPolicy"]["Properties"]["PolicyDocument"]["Statement"][0]
    assert (publish["Principal"], publish["Action"]) == ({"Service": "cloudwatch.amazonaws.com"}, "sns:Publish")
    subscription = resources["AlarmEmailSubscription"]
    assert subscription["Properties"]["Protocol"] == "email"
    rule = template["Rules"]["ProdAlarmsReachAPerson"]
    assert "AlarmEmail" in str(rule["Assertions"]) and "prod" in str(rule["RuleCondition"])


def test_dev_cannot_name_a_production_bucket_channel_or_carto_secret(template):
    parameters = template["Parameters"]
    for name in ("S3Bucket", "SlackChannel", "CartoPhlSecretName", "CartoGsgSecretName"):
        assert "Default" not in parameters[name], f"{name}: no default that could point dev at prod"
    rule = str(template["Rules"]["DevNeverTouchesProd"])
    assert "'dev'" in rule or "dev]" in rule or "dev'" in rule
    for production in ("citygeo-airflow-databridge2", "#databridge-pipeline", "carto-prod", "carto-dev"):
        assert production in rule
    # tests/template/test_deploy_parameters.py evaluates the rule and the parameters' patterns on deploys.


def test_dev_dispatches_no_schedule_unless_turned_on(template):
    assert template["Parameters"]["ScheduleEnabled"]["Default"] == "auto"
    condition = str(template["Conditions"]["DispatchesSchedule"])
    assert "IsProd" in condition and "auto" in condition


def test_a_dev_stack_ticks_without_dispatching_its_schedule_by_default(template):
    environment = function_environment(template, "DispatcherFunction")
    dev = Resolver(template, "dev", "123456789012", "us-east-1", {"S3Bucket": "a-dev-bucket"}).resolve(environment)
    turned_on = Resolver(template, "dev", "1", "us-east-1", {"S3Bucket": "b-dev-bucket", "ScheduleEnabled": "true"})

    assert PipelineSettings.model_validate(dev).schedule_enabled is False
    assert PipelineSettings.model_validate(turned_on.resolve(environment)).schedule_enabled is True


def test_no_job_can_block_a_queue_stuck_runnable(template):
    for name in ("ExtractJobQueue", "CartoJobQueue"):
        actions = template["Resources"][name]["Properties"]["JobStateTimeLimitActions"]
        by_reason = {a["Reason"]: a for a in actions}
        assert {a["Action"] for a in actions} == {"CANCEL"} and {a["State"] for a in actions} == {"RUNNABLE"}
        assert by_reason["MISCONFIGURATION:JOB_RESOURCE_REQUIREMENT"]["MaxTimeSeconds"] == 600
        assert by_reason["CAPACITY:INSUFFICIENT_INSTANCE_CAPACITY"]["MaxTimeSeconds"] <= 4 * 3600


def test_batch_retries_fargate_start_failures_not_ec2_host_ones(template):
    rules = [
        rule
        for resource in template["Resources"].values()
        if resource["Type"] == "AWS::Batch::JobDefinition"
        for rule in resource["Properties"]["RetryStrategy"]["EvaluateOnExit"]
    ]
    reasons = {rule.get("OnStatusReason") for rule in rules if rule["Action"] == "RETRY"}
    assert "CannotPullContainerError*" in reasons and "ResourceInitializationError*" in reasons
    assert not any(reason and reason.startswith("Host EC2") for reason in reasons), "cannot happen on Fargate"


FUNCTIONS = ("DispatcherFunction", "SubmitterFunction", "JobEventsFunction")


def test_every_function_has_reserved_concurrency_and_the_submitter_as_much_as_its_queue_may_use(template):
    resources = template["Resources"]
    reserved = {name: resources[name]["Properties"].get("ReservedConcurrentExecutions") for name in FUNCTIONS}
    submitter = resources["SubmitterFunction"]["Properties"]
    queue_max = submitter["Events"]["RunRequests"]["Properties"]["ScalingConfig"]["MaximumConcurrency"]

    assert all(isinstance(n, int) and n >= 1 for n in reserved.values()), reserved
    assert reserved["DispatcherFunction"] == 1, "one tick at a time"
    assert reserved["SubmitterFunction"] == queue_max


def test_functions_have_hand_written_roles_with_x_ray_only_when_tracing_is_on(template):
    for name in FUNCTIONS:
        props = template["Resources"][name]["Properties"]
        role = template["Resources"][props["Role"]["Fn::GetAtt"][0]]["Properties"]
        resolver = Resolver(template, "prod", "123456789012", "us-east-1")

        assert "Policies" not in props, f"{name}: SAM policy templates grant more than we use"
        assert resolver.resolve(role["ManagedPolicyArns"]) is None
        resolver.values["XRayTracing"] = "true"
        assert resolver.resolve(role["ManagedPolicyArns"]) == ["arn:aws:iam::aws:policy/AWSXRayDaemonWriteAccess"]


def test_no_function_may_scan_delete_anything_but_a_run_slot_or_update_anything_but_freshness(template):
    """Only the dispatcher updates a run item in place: the mark on one it cannot read (a run's own state is
    a whole PutItem, conditional on its version)."""
    for name, statement in policy_statements(template):
        actions = set(as_list(statement["Action"]))
        assert not actions & {"dynamodb:Scan", "dynamodb:BatchWriteItem", "dynamodb:*"}, name
        if "dynamodb:DeleteItem" in actions:
            condition = statement["Condition"]["ForAllValues:StringEquals"]
            assert condition == {"dynamodb:LeadingKeys": ["SLOT"]}, name
        if "dynamodb:UpdateItem" in actions and statement.get("Sid") == "LedgerMarksUnreadableRuns":
            assert name.startswith("DispatcherRole") and actions == {"dynamodb:UpdateItem"}, name
        elif "dynamodb:UpdateItem" in actions:
            condition = statement["Condition"]["ForAllValues:StringEquals"]
            assert condition == {"dynamodb:LeadingKeys": ["TABLE"]}, name


# The ledger's item families (adapters/ledger.py): the partition key values of its items, and of its index.
LEDGER_FAMILIES = {"RUN#*", "SLOT", "CURSOR", "PAUSE", "TABLE"}
PENDING_ALERTS_FAMILIES = {"pending"}


def ledger_grants(template: dict[str, Any], role: str) -> list[dict[str, Any]]:
    statements = [
        s for p in template["Resources"][role]["Properties"]["Policies"] for s in p["PolicyDocument"]["Statement"]
    ]
    return [s for s in statements if any(a.startswith("dynamodb:") for a in as_list(s["Action"]))]


@pytest.mark.parametrize("role", ["DispatcherRole", "SubmitterRole", "JobEventsRole"])
def test_every_ledger_grant_names_the_item_families_it_may_touch(template, role):
    grants = ledger_grants(template, role)

    assert grants
    for statement in grants:
        [(operator, keys)] = statement["Condition"].items()
        families = keys["dynamodb:LeadingKeys"]
        on_index = "/index/" in str(statement["Resource"])
        assert set(families) <= (PENDING_ALERTS_FAMILIES if on_index else LEDGER_FAMILIES), statement["Sid"]
        wildcard = any("*" in family or "?" in family for family in families)
        assert operator == ("ForAllValues:StringLike" if wildcard else "ForAllValues:StringEquals"), statement["Sid"]


@pytest.mark.parametrize(
    ("role", "writable"),
    [
        ("SubmitterRole", {"RUN#*", "SLOT"}),  # never the cursor, a pause or a table record
        ("JobEventsRole", {"RUN#*", "SLOT", "TABLE"}),
        ("DispatcherRole", {"RUN#*", "SLOT", "TABLE", "CURSOR"}),  # never a pause: only an operator pauses
    ],
)
def test_each_function_writes_only_its_item_families(template, role, writable):
    writes = {"dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem", "dynamodb:BatchWriteItem"}
    written = {
        family
        for statement in ledger_grants(template, role)
        if set(as_list(statement["Action"])) & writes
        for keys in statement["Condition"].values()
        for family in keys["dynamodb:LeadingKeys"]
    }

    assert written == writable


def test_the_slack_channel_can_read_only_our_alarms_metrics_and_functions_logs_under_a_read_only_guardrail(template):
    role = template["Resources"]["ChatbotRole"]["Properties"]
    channel = template["Resources"]["AlarmsToSlack"]["Properties"]
    statements = [s for p in role["Policies"] for s in p["PolicyDocument"]["Statement"]]
    allowed = [s for s in statements if s["Effect"] == "Allow"]
    log_groups = {r["Fn::GetAtt"][0] for s in allowed if s["Sid"] == "ReadOurLogs" for r in s["Resource"]}
    [denied] = [s for s in statements if s["Effect"] == "Deny"]
    guardrails = Resolver(template, "prod", "123456789012", "us-east-1").resolve(channel["GuardrailPolicies"])
    every_group = {n for n, r in template["Resources"].items() if r["Type"] == "AWS::Logs::LogGroup"}

    assert "ManagedPolicyArns" not in role
    assert {a.split(":")[0] for s in allowed for a in as_list(s["Action"])} == {"cloudwatch", "logs"}
    assert all(
        a.split(":")[1].startswith(("Get", "Describe", "List", "Filter")) for s in allowed for a in as_list(s["Action"])
    )
    # The Batch jobs' lines may carry a secret (a tool's error printing its connection URL): never the channel's.
    assert log_groups == every_group - {"BatchLogGroup"}
    assert (denied["Action"], denied["Resource"]) == ("logs:*", {"Fn::GetAtt": ["BatchLogGroup", "Arn"]})
    assert guardrails == ["arn:aws:iam::aws:policy/CloudWatchReadOnlyAccess"]


def test_the_batch_log_group_is_encrypted_with_a_key_only_the_account_and_cloudwatch_logs_may_use(template):
    resources = template["Resources"]
    group = resources["BatchLogGroup"]["Properties"]
    key = resources["BatchLogKey"]["Properties"]
    resolver = Resolver(template, "dev", "123456789012", "us-east-1")
    by_principal = {
        str(resolver.resolve(statement["Principal"])): statement for statement in key["KeyPolicy"]["Statement"]
    }

    assert group["KmsKeyId"] == {"Fn::GetAtt": ["BatchLogKey", "Arn"]}
    assert key["EnableKeyRotation"] is True
    assert all(statement["Effect"] == "Allow" for statement in by_principal.values())
    assert set(by_principal) == {
        str({"AWS": "arn:aws:iam::123456789012:root"}),  # administers it (and lets IAM policies grant it)
        str({"Service": "logs.us-east-1.amazonaws.com"}),
    }
    logs = by_principal[str({"Service": "logs.us-east-1.amazonaws.com"})]
    context = resolver.resolve(logs["Condition"]["ArnEquals"]["kms:EncryptionContext:aws:logs:arn"])
    assert context == f"arn:aws:logs:us-east-1:123456789012:log-group:{resolver.resolve(group['LogGroupName'])}"
    assert "Chatbot" not in str(key) and "chatbot" not in str(key)
    chatbot = [s for p in resources["ChatbotRole"]["Properties"]["Policies"] for s in p["PolicyDocument"]["Statement"]]
    assert not any(a.startswith("kms:") for s in chatbot for a in as_list(s["Action"]))


def test_no_log_group_is_left_unencrypted_but_those_of_functions_that_can_read_at_most_the_slack_token(template):
    """The functions' log groups skip checkov's customer-managed key: their roles read no secret but the Slack
    token (the bad-day test checks no log line carries it); every other log group has a key."""
    resources = template["Resources"]
    resolver = Resolver(template, "dev", "123456789012", "us-east-1", {"SlackSecretName": "the-slack-token"})
    readable = {
        role: {
            resolver.resolve(resource)
            for _, statement in policy_statements({"Resources": {role: resources[role]}})
            if "secretsmanager:GetSecretValue" in as_list(statement["Action"])
            for resource in as_list(statement["Resource"])
        }
        for role in ("DispatcherRole", "SubmitterRole", "JobEventsRole")
    }
    slack = {"arn:aws:secretsmanager:us-east-1:123456789012:secret:the-slack-token-??????"}

    assert readable == {"DispatcherRole": slack, "SubmitterRole": set(), "JobEventsRole": slack}
    for name, resource in resources.items():
        if resource["Type"] != "AWS::Logs::LogGroup":
            continue
        skips = {skip["id"] for skip in resource.get("Metadata", {}).get("checkov", {}).get("skip", [])}
        writers = [
            function
            for function in FUNCTIONS
            if resources[function]["Properties"]["LoggingConfig"]["LogGroup"] == {"Ref": name}
        ]
        if "CKV_AWS_158" in skips:
            assert len(writers) == 1, f"{name} skips the key, so it must be one function's log group"
        else:
            assert "KmsKeyId" in resource["Properties"], name
