"""A deterministic, seeded simulation of the pipeline under faults (in the spirit of FoundationDB's simulation
testing and TigerBeetle's VOPR).

A seed draws a world (``world``): a small catalog, a window of some hours of fires, a fault profile. The
simulation (``simulation``) drives the real services, as the three handlers call them (``lambdas``), on the
in-memory fakes of tests/fakes, each invocation behind a fault proxy (``faults``) and interleaved with the
others at its AWS calls, one thread at a time (``baton``); SQS, Batch and EventBridge are played around
them (``aws``, ``plan``). After a drain without faults, the invariants (``invariants``) are checked.

    .venv/bin/python -m tests.simulation --seed 1234          # one seed: passed, or the line that failed
    .venv/bin/python -m tests.simulation --seed 1234 --trace  # and its event trace
    .venv/bin/python -m tests.simulation --seeds 500 --start 0 --jobs 2 --quiet   # many: seeds/s, a summary

The test suite runs seeds 0-199 (test_seeds_a.py, test_seeds_b.py: ten chunks each, one file per xdist
worker) and the harness's own tests (test_harness.py); a soak runs fresh seeds from 1,000,000 on.

Nothing here imports tests/fakes before ``__main__`` has put tests/ on sys.path: this module stays empty.
"""
