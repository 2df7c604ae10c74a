"""The services on the in-memory fakes of their ports (tests/fakes).

A package, so its modules (``services.test_dispatcher``) are told apart from the integration tests' of the same
file name under pytest's default import mode.
"""
