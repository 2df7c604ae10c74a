"""Step kinds as data, and chains of them: ``command_templates/<kind>.yml`` holds one kind each.

A step kind is: the step's name in a run, the Batch queue it runs on, the type of connection it needs, the
S3 objects it reads and writes, the per-step options a config may give it, and its command in each command
set (``legacy``, ``current``). A table's chain is a list of ``StepEntry`` (from the config's ``steps:``
key, or derived from the legacy keys); ``resolve_chain`` checks it (every input written by an earlier step,
every connection mapped to a secret) and works out each step's S3 keys and option values.

This module is pure and imports nothing of the config, so ``config`` can validate chains with it.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from typing import Literal, get_args

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from databridge_pipeline.domain.connections import CONNECTIONS, ConnectionType, connections_of_type
from databridge_pipeline.domain.names import COLUMN, echo, is_name, shape
from databridge_pipeline.domain.settings import CommandSet

StepName = Literal["extract", "schema", "geocode", "load"]
STEP_NAMES: tuple[str, ...] = get_args(StepName)
COMMAND_SETS: tuple[CommandSet, ...] = get_args(CommandSet)
Artifact = Literal["csv", "schema"]
Queue = Literal["extract", "carto"]
CartoSource = Literal["folder", "carto_conn_id", "default"]  # what gives a table its Carto connection

# Values every step may use in a command: from the table, the environment, and the chain.
TABLE_VALUES = (
    "table", "schema", "staging_schema", "s3_bucket", "postgres_schema", "knack_object_id", "knack_object",
    "select_users", "index_fields",
)  # fmt: skip
ARTIFACT_VALUES = ("input_csv", "input_schema", "output_csv", "output_schema")
# Values a key template or an option default may use.
KEY_VALUES = ("table", "staging_schema", "input_name")
PLACEHOLDER = re.compile(r"\{([a-z0-9_.]+)\}")
OPTION_VALUE = COLUMN  # a step option's value goes into a command and an S3 key: a plain name, whole

# The legacy keys' chains: the source's extract, then (with upload_to_carto) its schema step and the load.
SOURCE_EXTRACT = {"databridge": "databridge_extract", "knack": "knack_extract", "airtable": "airtable_extract"}
SOURCE_SCHEMA = {"databridge": "databridge_schema", "knack": "knack_schema"}
CARTO_LOAD = "carto_load"


class ConditionalArg(BaseModel):
    """An argument kept only when the value named by ``when`` is not empty."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    when: str
    arg: str


Command = list[str | ConditionalArg]


class OptionSpec(BaseModel):
    """A per-step option a config's ``steps:`` entry may set (a name, or with ``list`` a list of names)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    help: str
    list: bool = False
    required: bool = False
    default: str = ""


class StepKind(BaseModel):
    """One ``command_templates/<kind>.yml``."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    kind: str
    description: str
    step: StepName
    queue: Queue
    connection: ConnectionType
    reads: list[Artifact] = Field(default_factory=list)
    writes: dict[Artifact, str] = Field(default_factory=dict)
    standing: dict[Artifact, str] = Field(default_factory=dict)
    options: dict[str, OptionSpec] = Field(default_factory=dict)
    commands: dict[CommandSet, Command | None]

    @field_validator("commands")
    @classmethod
    def _every_set(cls, value: dict[CommandSet, Command | None]) -> dict[CommandSet, Command | None]:
        missing = [name for name in COMMAND_SETS if name not in value]
        if missing:
            raise ValueError(f"no command for the {', '.join(missing)} set (write null to skip the step there)")
        return value

    def command(self, command_set: CommandSet) -> Command | None:
        """The command template in this set; None when the set skips this kind of step."""
        return self.commands[command_set]

    def problems(self) -> list[str]:
        """Placeholders nobody fills, standing inputs that are not read, and the like."""
        found: list[str] = []
        values = set(TABLE_VALUES) | set(ARTIFACT_VALUES) | set(self.options)
        fields = _common_fields(self.connection)
        for command_set, command in self.commands.items():
            for item in command or ():
                text = item if isinstance(item, str) else f"{{{item.when}}}{item.arg}"
                for name in PLACEHOLDER.findall(text):
                    secret = name.removeprefix("secret.")
                    if name.startswith("secret.") and secret not in fields:
                        found.append(f"{command_set}: {{{name}}}: a {self.connection} connection has no {secret!r}")
                    elif not name.startswith("secret.") and name not in values:
                        found.append(f"{command_set}: unknown placeholder {{{name}}}")
        key_values = set(KEY_VALUES) | set(self.options)
        for name, template in [*self.writes.items(), *self.standing.items()]:
            unknown = set(PLACEHOLDER.findall(template)) - key_values
            if unknown:
                found.append(f"{name} key {template!r}: unknown placeholders {sorted(unknown)}")
        found.extend(f"standing {name} is not read" for name in self.standing if name not in self.reads)
        return found


