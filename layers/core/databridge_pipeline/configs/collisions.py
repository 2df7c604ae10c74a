"""No two tables of a catalog may share a staged object or a job name: checked once every file is loaded.

In each command set a table claims every S3 key its steps write (the staging CSVs, a schema step's JSON
schema) or read (a standing schema file too), and every job name its steps run as. Two tables collide on
a key one of them writes and the other writes or reads (two that only read the same standing file change
nothing), and on any job name. ``databridge/lni/x`` and ``airtable/lni/x`` both stage
``staging/lni/x.csv``; so does one Knack table under both Carto accounts, unless one of them extracts
from ``knack_test`` (which stages under ``<schema>_test``, as the legacy configs do).

Of the tables sharing something, the first by path owns it and each other one is refused, at the line of
the key that makes it claim it, naming the owner's file; one problem per pair of files.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from databridge_pipeline.configs.flat_yaml import Where
from databridge_pipeline.configs.planned import Planned, PlannedStep
from databridge_pipeline.configs.problems import ConfigProblem
from databridge_pipeline.domain.settings import CommandSet
from databridge_pipeline.domain.step_kinds import COMMAND_SETS

JOB = "job name "
_WRITES = ("output_csv", "output_schema")
_READS = ("input_csv", "input_schema")
_LISTED = 3  # the other things a pair shares, named after the first


@dataclass(frozen=True)
class Claim:
    """Something a table's run uses that no other table's may: an S3 key or ``job name <name>``."""

    thing: str
    writes: bool
    where: Where
    order: int  # in the table's run


def collision_problems(catalog: Sequence[Planned]) -> list[ConfigProblem]:
    """One problem for each table that shares something with an earlier one (by path), at its own file."""
    shared: dict[tuple[str, str], dict[str, tuple[int, int, Claim]]] = {}
    by_file = {planned.table.source_file: planned for planned in catalog}
    for rank, command_set in enumerate(COMMAND_SETS):
        for table, owner, claim in _collisions(catalog, command_set):
            things = shared.setdefault((table.table.source_file, owner.table.source_file), {})
            things.setdefault(claim.thing, (rank, claim.order, claim))
    return [
        _problem(by_file[table], by_file[owner], [claim for *_, claim in sorted(things.values(), key=lambda t: t[:2])])
        for (table, owner), things in shared.items()
    ]


def _collisions(catalog: Sequence[Planned], command_set: CommandSet) -> Iterator[tuple[Planned, Planned, Claim]]:
    """``(table, owner, claim)``: ``table`` claims what ``owner``, the first table by path to write it (or to
    run a job of that name), claims too."""
    claimants: dict[str, list[tuple[Planned, Claim]]] = {}
    for planned in sorted(catalog, key=lambda p: p.table.source_file):
        for claim in claims(planned, command_set):
            claimants.setdefault(claim.thing, []).append((planned, claim))
    for others in claimants.values():
        owner = next((planned for planned, claim in others if claim.writes), None)
        if owner is None or len(others) < 2:
            continue
        for planned, claim in others:
            if planned is not owner:
                yield planned, owner, claim


def claims(planned: Planned, command_set: CommandSet) -> list[Claim]:
    """What the table's run in ``command_set`` claims, each once, in the order its steps use it (a key it
    both writes and reads counts as written)."""
    found: dict[str, Claim] = {}
    for step in planned.steps[command_set]:
        values = step.step.values
        keys = [(values[name], True) for name in _WRITES if values.get(name)]
        keys += [(values[name], False) for name in _READS if values.get(name)]
        for key, writes in [*keys, (JOB + step.request.job_name, True)]:
            seen = found.get(key)
            if seen is None:
                found[key] = Claim(key, writes, _where(planned, step, key), len(found))
            elif writes and not seen.writes:
                found[key] = Claim(key, True, seen.where, seen.order)
    return list(found.values())


def _where(planned: Planned, step: PlannedStep, key: str) -> Where:
    """The step option the config gives that names ``key`` (``output: oia_services`` for
    ``staging/x/oia_services.csv``), else where the step comes from."""
    index = step.where[1] if len(step.where) > 1 else None
    if not isinstance(index, int) or planned.table.config.steps is None:
        return step.where
    stem = key.rsplit("/", 1)[-1].rsplit(".", 1)[0]
    for name, value in planned.table.config.steps[index].options.items():
        if value == stem:
            return ("steps", index, name)
    return step.where


def _problem(table: Planned, owner: Planned, shared: list[Claim]) -> ConfigProblem:
    """``shared``: in the order the table's runs claim them, the first command set's first."""
    first, more = shared[0], shared[1:]
    other = f"{owner.table.source_file} ({owner.table.id})"
    if first.thing.startswith(JOB):
        said = f"{first.thing} is also a step's of {other}; Batch, its logs and alerts could not tell the two apart"
    elif first.writes:
        said = f"{first.thing} is also staged by {other}; two tables would overwrite each other's data"
    else:
        said = f"{first.thing}, which this table reads, is staged by {other}; it would read the other table's data"
    remedy = "rename one (a table's path names the keys it stages and its job names)"
    if more:
        named = ", ".join(claim.thing for claim in more[:_LISTED])
        rest = f" and {len(more) - _LISTED} more" if len(more) > _LISTED else ""
        remedy += f"; they also share {named}{rest}"
    return table.problem(first.where, f"{said}: {remedy}")
