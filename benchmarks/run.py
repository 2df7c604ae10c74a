"""Benchmarks: config load, dispatch at scale, cold-start imports, event handling, and the monthly cost model.

Run from the project's environment: `python benchmarks/run.py [--json OUT]` (or `make bench`). Prints a
table and writes JSON. Nothing here touches the network: AWS is stubbed in-process.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))

from cost_model import legacy_monthly_usd, pipeline_monthly_usd  # noqa: E402
from table_mix import generate_configs  # noqa: E402

from databridge_pipeline.adapters.batch import BatchJobs  # noqa: E402
from databridge_pipeline.adapters.run_queue import RunQueue  # noqa: E402
from databridge_pipeline.catalog import Catalog, load_catalog, write_manifest  # noqa: E402
from databridge_pipeline.config import load_tables  # noqa: E402
from databridge_pipeline.dispatcher import Dispatcher  # noqa: E402
from databridge_pipeline.job_events import JobEvents  # noqa: E402
from databridge_pipeline.local.batch_events import job_state_change  # noqa: E402
from databridge_pipeline.run_actions import RunActions  # noqa: E402
from databridge_pipeline.runs import Run, StepRecord  # noqa: E402
from databridge_pipeline.settings import settings_for  # noqa: E402

TARGETS = {"tick_s": 0.5, "import_ms": 300.0, "manifest_10000_s": 1.0}


def best_of(repeat: int, work: Callable[[], Any]) -> float:
    """The median wall time of ``repeat`` runs (seconds)."""
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        work()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


# --- stubs: the AWS side of RunActions, in memory ---------------------------------------------------------


class MemoryLedger:
    """Just what the services call, backed by a dict (no conditional-write races to model here)."""

    def __init__(self) -> None:
        self.runs: dict[tuple[str, str], Run] = {}
        self.last_tick: datetime | None = None

    def get_run(self, table_id: str, run_id: str) -> Run | None:
        return self.runs.get((table_id, run_id))

    def start_run(self, run: Run) -> Run:
        return self.save_run(run)

    def save_run(self, run: Run) -> Run:
        saved = run.model_copy(update={"version": run.version + 1})
        self.runs[(run.table, run.run_id)] = saved
        return saved

    def free_slot(self, table_id: str, run_id: str) -> None:
        return None

    def active_runs(self) -> list[Run]:
        return []

    def slots(self) -> list[tuple[str, str, Run | None]]:
        return [(table, run_id, run) for (table, run_id), run in self.runs.items() if not run.finished]

    def pending_alert_runs(self) -> list[Run]:
        return [run for run in self.runs.values() if "pending" in (run.alert, run.stuck_alert)]

    def cursor(self) -> datetime | None:
        return self.last_tick

    def advance_cursor(self, tick: datetime) -> bool:
        self.last_tick = tick
        return True


class CountingSqs:
    def __init__(self) -> None:
        self.batch_calls = 0
        self.messages = 0

    def send_message_batch(self, QueueUrl: str, Entries: list[dict[str, Any]]) -> dict[str, Any]:
        self.batch_calls += 1
        self.messages += len(Entries)
        return {"Successful": [{"Id": e["Id"]} for e in Entries], "Failed": []}

    def send_message(self, **kwargs: Any) -> dict[str, Any]:
        return {"MessageId": "m"}


class StubBatch:
    def __init__(self) -> None:
        self.calls = 0

    def submit_job(self, **kwargs: Any) -> dict[str, Any]:
        self.calls += 1
        return {"jobId": f"job-{self.calls}", "jobName": kwargs["jobName"]}

    def describe_jobs(self, jobs: list[str]) -> dict[str, Any]:
        """Every tenth job has SUCCEEDED (its event was lost), the others are still RUNNING."""
        if len(jobs) > 100:
            raise SystemExit(f"DescribeJobs called with {len(jobs)} ids; AWS takes at most 100")
        return {"jobs": [{"jobId": j, "status": "SUCCEEDED" if j.endswith("0") else "RUNNING"} for j in jobs]}


class NoAlerts:
    def post(self, alert: Any) -> None:
        return None


def actions(clock: Callable[[], datetime]) -> tuple[RunActions, CountingSqs, StubBatch, MemoryLedger]:
    sqs, batch, ledger = CountingSqs(), StubBatch(), MemoryLedger()
    run_actions = RunActions(
        settings=settings_for("prod"),
        ledger=ledger,  # type: ignore[arg-type]
        batch=BatchJobs(batch),
        queue=RunQueue(sqs, "https://sqs.us-east-1.amazonaws.com/123456789012/runs"),
        alerts=NoAlerts(),
        clock=clock,
        region="us-east-1",
        log_group="/aws/batch/job",
    )
    return run_actions, sqs, batch, ledger


# --- the benchmarks ---------------------------------------------------------------------------------------


def bench_config_load(work: Path) -> dict[str, Any]:
    results: dict[str, Any] = {"yaml_s": {}, "manifest_s": {}}
    examples = ROOT / "table_configs"
    results["yaml_s"]["examples"] = best_of(5, lambda: load_tables(examples))
    for count in (1000, 10000):
        folder = work / f"configs_{count}"
        generate_configs(folder, count)
        manifest = work / f"manifest_{count}.json"
        results["yaml_s"][str(count)] = best_of(3 if count > 1000 else 5, lambda f=folder: load_tables(f))
        write_manifest(folder, manifest)
        results["manifest_s"][str(count)] = best_of(5, lambda m=manifest: load_catalog(m))
        results[f"manifest_bytes_{count}"] = manifest.stat().st_size
    return results


def bench_dispatch(work: Path) -> dict[str, Any]:
    catalog = load_catalog(work / "manifest_10000.json")
    tick = datetime(2026, 11, 24, 5, 0, tzinfo=UTC)  # many daily tables fire at 05:00 UTC
    result: dict[str, Any] = {"tables": len(catalog)}
    for label, window in (("tick", timedelta(minutes=1)), ("catch_up_1h", timedelta(hours=1))):
        timings, due, calls = [], 0, 0
        for _ in range(5):
            run_actions, sqs, _, ledger = actions(lambda: tick)
            ledger.last_tick = tick - window
            dispatcher = Dispatcher(catalog, run_actions)
            start = time.process_time()
            outcome = dispatcher.tick(tick)
            timings.append(time.process_time() - start)
            due, calls = outcome.dispatched, sqs.batch_calls
            if calls != math.ceil(due / 10):
                raise SystemExit(f"dispatch {label}: {calls} SendMessageBatch calls for {due} runs")
        result[label] = {"due": due, "compute_s": statistics.median(timings), "send_message_batch_calls": calls}
    return result


def runtime_python(work: Path) -> tuple[str, dict[str, str], str]:
    """An interpreter like the Lambda runtime's: Python 3.12 with only the layer's dependencies, bytecode
    compiled, and the core on PYTHONPATH (compiled too). Built once into .bench-venv; falls back to this
    interpreter (with the dev tools installed, so slower imports) when no python3.12 is found."""
    installed = sorted(Path.home().glob(".pyenv/versions/3.12*/bin/python3.12"))
    python312 = str(installed[-1]) if installed else shutil.which("python3.12")
    core = work / "core"
    shutil.copytree(ROOT / "layers" / "core" / "databridge_pipeline", core / "databridge_pipeline")
    if python312 is None:
        return sys.executable, {"PYTHONPATH": str(core)}, f"this interpreter ({sys.version.split()[0]}, dev venv)"
    venv = ROOT / ".bench-venv"
    if not (venv / "bin" / "python").exists():
        subprocess.run([python312, "-m", "venv", str(venv)], check=True)
        requirements = ROOT / "layers" / "deps" / "requirements.txt"
        pip = [str(venv / "bin" / "python"), "-m", "pip", "install", "--quiet", "-r", str(requirements)]
        subprocess.run(pip, check=True)
    python = str(venv / "bin" / "python")
    subprocess.run([python, "-m", "compileall", "-q", str(core)], check=True)
    return python, {"PYTHONPATH": str(core)}, "Python 3.12, layer dependencies only, bytecode compiled"


def bench_imports(work: Path) -> dict[str, Any]:
    """Cold start of each handler module in a fresh interpreter: the imports plus its module-level wiring."""
    python, extra, described = runtime_python(work)
    env = {
        **{k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"},
        **extra,
        "AWS_ACCESS_KEY_ID": "x", "AWS_SECRET_ACCESS_KEY": "x",
        "AWS_DEFAULT_REGION": "us-east-1", "AWS_REGION": "us-east-1",
        "ENVIRONMENT": "prod", "LEDGER_TABLE": "ledger", "RUN_QUEUE_URL": "https://sqs.us-east-1.amazonaws.com/1/runs",
        "S3_BUCKET": "bucket", "EXTRACT_JOB_QUEUE": "q1", "CARTO_JOB_QUEUE": "q2",
        "JOB_DEFINITION_PREFIX": "d",
        "DEFAULT_RETRIES": "2", "SLACK_SECRET_NAME": "s", "SLACK_CHANNEL": "#c",
        "TABLE_CONFIGS": str(work / "manifest_1000.json"),
    }  # fmt: skip
    probe = (
        "import time, runpy, sys; t = time.perf_counter(); runpy.run_path(sys.argv[1]); "
        "print((time.perf_counter() - t) * 1000)"
    )
    result: dict[str, Any] = {"ms": {}, "ms_xray": {}, "imports_only_ms": {}, "heaviest": {}, "interpreter": described}
    for name in ("dispatcher", "submitter", "job_events"):
        app = str(ROOT / "functions" / name / "app.py")
        # The template's default (XRayTracing=false), then with the X-Ray SDK loaded by the Tracer.
        for key, tracing_off in (("ms", "true"), ("ms_xray", "false")):
            probe_env = {**env, "POWERTOOLS_TRACE_DISABLED": tracing_off}
            runs = []
            for _ in range(5):
                out = subprocess.run(
                    [python, "-c", probe, app], env=probe_env, capture_output=True, text=True, check=True
                )
                runs.append(float(out.stdout.strip().splitlines()[-1]))
            result[key][name] = statistics.median(runs)
        totals, trace = [], ""
        for _ in range(5):
            trace = subprocess.run(
                [python, "-X", "importtime", "-c", probe, app],
                env={**env, "POWERTOOLS_TRACE_DISABLED": "true"}, capture_output=True, text=True, check=True,
            ).stderr  # fmt: skip
            totals.append(sum(ms for _, ms in _top_level_imports(trace)))
        result["imports_only_ms"][name] = statistics.median(totals)
        result["heaviest"][name] = _heaviest_imports(trace)
    return result


def _heaviest_imports(trace: str, top: int = 5) -> list[tuple[str, float]]:
    """Top-level imports by cumulative milliseconds, from ``-X importtime`` output."""
    return sorted(_top_level_imports(trace), key=lambda entry: -entry[1])[:top]


def _top_level_imports(trace: str) -> list[tuple[str, float]]:
    """``(module, cumulative ms)`` of each top-level import. Lines read
    ``import time: self | cumulative | name``, the name indented two spaces per nesting level."""
    entries = []
    for line in trace.splitlines():
        fields = line.removeprefix("import time:").split("|")
        if len(fields) != 3 or not fields[1].strip().isdigit():
            continue
        name = fields[2]
        if name.startswith(" ") and not name.startswith("  "):
            entries.append((name.strip(), int(fields[1]) / 1000))
    return entries


def extract_submitted(table: str, run_id: str, job_id: str, at: datetime) -> Run:
    """A run whose extract job ``job_id`` was submitted at ``at``, its load still to come."""
    return Run(
        table=table,
        run_id=run_id,
        trigger="manual",
        steps=(
            StepRecord(name="extract", status="submitted", attempts=1, job_id=job_id, since=at),
            StepRecord(name="load"),
        ),
        created_at=at,
        updated_at=at,
        version=2,
    )


def bench_job_events(count: int = 1000) -> dict[str, Any]:
    now = datetime(2026, 11, 24, 11, 30, tzinfo=UTC)
    run_actions, _, batch, ledger = actions(lambda: now)
    catalog = Catalog(load_tables(ROOT / "table_configs"))
    table = catalog.get("databridge/lni/inspections")
    assert table is not None
    service = JobEvents(catalog, run_actions)
    events = []
    for index in range(count):
        run_id = f"manual-{index:05}"
        job = {
            "jobArn": f"arn:aws:batch:us-east-1:123456789012:job/j{index}",
            "jobName": "extract_lni_inspections",
            "jobId": f"j{index}",
            "jobQueue": "arn:aws:batch:us-east-1:123456789012:job-queue/databridge-pipeline-prod-extract",
            "jobDefinition": "arn:aws:batch:us-east-1:123456789012:job-definition/databridge-extract:1",
            "tags": {"table": str(table.id), "run_id": run_id, "step": "extract"},
        }
        ledger.runs[(str(table.id), run_id)] = extract_submitted(str(table.id), run_id, f"j{index}", now)
        events.append(job_state_change(job, "SUCCEEDED", now, "123456789012", "us-east-1"))
    timings = []
    for event in events:
        start = time.perf_counter()
        service.handle_raw(event)
        timings.append((time.perf_counter() - start) * 1000)
    if batch.calls != count:
        raise SystemExit(f"job events: {batch.calls} SubmitJob calls for {count} events")
    timings.sort()
    return {"events": count, "median": statistics.median(timings), "p99": timings[int(0.99 * count) - 1]}


def bench_reconcile(count: int = 1000) -> dict[str, Any]:
    """One reconciliation pass over ``count`` active runs whose jobs are all past the event's grace."""
    from databridge_pipeline.reconciler import Reconciler

    submitted_at = datetime(2026, 11, 24, 11, 0, tzinfo=UTC)
    now = submitted_at + timedelta(minutes=10)
    run_actions, _, batch, ledger = actions(lambda: now)
    catalog = Catalog(load_tables(ROOT / "table_configs"))
    table = catalog.get("databridge/lni/inspections")
    assert table is not None
    for index in range(count):
        run_id = f"manual-{index:05}"
        ledger.runs[(str(table.id), run_id)] = extract_submitted(str(table.id), run_id, f"j{index}", submitted_at)
    reconciler = Reconciler(catalog, run_actions)
    start = time.perf_counter()
    result = reconciler.run_pass()
    seconds = time.perf_counter() - start
    floor = math.ceil(count / 100)
    if result.describe_calls > floor:
        raise SystemExit(f"reconcile: {result.describe_calls} DescribeJobs calls for {count} runs (floor {floor})")
    if batch.calls != result.repairs["polled"]:
        raise SystemExit(f"reconcile: {batch.calls} loads submitted for {result.repairs['polled']} polled successes")
    return {
        "active_runs": count,
        "describe_jobs_calls": result.describe_calls,
        "describe_jobs_floor": floor,
        "polled": result.repairs["polled"],
        "compute_s": seconds,
    }