def _common_fields(connection_type: ConnectionType) -> set[str]:
    connections = connections_of_type(connection_type)
    return set.intersection(*(set(CONNECTIONS[c].fields) for c in connections)) if connections else set()


class StepKindError(Exception):
    """A step-kind file is malformed or uses a placeholder nobody fills."""


@lru_cache(maxsize=1)
def step_kinds() -> dict[str, StepKind]:
    """Every packaged step kind by name, validated once per process."""
    import yaml  # here, not at import: the handlers that build no job never read a template

    folder = resources.files("databridge_pipeline.domain") / "command_templates"
    kinds: dict[str, StepKind] = {}
    for entry in sorted(folder.iterdir(), key=lambda e: e.name):
        name = entry.name.removesuffix(".yml")
        if not entry.name.endswith(".yml") or name.startswith("cli_"):
            continue
        try:
            data = yaml.load(entry.read_text(encoding="utf-8"), Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
            kind = StepKind.model_validate({"kind": name, **data})
        except (yaml.YAMLError, ValidationError, TypeError) as error:
            raise StepKindError(f"command_templates/{entry.name}: {error}") from None
        problems = kind.problems()
        if problems:
            raise StepKindError(f"command_templates/{entry.name}: {'; '.join(problems)}")
        kinds[name] = kind
    return kinds


# --- chains ---------------------------------------------------------------------------------------------


class StepEntry(BaseModel):
    """One entry of a config's ``steps:`` list: a kind, an optional connection id, and the kind's options."""

    model_config = ConfigDict(extra="allow", frozen=True, strict=True)
    __pydantic_extra__: dict[str, str | list[str]] = Field(init=False)

    kind: str
    connection: str | None = None

    @property
    def options(self) -> dict[str, str | list[str]]:
        return dict(self.model_extra or {})


@dataclass(frozen=True)
class ChainContext:
    """What a chain needs from its table: names and the connections its legacy keys give."""

    table: str
    staging_schema: str
    knack_conn: str | None
    carto_conn: str
    has_knack_object: bool
    carto_source: CartoSource = "default"  # what gives carto_conn


@dataclass(frozen=True)
class ResolvedStep:
    """One step of a chain, checked: its kind, connection, option values and S3 keys."""

    name: StepName
    kind: StepKind
    connection: str
    values: dict[str, str]


@dataclass(frozen=True)
class ChainProblem:
    """Something wrong with a chain; ``where`` points into the config (``("steps", 2, "kind")``)."""

    where: tuple[str | int, ...]
    message: str


def derived_chain(source: str, upload_to_carto: bool) -> list[StepEntry]:
    """The chain the legacy keys give: extract, then (uploading to Carto) a schema step and the load."""
    kinds = [SOURCE_EXTRACT[source]]
    if upload_to_carto:
        kinds += [SOURCE_SCHEMA[source]] if source in SOURCE_SCHEMA else []
        kinds.append(CARTO_LOAD)
    return [StepEntry(kind=kind) for kind in kinds]


def resolve_chain(
    entries: Sequence[StepEntry], context: ChainContext, command_set: CommandSet
) -> tuple[list[ResolvedStep], list[ChainProblem]]:
    """The steps a run of this chain runs in ``command_set`` (skipping kinds the set has no command for),
    and every problem found."""
    kinds = step_kinds()
    steps: list[ResolvedStep] = []
    problems: list[ChainProblem] = []
    written: dict[str, str] = {}  # artifact -> S3 key, of the steps so far that run in this set
    names: dict[str, int] = {}
    for index, entry in enumerate(entries):
        at: tuple[str | int, ...] = ("steps", index)
        kind = kinds.get(entry.kind)
        if kind is None:
            guess = difflib.get_close_matches(entry.kind[:100], kinds, n=1)
            hint = f"did you mean {guess[0]!r}?" if guess else f"known: {', '.join(kinds)}"
            problems.append(ChainProblem((*at, "kind"), f"unknown step kind {echo(entry.kind)} ({hint})"))
            continue
        if kind.step in names:
            problems.append(
                ChainProblem(
                    (*at, "kind"), f"a second {kind.step} step (step {names[kind.step] + 1} is one); one of each"
                )
            )
        names.setdefault(kind.step, index)
        step, step_problems = _resolve_step(at, entry, kind, context, written)
        problems.extend(step_problems)
        if kind.command(command_set) is None:
            continue  # this set relies on what is already in S3 (e.g. the legacy schema files)
        for artifact in kind.writes:
            written[artifact] = step.values[f"output_{artifact}"]
        steps.append(step)
    return steps, problems


def _resolve_step(
    at: tuple[str | int, ...], entry: StepEntry, kind: StepKind, context: ChainContext, written: Mapping[str, str]
) -> tuple[ResolvedStep, list[ChainProblem]]:
    """One step: its connection, the S3 keys it reads (from ``written`` by earlier steps, or standing ones)
    and writes, and its options; with what is wrong with it."""
    problems: list[ChainProblem] = []
    connection, problem = _connection(entry, kind, context)
    if problem:
        problems.append(ChainProblem((*at, "connection" if entry.connection else "kind"), problem))
    values: dict[str, str] = {}
    for artifact in kind.reads:
        if artifact in written:
            values[f"input_{artifact}"] = written[artifact]
        elif artifact not in kind.standing:
            problems.append(
                ChainProblem(
                    (*at, "kind"),
                    f"{entry.kind} reads a {artifact} that no earlier step writes "
                    f"(put a step that writes one before it)",
                )
            )
    key_values = {
        "table": context.table,
        "staging_schema": context.staging_schema,
        "input_name": _stem(values.get("input_csv", "")) or context.table,
    }
    option_values, option_problems = _options(entry, kind, key_values)
    problems.extend(ChainProblem((*at, key), message) for key, message in option_problems)
    key_values |= option_values
    for artifact, template in kind.standing.items():
        values.setdefault(f"input_{artifact}", render_key(template, key_values))
    for artifact, template in kind.writes.items():
        values[f"output_{artifact}"] = render_key(template, key_values)
    if values.get("output_csv") and values.get("output_csv") == values.get("input_csv"):
        problems.append(
            ChainProblem(at, f"{entry.kind} would write the csv it reads ({values['output_csv']}); set output:")
        )
    return ResolvedStep(name=kind.step, kind=kind, connection=connection, values=option_values | values), problems


def chain_problems(entries: Sequence[StepEntry], context: ChainContext) -> list[ChainProblem]:
    """Every problem of a chain in any command set, each once, in the order found."""
    found: dict[tuple[tuple[str | int, ...], str], ChainProblem] = {}
    for command_set in COMMAND_SETS:
        for problem in resolve_chain(entries, context, command_set)[1]:
            found.setdefault((problem.where, problem.message), problem)
    return list(found.values())


def _connection(entry: StepEntry, kind: StepKind, context: ChainContext) -> tuple[str, str | None]:
    """The step's connection id (given, or from the legacy keys, or the one of its type), or a problem."""
    known = connections_of_type(kind.connection)
    if entry.connection is not None:
        chosen = entry.connection
    elif kind.connection == "knack":
        chosen = context.knack_conn or ""
    elif kind.connection == "carto":
        chosen = context.carto_conn
    else:
        chosen = kind.connection
    if kind.connection == "knack" and not context.has_knack_object:
        return chosen, f"{entry.kind} reads a Knack object: it belongs to a knack table (knack/<carto_conn>/...)"
    if chosen not in CONNECTIONS:
        return chosen, (
            f"connection {echo(chosen)} has no secret mapping (connections.py maps: "
            f"{', '.join(known) or 'none of type ' + kind.connection})"
        )
    if CONNECTIONS[chosen].type != kind.connection:
        return chosen, f"{entry.kind} needs a {kind.connection} connection ({', '.join(known)}), not {chosen!r}"
    return chosen, _disagreement(chosen, kind.connection, context) if entry.connection is not None else None


def _disagreement(chosen: str, connection_type: str, context: ChainContext) -> str | None:
    """A step's ``connection:`` may only repeat what the table's folder and legacy keys say: a table in
    ``knack/carto_phl/`` loads into carto_phl, and a production Knack table extracts the production app (and
    stages where the production app's records go)."""
    if connection_type == "knack" and context.knack_conn is not None and chosen != context.knack_conn:
        return (
            f"connection {chosen!r} disagrees with knack_conn_id {context.knack_conn!r}, the Knack app this table "
            "extracts from (and whose staging path it uses)"
        )
    if connection_type == "carto" and chosen != context.carto_conn:
        said_by = {
            "folder": f"the folder knack/{context.carto_conn}/ this file is in",
            "carto_conn_id": f"carto_conn_id {context.carto_conn!r}",
            "default": f"the table's Carto connection {context.carto_conn!r} (the default: to load into "
            f"{chosen}, set carto_conn_id: {chosen})",
        }[context.carto_source]
        return f"connection {chosen!r} disagrees with {said_by}"
    return None


def step_connection(entries: Sequence[StepEntry], connection_type: str) -> str | None:
    """The connection the chain's first step of this type names in ``connection:`` (None if none does)."""
    kinds = step_kinds()
    for entry in entries:
        kind = kinds.get(entry.kind)
        if entry.connection is not None and kind is not None and kind.connection == connection_type:
            return entry.connection
    return None


def _options(
    entry: StepEntry, kind: StepKind, key_values: Mapping[str, str]
) -> tuple[dict[str, str], list[tuple[str, str]]]:
    values: dict[str, str] = {}
    problems: list[tuple[str, str]] = []
    given = entry.options
    for key in given:
        if key not in kind.options:
            known = ", ".join(["kind", "connection", *kind.options])
            problems.append((key, f"{entry.kind} has no option {echo(key)} (its keys: {known})"))
    for name, spec in kind.options.items():
        value = given.get(name)
        if value is None:
            if spec.required:
                problems.append(("kind", f"{entry.kind} needs option {name!r} ({spec.help})"))
            values[name] = render_key(spec.default, key_values)
            continue
        items = value if isinstance(value, list) else [value]
        if isinstance(value, list) != spec.list:
            expected = "a list of names" if spec.list else "one name"
            problems.append((name, f"{name} takes {expected}"))
        bad = [item for item in items if not is_name(OPTION_VALUE, item)]
        if bad:
            problems.append((name, f"{name}: {echo(bad[0])} must match {shape(OPTION_VALUE)}"))
        values[name] = ",".join(items)
    return values, problems


def render_key(template: str, values: Mapping[str, str]) -> str:
    return PLACEHOLDER.sub(lambda match: values.get(match.group(1), match.group(0)), template)


def _stem(key: str) -> str:
    return key.rsplit("/", 1)[-1].removesuffix(".csv") if key else ""
