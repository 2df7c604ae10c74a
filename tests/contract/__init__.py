"""One behaviour suite per port, run against the in-memory fake and against the adapter on moto.

A package, so its modules (``contract.test_ledger``) are told apart from the integration tests' of the same
file name under pytest's default import mode.
"""
