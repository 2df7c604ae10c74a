"""The harness events of a seed, planned on its simulation: the minute ticks (lost, late or twice, as
EventBridge Scheduler may), Slack outages, the unreadable item planted on a table's slot, Batch forgetting
old jobs, and the drain (faults off, schedule off) when the window of fires is over."""

from __future__ import annotations

from datetime import datetime, timedelta
from functools import partial
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .simulation import Simulation

MINUTE = timedelta(minutes=1)
SETTLE_AFTER = timedelta(minutes=10)  # of the drain, before the loop may stop once everything settled
FORGET_EVERY = timedelta(minutes=30)


def plan_world(sim: Simulation) -> None:
    world, rng = sim.world, sim.rng
    sim.at(world.start, "minute", lambda: _minute(sim, world.start))
    window = world.window.total_seconds()
    for _ in range(world.profile.slack_outages):
        posts = rng.randint(1, 15)
        sim.at(world.start + timedelta(seconds=rng.uniform(0, window)), "slack outage", partial(_outage, sim, posts))
    if world.profile.unreadable:
        sim.at(world.start + timedelta(seconds=rng.uniform(300, window)), "unreadable", lambda: _plant(sim))
    if world.profile.forget:
        sim.at(world.start + FORGET_EVERY, "forget", lambda: _forget(sim))
    sim.at(world.end_of_fires + timedelta(seconds=30), "drain", lambda: _drain(sim))


def _minute(sim: Simulation, minute: datetime) -> None:
    """Each minute: the next minute planned, this minute's tick delivered (or lost, or twice)."""
    world, rng, profile = sim.world, sim.rng, sim.injector.profile
    sim.at(minute + MINUTE, "minute", lambda: _minute(sim, minute + MINUTE))
    if minute >= world.end_of_fires + SETTLE_AFTER and sim.settled():
        sim.trace.note("settled")
        sim.record.settled = True
        sim.stop()
        return
    if rng.random() < profile.tick_lost:
        sim.record.ticks_lost += 1
        sim.trace.note(f"tick {minute:%H:%M} lost")
        return
    copies = 2 if rng.random() < profile.tick_duplicate else 1
    for copy in range(copies):
        late = rng.uniform(0.0, 2.0) if copy == 0 else rng.uniform(2.0, 90.0)
        sim.at(minute + timedelta(seconds=late), "tick", lambda: _tick(sim, minute))


def _tick(sim: Simulation, minute: datetime) -> None:
    """A dispatcher invocation for the tick at ``minute`` (one at a time: a second waits, as Lambda's reserved
    concurrency of 1 throttles it and the async retry comes a moment later)."""
    if sim.live_count("dispatcher"):
        sim.at(sim.clock() + timedelta(seconds=1), "tick throttled", lambda: _tick(sim, minute))
        return
    world = sim.world
    fires = minute <= world.end_of_fires
    settings = world.settings if fires else world.settings.model_copy(update={"schedule_enabled": False})
    inv = sim.start("dispatcher", minute, settings, fires)
    sim.trace.note(f"{inv.name} tick {minute:%H:%M}{'' if fires else ' (schedule off)'}")


def _outage(sim: Simulation, posts: int) -> None:
    sim.alerts.fail_next(posts)
    sim.trace.note(f"slack down for the next {posts} posts")


def _plant(sim: Simulation) -> None:
    """An item only another version could read, holding a table's slot; on a table whose slot is free now
    (planted over a running run, it would stand for a corruption no code could have made)."""
    table = sim.rng.choice(sim.world.tables).id
    if sim.ledger.slot_holders.get(table) is not None:
        if sim.clock() < sim.world.end_of_fires:
            sim.at(sim.clock() + timedelta(minutes=3), "unreadable", lambda: _plant(sim))
        return
    run_id = f"manual-unreadable{len(sim.record.planted) + 1}"
    sim.ledger.plant_unreadable(table, run_id)
    sim.record.planted.append((table, run_id))
    sim.trace.note(f"planted an unreadable item {table}/{run_id} on its slot")


def _forget(sim: Simulation) -> None:
    if sim.clock() >= sim.world.end_of_fires:
        return
    if sim.rng.random() < sim.world.profile.forget:
        sim.driver.forget_one(older_than=timedelta(minutes=20))
    sim.at(sim.clock() + FORGET_EVERY, "forget", lambda: _forget(sim))


def _drain(sim: Simulation) -> None:
    sim.injector.calm()
    sim.alerts.fail_next(0)
    sim.drop_warm()
    sim.trace.note("drain: faults off, schedule off")
