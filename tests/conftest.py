"""Session-wide test harness: real services, started the way the local stack starts them.

Fixture plugins live in ``tests/fixtures/``; each starts one real service on a free port and
tears it down at the end of the session.
"""

pytest_plugins = [
    "tests.fixtures.postgres",
    "tests.fixtures.database",
    "tests.fixtures.kafka",
    "tests.fixtures.temporal",
    "tests.fixtures.worker",
]