def build_sizes() -> dict[str, int] | None:
    build = ROOT / ".aws-sam" / "build"
    if not build.is_dir():
        return None
    return {
        item.name: sum(f.stat().st_size for f in item.rglob("*") if f.is_file())
        for item in sorted(build.iterdir())
        if item.is_dir()
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--json", metavar="OUT", help="also write the figures as JSON")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as temp:
        work = Path(temp)
        print("config load ...", file=sys.stderr)
        config = bench_config_load(work)
        print("dispatch ...", file=sys.stderr)
        dispatch = bench_dispatch(work)
        print("cold starts ...", file=sys.stderr)
        imports = bench_imports(work)
    print("job events ...", file=sys.stderr)
    events = bench_job_events()
    print("reconciliation pass ...", file=sys.stderr)
    reconcile = bench_reconcile()
    costs = {str(n): pipeline_monthly_usd(n) for n in (100, 1000, 10000)}
    report = {
        "date": datetime.now(UTC).strftime("%Y-%m-%d"),
        "machine": f"{os.cpu_count()} cores, Python {sys.version.split()[0]}",
        "config_load_s": {k: v for k, v in config["manifest_s"].items()},
        "config_load_yaml_s": config["yaml_s"],
        "dispatch": {
            "tables": dispatch["tables"],
            "due": dispatch["tick"]["due"],
            "compute_s": dispatch["tick"]["compute_s"],
            "send_message_batch_calls": dispatch["tick"]["send_message_batch_calls"],
            "catch_up_1h": dispatch["catch_up_1h"],
        },
        "import_ms": imports["imports_only_ms"],
        "cold_start_ms": imports["ms"],
        "cold_start_ms_with_xray_tracing": imports["ms_xray"],
        "import_interpreter": imports["interpreter"],
        "heaviest_imports_ms": imports["heaviest"],
        "job_event_ms": {"median": events["median"], "p99": events["p99"]},
        "reconcile": reconcile,
        "cost_usd_month": {n: round(c["total"], 2) for n, c in costs.items()},
        "cost_breakdown_usd_month": costs,
        "legacy_usd_month": round(legacy_monthly_usd()["total"], 2),
        "sam_build_bytes": build_sizes(),
    }
    print_report(report)
    if args.json:
        Path(args.json).write_text(json.dumps(report, indent=2) + "\n")
        print(f"\nwritten to {args.json}")
    return 0


def print_report(r: dict[str, Any]) -> None:
    def mark(ok: bool) -> str:
        return "meets target" if ok else "MISSES target"

    tick = r["dispatch"]
    rows = [
        ("config load, examples (YAML)", f"{r['config_load_yaml_s']['examples'] * 1000:.1f} ms", ""),
        ("config load, 1,000 tables (YAML / manifest)",
         f"{r['config_load_yaml_s']['1000']:.3f} s / {r['config_load_s']['1000']:.3f} s", ""),
        ("config load, 10,000 tables (YAML / manifest)",
         f"{r['config_load_yaml_s']['10000']:.3f} s / {r['config_load_s']['10000']:.3f} s",
         mark(r["config_load_s"]["10000"] < TARGETS["manifest_10000_s"]) + " (< 1 s with the manifest)"),
        (f"dispatch tick, {tick['tables']:,} tables, {tick['due']:,} due",
         f"{tick['compute_s']:.3f} s, {tick['send_message_batch_calls']} SendMessageBatch",
         mark(tick["compute_s"] < TARGETS["tick_s"]) + " (< 0.5 s)"),
        (f"dispatch 1-hour catch-up, {tick['catch_up_1h']['due']:,} due",
         f"{tick['catch_up_1h']['compute_s']:.3f} s, {tick['catch_up_1h']['send_message_batch_calls']} calls", ""),
        *[(f"imports of {name} (-X importtime total)", f"{ms:.0f} ms", mark(ms < TARGETS["import_ms"]) + " (< 300 ms)")
          for name, ms in r["import_ms"].items()],
        *[(f"cold start {name}, tracing off (on)", f"{ms:.0f} ms ({r['cold_start_ms_with_xray_tracing'][name]:.0f} ms)",
           "imports + AWS clients + manifest")
          for name, ms in r["cold_start_ms"].items()],
        (f"reconciliation pass, {r['reconcile']['active_runs']:,} active runs",
         f"{r['reconcile']['compute_s']:.3f} s, {r['reconcile']['describe_jobs_calls']} DescribeJobs "
         f"(floor {r['reconcile']['describe_jobs_floor']})",
         mark(r["reconcile"]["compute_s"] < 0.5) + " (< 0.5 s)"),
        ("job event -> SubmitJob (median / p99)",
         f"{r['job_event_ms']['median']:.2f} / {r['job_event_ms']['p99']:.2f} ms", ""),
        *[(f"monthly AWS cost, {int(n):,} tables", f"${c:,.2f}", "") for n, c in r["cost_usd_month"].items()],
        ("monthly legacy Airflow footprint", f"${r['legacy_usd_month']:,.2f}", ""),
    ]  # fmt: skip
    width = max(len(row[0]) for row in rows)
    print(f"databridge-pipeline benchmarks, {r['date']}, {r['machine']}")
    for name, value, note in rows:
        print(f"  {name.ljust(width)}  {value:<34} {note}")
    if r["sam_build_bytes"]:
        sizes = ", ".join(f"{k} {v / 1e6:.1f} MB" for k, v in r["sam_build_bytes"].items())
        print(f"  sam build sizes: {sizes}")
    else:
        print("  sam build sizes: run `make build` first")
    for name, heavy in r["heaviest_imports_ms"].items():
        print(f"  heaviest imports, {name}: " + ", ".join(f"{m} {ms:.0f} ms" for m, ms in heavy))


if __name__ == "__main__":
    sys.exit(main())
