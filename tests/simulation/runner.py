"""Run seeds: one seed's world, simulation and invariants, and the one line that reproduces a failure."""

from __future__ import annotations

import logging
import os
import time
import traceback
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import ProcessPoolExecutor
from contextlib import contextmanager, nullcontext, redirect_stdout
from dataclasses import dataclass, field

from fakes import FakeBatch

from databridge_pipeline.observability import SERVICE, logger

from .invariants import Violation, check, run_of
from .simulation import Simulation
from .trace import Trace
from .world import build_world

REPRODUCE = ".venv/bin/python -m tests.simulation --seed"


@dataclass
class SeedResult:
    seed: int
    profile: str
    violations: list[Violation]
    trace: Trace | None  # None once the result has crossed from a worker process (--jobs)
    stats: dict[str, int] = field(default_factory=dict)

    @property
    def digest(self) -> str:
        assert self.trace is not None
        return self.trace.digest()

    @property
    def ok(self) -> bool:
        return not self.violations

    def line(self) -> str:
        """The one line a failure prints."""
        if self.ok:
            return f"seed {self.seed} passed ({self.profile})"
        first = self.violations[0]
        more = f" (+{len(self.violations) - 1} more)" if len(self.violations) > 1 else ""
        return f"seed {self.seed} failed: {first.invariant}: {first.fact}{more} — reproduce: {REPRODUCE} {self.seed}"


@contextmanager
def quiet() -> Iterator[None]:
    """The services' log lines and EMF metrics are still made, as in Lambda, but go nowhere."""
    handler = logger.registered_handler
    assert isinstance(handler, logging.StreamHandler)
    std = logging.getLogger(SERVICE)  # the Logger's own: kept from pytest's log capture too
    propagate = std.propagate
    with open(os.devnull, "w") as sink:
        previous = handler.setStream(sink)
        std.propagate = False
        try:
            with redirect_stdout(sink):
                yield
        finally:
            handler.setStream(previous)
            std.propagate = propagate


def run_seed(seed: int, batch_wrapper: Callable[[FakeBatch], object] | None = None) -> SeedResult:
    world = build_world(seed)
    sim = Simulation(world, batch_wrapper)
    with quiet():
        try:
            sim.run()
        except Exception as error:  # a bug or a hang of the harness: this seed's one line says so
            sim.trace.note("the harness raised:\n" + traceback.format_exc())
            return SeedResult(seed, world.profile.name, [_harness(error)], sim.trace, _stats(sim))
        violations = check(sim)
    return SeedResult(seed, world.profile.name, violations, sim.trace, _stats(sim))


def _harness(error: Exception) -> Violation:
    return Violation("harness", f"{type(error).__name__}: {error} (--trace shows where)")


def _stats(sim: Simulation) -> dict[str, int]:
    record = sim.record
    stats = {
        "tables": len(sim.world.tables),
        "runs": len(sim.ledger.runs),
        "jobs": len(sim.driver.registry),
        "posts": len(record.posted),
        "tolerated": sum(record.tolerated.values()),
        "invocations": record.invocations,
        "trace": len(sim.trace),
        "dlq": len(sim.sqs.dlq),
    }
    for message in sim.sqs.dlq:  # the DLQ's messages by what became of their run
        run = sim.ledger.runs.get(run_of(message.body, message.message_id))
        state = "none" if run is None else "finished" if run.finished else "running"
        stats[f"dlq_{state}"] = stats.get(f"dlq_{state}", 0) + 1
    return stats


@dataclass
class Summary:
    results: list[SeedResult]
    seconds: float

    @property
    def failed(self) -> list[SeedResult]:
        return [r for r in self.results if not r.ok]

    def lines(self) -> list[str]:
        count = len(self.results)
        rate = count / self.seconds if self.seconds else 0.0
        by_invariant = Counter(
            v.invariant for r in self.failed for v in {v.invariant: v for v in r.violations}.values()
        )
        lines = [f"{count} seeds in {self.seconds:.1f} s ({rate:.1f} seeds/s): {len(self.failed)} failed"]
        for invariant, seeds in by_invariant.most_common():
            examples = [r.seed for r in self.failed if any(v.invariant == invariant for v in r.violations)][:8]
            lines.append(f"  {invariant}: {seeds} seed(s), e.g. {' '.join(map(str, examples))}")
        total = Counter[str]()
        for result in self.results:
            total.update(result.stats)
        lines.append(f"  duplicate alerts tolerated (the harness cost a mark-sent): {total['tolerated']}")
        lines.append(
            f"  DLQ: {total['dlq']} message(s) in {sum(bool(r.stats.get('dlq')) for r in self.results)} seed(s); "
            f"their run finished {total['dlq_finished']}, running {total['dlq_running']}, none {total['dlq_none']}"
        )
        return lines


def _light(seed: int) -> SeedResult:
    """A seed's result without its trace, to send back from a worker process."""
    result = run_seed(seed)
    result.trace = None
    return result


def run_seeds(seeds: range, on_result: Callable[[SeedResult], None] | None = None, jobs: int = 1) -> Summary:
    """Run ``seeds`` in order, in ``jobs`` processes; results come back in seed order."""
    started = time.perf_counter()
    results = []
    with ProcessPoolExecutor(jobs) if jobs > 1 else nullcontext() as pool:
        done = pool.map(_light, seeds, chunksize=4) if pool is not None else map(run_seed, seeds)
        for result in done:
            results.append(result)
            if on_result is not None:
                on_result(result)
    return Summary(results, time.perf_counter() - started)
