"""Read what the local run and the tests need from template.yaml, so they cannot drift from what deploys.

A small resolver for the intrinsics the template uses in those places (Ref, Fn::Sub, Fn::GetAtt of
queue names) stands in for CloudFormation, with a given account, region and environment.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml

_SUB = re.compile(r"\$\{([^}!]+)\}")


# libyaml's parser when PyYAML has it: the template reads in 15 ms instead of 240 (every test stack reads it).
_SafeLoader: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class _CfnLoader(_SafeLoader):  # type: ignore[valid-type,misc]
    """Reads ``!Ref x`` as ``{"Ref": x}`` and ``!Sub``/``!GetAtt``/... as ``{"Fn::Sub": ...}``."""


def _tag(loader: _CfnLoader, suffix: str, node: yaml.Node) -> dict[str, Any]:
    if isinstance(node, yaml.ScalarNode):
        value: Any = loader.construct_scalar(node)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    else:
        value = loader.construct_mapping(node, deep=True)
    if suffix == "Ref":
        return {"Ref": value}
    if suffix == "GetAtt" and isinstance(value, str):
        value = value.split(".", 1)
    return {f"Fn::{suffix}": value}


_CfnLoader.add_multi_constructor("!", _tag)


def load_template(path: Path) -> dict[str, Any]:
    template: dict[str, Any] = yaml.load(path.read_text(encoding="utf-8"), Loader=_CfnLoader)
    return template


class Resolver:
    """Resolves intrinsics to the values a stack of ``environment`` in ``account``/``region`` would have."""

    def __init__(
        self,
        template: dict[str, Any],
        environment: str,
        account: str,
        region: str,
        parameters: dict[str, str] | None = None,
    ) -> None:
        """``parameters`` are laid over the template's defaults (as a deploy's parameter overrides are)."""
        self.template = template
        self.resources: dict[str, Any] = template.get("Resources", {})
        defaults = {name: spec.get("Default") for name, spec in template.get("Parameters", {}).items()}
        self.values: dict[str, Any] = {
            **defaults,
            **(parameters or {}),
            "Environment": environment,
            "AWS::AccountId": account,
            "AWS::Region": region,
            "AWS::Partition": "aws",
            "AWS::NoValue": None,  # the property is left out
        }

    def resolve(self, value: Any) -> Any:
        if isinstance(value, list):
            return [self.resolve(item) for item in value]
        if not isinstance(value, dict):
            return value
        if set(value) == {"Ref"}:
            return self.ref(value["Ref"])
        if set(value) == {"Fn::Sub"}:
            return self.sub(value["Fn::Sub"])
        if set(value) == {"Fn::GetAtt"}:
            return self.get_att(*value["Fn::GetAtt"])
        if set(value) == {"Fn::If"}:
            name, when_true, when_false = value["Fn::If"]
            return self.resolve(when_true if self.condition(name) else when_false)
        return {key: self.resolve(item) for key, item in value.items()}

    def condition(self, name: str) -> bool:
        return bool(self._evaluate(self.template["Conditions"][name]))

    def _evaluate(self, expression: Any) -> Any:
        if isinstance(expression, dict) and len(expression) == 1:
            ((function, args),) = expression.items()
            if function == "Fn::Equals":
                return self.resolve(args[0]) == self.resolve(args[1])
            if function == "Fn::Not":
                return not self._evaluate(args[0])
            if function == "Fn::And":
                return all(self._evaluate(arg) for arg in args)
            if function == "Fn::Or":
                return any(self._evaluate(arg) for arg in args)
            if function == "Condition":
                return self.condition(args)
        return self.resolve(expression)

    def sub(self, spec: Any) -> str:
        text, extra = (spec[0], spec[1]) if isinstance(spec, list) else (spec, {})
        local = {name: self.resolve(item) for name, item in extra.items()}
        return _SUB.sub(lambda m: str(local[m.group(1)] if m.group(1) in local else self._name(m.group(1))), text)

    def _name(self, name: str) -> Any:
        if "." in name:
            return self.get_att(*name.split(".", 1))
        return self.ref(name)

    def ref(self, name: str) -> Any:
        if name in self.values:
            return self.values[name]
        resource = self.resources[name]
        kind, props = resource["Type"], resource.get("Properties", {})
        account, region = self.values["AWS::AccountId"], self.values["AWS::Region"]
        if kind == "AWS::Batch::JobQueue":
            return f"arn:aws:batch:{region}:{account}:job-queue/{self.resolve(props['JobQueueName'])}"
        if kind == "AWS::Batch::JobDefinition":
            return f"arn:aws:batch:{region}:{account}:job-definition/{self.resolve(props['JobDefinitionName'])}:1"
        if kind == "AWS::SQS::Queue":
            return f"https://sqs.{region}.amazonaws.com/{account}/{self.resolve(props['QueueName'])}"
        for key in ("TableName", "LogGroupName", "FunctionName", "TopicName", "DashboardName"):
            if key in props:
                return self.resolve(props[key])
        raise KeyError(f"cannot resolve Ref {name} ({kind})")

    def get_att(self, name: str, attribute: str) -> Any:
        props = self.resources[name].get("Properties", {})
        if attribute == "QueueName":
            return self.resolve(props["QueueName"])
        if attribute == "Arn" and self.resources[name]["Type"] == "AWS::SQS::Queue":
            account, region = self.values["AWS::AccountId"], self.values["AWS::Region"]
            return f"arn:aws:sqs:{region}:{account}:{self.resolve(props['QueueName'])}"
        raise KeyError(f"cannot resolve GetAtt {name}.{attribute}")


def batch_event_pattern(
    path: Path, environment: str = "dev", account: str = "123456789012", region: str = "us-east-1"
) -> dict[str, Any]:
    """The job-events function's EventBridge pattern, with our job queues' ARNs filled in."""
    template = load_template(path)
    events = template["Resources"]["JobEventsFunction"]["Properties"]["Events"]
    rule = next(e for e in events.values() if e["Type"] == "EventBridgeRule")
    pattern: dict[str, Any] = Resolver(template, environment, account, region).resolve(rule["Properties"]["Pattern"])
    return pattern


def queue_settings(path: Path) -> dict[str, int]:
    """The run queue's visibility timeout and its DLQ's maxReceiveCount."""
    queue = load_template(path)["Resources"]["RunQueue"]["Properties"]
    return {
        "visibility_timeout": int(queue["VisibilityTimeout"]),
        "max_receive_count": int(queue["RedrivePolicy"]["maxReceiveCount"]),
    }
