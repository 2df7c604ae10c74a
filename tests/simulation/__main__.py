"""``python -m tests.simulation`` from the repository's root: one seed, or many, or one seed's trace.

tests/ (for the fakes) and layers/core (the product, this checkout's, whatever else the environment has
installed) go first on sys.path, as benchmarks/run.py does for tests/.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path[:0] = [str(ROOT / "layers" / "core"), str(ROOT / "tests")]

from .runner import SeedResult, run_seed, run_seeds  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.simulation", description=__doc__)
    parser.add_argument("--seed", type=int, help="run this one seed")
    parser.add_argument("--seeds", type=int, help="run this many seeds, from --start")
    parser.add_argument("--start", type=int, default=0, help="the first of --seeds (default 0)")
    parser.add_argument("--trace", action="store_true", help="print the seed's event trace")
    parser.add_argument("--digest", action="store_true", help="print the seed's trace digest")
    parser.add_argument("--quiet", action="store_true", help="with --seeds: only failures and the summary")
    parser.add_argument("--jobs", type=int, default=1, help="with --seeds: worker processes (default 1)")
    args = parser.parse_args(argv)
    if (args.seed is None) == (args.seeds is None):
        parser.error("give --seed N or --seeds COUNT [--start S]")
    if args.seed is not None:
        return _one(args.seed, args.trace, args.digest)

    def show(result: SeedResult) -> None:
        if not result.ok or not args.quiet:
            print(result.line(), flush=True)

    summary = run_seeds(range(args.start, args.start + args.seeds), show, jobs=args.jobs)
    print("\n".join(summary.lines()))
    return 1 if summary.failed else 0


def _one(seed: int, trace: bool, digest: bool) -> int:
    result = run_seed(seed)
    if trace and result.trace is not None:
        print("\n".join(result.trace.lines))
    if digest:
        print(f"digest {result.digest}")
    print(result.line())
    for violation in result.violations[1:]:
        print(f"  also {violation.invariant}: {violation.fact}")
    print("  " + ", ".join(f"{k} {v}" for k, v in result.stats.items()))
    return 0 if result.ok else 1


if __name__ == "__main__":
    sys.exit(main())
