"""The local stack: real services from packages (no Docker), supervised as child processes.

``orderflow dev`` and the test fixtures start services through the same functions here, so
what the tests exercise is what a developer runs.
"""
