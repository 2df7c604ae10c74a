"""A seed's world: a small catalog of real ``Table`` objects, the stack's job definitions, the settings, the
simulated window and the fault profile, all drawn from ``random.Random(seed)`` and nothing else.

Each table's schedule is drawn as the minutes (and hours) it fires at, and written as the cron the config
holds, so the fires a tick must dispatch are computed here, independently of the product's schedule code.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from databridge_pipeline.domain.catalog import Catalog
from databridge_pipeline.domain.job_requests import run_job_requests
from databridge_pipeline.domain.settings import PipelineSettings, settings_for
from databridge_pipeline.domain.tables import Table, TableConfig, TableId

from .faults import FaultProfile, profile_for

JOB_NAME_LIMIT = 128  # AWS Batch's
EPOCH = datetime(2026, 11, 24, tzinfo=UTC)


@dataclass(frozen=True)
class Schedule:
    """When a table fires: at these minutes of these hours (None: every hour), in UTC."""

    minutes: tuple[int, ...]
    hours: tuple[int, ...] | None = None

    @property
    def cron(self) -> str:
        hours = "*" if self.hours is None else ",".join(map(str, self.hours))
        return f"{','.join(map(str, self.minutes))} {hours} * * *"

    def fires(self, after: datetime, until: datetime) -> list[datetime]:
        """Every fire with ``after < t <= until``."""
        moment = after.replace(second=0, microsecond=0) + timedelta(minutes=1)
        fires = []
        while moment <= until:
            if moment.minute in self.minutes and (self.hours is None or moment.hour in self.hours):
                fires.append(moment)
            moment += timedelta(minutes=1)
        return fires


@dataclass(frozen=True)
class TableSpec:
    table: Table
    schedule: Schedule
    doomed: str | None = None  # why AWS Batch refuses one of its jobs for good, if it does

    @property
    def id(self) -> str:
        return str(self.table.id)


@dataclass(frozen=True)
class World:
    seed: int
    tables: tuple[TableSpec, ...]
    settings: PipelineSettings
    job_definitions: frozenset[str]
    start: datetime
    window: timedelta  # fires are dispatched in [start, start + window]; then the drain
    drain: timedelta  # the longest the drain runs
    profile: FaultProfile

    @property
    def catalog(self) -> Catalog:
        return Catalog([spec.table for spec in self.tables])

    @property
    def end_of_fires(self) -> datetime:
        return self.start + self.window

    def spec(self, table_id: str) -> TableSpec | None:
        return next((spec for spec in self.tables if spec.id == table_id), None)


def _schedule(rng: random.Random) -> Schedule:
    kind = rng.choice(["15", "30", "60", "60", "pair", "two-hourly"])
    offset = rng.randrange(15)
    if kind == "15":
        return Schedule(tuple(sorted((offset + m) % 60 for m in (0, 15, 30, 45))))
    if kind == "30":
        return Schedule(tuple(sorted((offset + m) % 60 for m in (0, 30))))
    if kind == "pair":
        return Schedule(tuple(sorted({rng.randrange(60), rng.randrange(60)})))
    if kind == "two-hourly":
        return Schedule((rng.randrange(60),), tuple(range(rng.randrange(2), 24, 2)))
    return Schedule((rng.choice([0, 5, rng.randrange(60)]),))


def _config(rng: random.Random, schedule: Schedule, chain: str) -> TableConfig:
    values: dict[str, object] = {
        "schedule_interval": schedule.cron,
        "retries": rng.choice([0, 1, 1, 2]),
        "retry_delay_minutes": rng.choice([0, 1, 2, 5, 10]),
        "timeout_minutes": rng.choice([20, 30, 45, 60]),
    }
    if chain == "two":
        values |= {"upload_to_carto": True, "carto_users": ["publicuser"]}
    if chain == "three":
        values |= {
            "carto_users": ["publicuser"],
            "steps": [
                {"kind": "airtable_extract"},
                {"kind": "ais_geocode", "query_fields": ["street_address"], "ais_fields": ["lat"], "output": "geo"},
                {"kind": "carto_load", "carto_table": "geo"},
            ],
        }
    return TableConfig.model_validate(values)


def _table(rng: random.Random, index: int, long_name: bool) -> tuple[Table, Schedule]:
    chain = rng.choice(["one", "two", "two", "three"])
    source = "airtable" if chain == "three" else "databridge"
    name = f"t{index}_" + "x" * 125 if long_name else f"t{index}"
    schedule = _schedule(rng)
    return Table(id=TableId.parse(f"{source}/sim/{name}"), config=_config(rng, schedule, chain)), schedule


def _doomed(table: Table, settings: PipelineSettings, definitions: frozenset[str]) -> str | None:
    for request in run_job_requests(table, settings, "scheduled-20261124T0000Z"):
        if len(request.job_name) > JOB_NAME_LIMIT:
            return f"job name of {request.step} is {len(request.job_name)} characters"
        if request.job_definition not in definitions:
            return f"job definition {request.job_definition} does not exist"
    return None


def build_world(seed: int) -> World:
    rng = random.Random(seed)
    settings = settings_for("prod")
    long_name = rng.random() < 0.08
    tables = [_table(rng, i, long_name and i == 0) for i in range(rng.randint(2, 6))]
    definitions = {r.job_definition for t, _ in tables for r in run_job_requests(t, settings, "r")}
    if rng.random() < 0.1:  # the stack lacks a job definition (a step kind deployed before its stack)
        definitions.discard(rng.choice(sorted(definitions)))
    frozen = frozenset(definitions)
    specs = tuple(TableSpec(t, s, _doomed(t, settings, frozen)) for t, s in tables)
    start = EPOCH + timedelta(minutes=rng.randrange(0, 24 * 60))
    return World(
        seed=seed,
        tables=specs,
        settings=settings,
        job_definitions=frozen,
        start=start,
        window=timedelta(minutes=rng.choice([60, 90, 120])),
        drain=timedelta(hours=6),
        profile=profile_for(rng),
    )
