"""The harness's own tests, each of which can fail: a seed is deterministic (whatever the hash seed), a planted
double submit is caught, a crash unwinds a whole invocation past the services' ``except Exception``, a lost
response leaves the call's effect done, and a hung or failing invocation is reported, never waited on."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from fakes import FakeBatch

from databridge_pipeline.domain.job_requests import run_job_requests
from databridge_pipeline.domain.run_request import RunRequest
from databridge_pipeline.domain.runs import new_run

from .baton import Baton, Crash, HarnessHung
from .faults import FaultProfile, ReadTimeoutError
from .runner import run_seed
from .simulation import Simulation
from .world import build_world

pytestmark = pytest.mark.simulation

ROOT = Path(__file__).resolve().parents[2]
SEED = 3


def test_a_seed_run_twice_gives_the_same_trace() -> None:
    first, second = run_seed(SEED), run_seed(SEED)
    assert first.trace is not None and len(first.trace) > 100
    assert first.digest == second.digest


def test_the_trace_does_not_depend_on_the_hash_seed() -> None:
    """Two processes with different PYTHONHASHSEED: no set or dict order of str may steer the simulation."""
    digests = set()
    for hash_seed in ("1", "2"):
        done = subprocess.run(
            [sys.executable, "-m", "tests.simulation", "--seed", str(SEED), "--digest"],
            cwd=ROOT,
            env={**os.environ, "PYTHONHASHSEED": hash_seed},
            capture_output=True,
            text=True,
            timeout=120,
        )
        lines = [line for line in done.stdout.splitlines() if line.startswith("digest ")]
        assert lines, done.stdout + done.stderr
        digests.add(lines[0])
    assert len(digests) == 1, digests


class DoubleSubmit:
    """A deliberately broken Batch: every SubmitJob makes two jobs for the same attempt."""

    def __init__(self, fake: FakeBatch) -> None:
        self._fake = fake

    def submit(self, request: Any) -> str:
        job_id = self._fake.submit(request)
        self._fake.submit(request)
        return job_id

    def __getattr__(self, name: str) -> Any:
        return getattr(self._fake, name)


def test_a_double_submit_is_caught_by_one_job_per_attempt() -> None:
    result = run_seed(SEED, batch_wrapper=DoubleSubmit)
    caught = [v for v in result.violations if v.invariant == "one_job_per_attempt"]
    assert caught, result.violations
    assert caught[0].fact.count("job-") == 2


def _simulation(**faults: Any) -> Simulation:
    world = build_world(SEED)
    return Simulation(replace(world, profile=FaultProfile(name="test", switch=0.0, **faults)))


def _record(table: str) -> dict[str, Any]:
    return {"messageId": "message-test", "body": json.dumps({"table": table, "trigger": "manual"})}


def test_a_crash_unwinds_the_whole_invocation() -> None:
    """The submitter catches Exception per record and reports it in batchItemFailures; a crash must pass
    through that and end the invocation with no response at all, as a Lambda timeout does."""
    sim = _simulation(crash=1.0)
    inv = sim.start("submitter", [_record(sim.world.tables[0].id)], sim.world.settings, payload=[])
    sim.run_invocation(inv)
    assert isinstance(inv.task.error, Crash)
    assert inv.task.result is None
    assert sim.ledger.runs == {}


def test_a_lost_response_leaves_the_effect_done() -> None:
    sim = _simulation(lost=1.0)
    spec = sim.world.tables[0]
    inv = sim.start("submitter", [], sim.world.settings)
    request = RunRequest.model_validate({"table": spec.id, "trigger": "manual"})
    run = new_run(spec.table, request, "manual-test", sim.clock(), "legacy")
    with pytest.raises(ReadTimeoutError):
        inv.container.wiring.ledger.start_run(run)
    assert sim.ledger.get_run(spec.id, "manual-test") is not None
    job = run_job_requests(spec.table, sim.world.settings, "manual-test")[0]
    with pytest.raises(ReadTimeoutError):
        inv.container.wiring.batch.submit(job)
    assert [j.request for j in sim.batch.jobs.values()] == [job]


def test_a_hung_invocation_fails_the_harness_with_its_name() -> None:
    baton, release = Baton(wait=0.2), threading.Event()
    task = baton.task("submitter#7", lambda: release.wait(5))
    with pytest.raises(HarnessHung, match="submitter#7"):
        baton.resume(task)
    release.set()
    task.thread.join(5)


def test_what_an_invocation_raises_is_kept() -> None:
    baton = Baton(wait=5)

    def body() -> object:
        raise KeyError("table")

    task = baton.task("job_events#1", body)
    baton.resume(task)
    assert task.done
    assert isinstance(task.error, KeyError)


def test_a_bug_of_the_harness_is_reported_not_swallowed(monkeypatch: pytest.MonkeyPatch) -> None:
    """A hook of the harness that raises inside a service's call must not be caught by that service's
    ``except Exception``: it crashes the invocation and the seed fails on the harness invariant."""

    def broken(*args: object) -> None:
        raise RuntimeError("a bookkeeping bug")

    monkeypatch.setattr(Simulation, "acted", broken)
    result = run_seed(SEED)
    assert result.violations[0].invariant == "harness"
    assert "a bookkeeping bug" in result.violations[0].fact
