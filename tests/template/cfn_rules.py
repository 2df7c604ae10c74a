"""What CloudFormation checks of a stack's parameters before it creates anything: each parameter's value (given,
or its default) against its type and constraints, then the template's Rules. The tests deploy nothing; this
stands in for that step, so that "dev with prod's secret is refused" is a test, not a hope.

Rules take only a few functions (AWS CloudFormation user guide, "Rule functions"): Fn::And, Fn::Contains,
Fn::EachMemberEquals, Fn::EachMemberIn, Fn::Equals, Fn::Not, Fn::Or, Fn::RefAll, Fn::ValueOf, Fn::ValueOfAll,
and Ref. The AWS-specific ones (RefAll, ValueOf, ValueOfAll) read the account and are not evaluated here: a
template that uses them fails loudly rather than passing unseen.
"""

from __future__ import annotations

import re
from typing import Any

NOT_EVALUATED = {"Fn::RefAll", "Fn::ValueOf", "Fn::ValueOfAll"}


def refusals(template: dict[str, Any], parameters: dict[str, str]) -> list[str]:
    """Why CloudFormation would refuse a stack of ``template`` with ``parameters`` (empty: it would not)."""
    values: dict[str, Any] = {}
    problems: list[str] = []
    for name, spec in template.get("Parameters", {}).items():
        if name not in parameters and "Default" not in spec:
            problems.append(f"{name}: no value and no default")
            continue
        raw = str(parameters.get(name, spec.get("Default")))
        values[name] = (
            raw.split(",") if spec["Type"].startswith("List<") or spec["Type"] == "CommaDelimitedList" else raw
        )
        problems += [f"{name}: {problem}" for problem in _constraint_problems(spec, raw)]
    if problems:
        return problems  # CloudFormation checks every parameter before any rule
    for name, rule in template.get("Rules", {}).items():
        if "RuleCondition" in rule and not _evaluate(rule["RuleCondition"], values):
            continue
        for assertion in rule["Assertions"]:
            if not _evaluate(assertion["Assert"], values):
                problems.append(f"{name}: {assertion.get('AssertDescription', 'refused')}")
    return problems


def _constraint_problems(spec: dict[str, Any], raw: str) -> list[str]:
    problems = []
    if "AllowedValues" in spec and raw not in [str(v) for v in spec["AllowedValues"]]:
        problems.append(f"{raw!r} is not one of {spec['AllowedValues']}")
    if "AllowedPattern" in spec and re.fullmatch(spec["AllowedPattern"], raw) is None:
        problems.append(f"{raw!r} does not match {spec['AllowedPattern']}")
    if spec["Type"] == "Number":
        try:
            number = float(raw)
        except ValueError:
            return [f"{raw!r} is not a number"]
        if number < float(spec.get("MinValue", number)) or number > float(spec.get("MaxValue", number)):
            problems.append(f"{raw} is out of range")
    if spec["Type"].startswith("List<") and not all(raw.split(",")):
        problems.append("an empty list item")
    return problems


# Each rule function over its evaluated arguments.
_FUNCTIONS: dict[str, Any] = {
    "Fn::Equals": lambda args: args[0] == args[1],
    "Fn::Not": lambda args: not args[0],
    "Fn::And": all,
    "Fn::Or": any,
    "Fn::Contains": lambda args: args[1] in args[0],  # list membership, not a substring
    "Fn::EachMemberEquals": lambda args: all(member == args[1] for member in args[0]),
    "Fn::EachMemberIn": lambda args: all(member in args[1] for member in args[0]),
}


def _evaluate(expression: Any, values: dict[str, Any]) -> Any:
    if isinstance(expression, list):
        return [_evaluate(item, values) for item in expression]
    if not isinstance(expression, dict):
        return expression
    [(function, args)] = expression.items()
    if function == "Ref":
        return values[args]
    if function in NOT_EVALUATED:
        raise NotImplementedError(f"{function} reads the account: not evaluated here")
    if function not in _FUNCTIONS:
        raise ValueError(f"{function} is not a rule function")
    return _FUNCTIONS[function](_evaluate(args, values))
