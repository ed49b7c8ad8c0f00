"""SQL rendered from the contract's status table (:mod:`contracts.status`).

The contract is the one source of truth for status codes and transitions. The models use these
renderers directly; a migration instead carries a *frozen copy* of their output (a migration must
never change after it shipped), and a unit test checks that the newest frozen copy still equals
what the contract renders. When the contract's table changes, print the new SQL with
``python -m db.status_sql`` and paste it into a new migration.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from contracts.status import ALLOWED_TRANSITIONS, OrderStatus

TRANSITION_FUNCTION = "orderflow_status_transition_allowed"


def status_codes(statuses: Iterable[int] = OrderStatus) -> tuple[int, ...]:
    return tuple(sorted(int(code) for code in statuses))


def transition_pairs(
    transitions: Mapping[OrderStatus, frozenset[OrderStatus]] = ALLOWED_TRANSITIONS,
) -> tuple[tuple[int, int], ...]:
    """Every allowed ``(from, to)`` pair, sorted so the rendered SQL is stable."""
    return tuple(
        sorted(
            (int(source), int(target))
            for source, targets in transitions.items()
            for target in targets
        )
    )


def status_codes_sql(statuses: Iterable[int] = OrderStatus) -> str:
    """``1000, 1500, …``: the contract's codes as an SQL list."""
    return ", ".join(str(code) for code in status_codes(statuses))


def status_check_sql(column: str, statuses: Iterable[int] = OrderStatus) -> str:
    """``column IN (1000, 1500, …)``: the CHECK that admits only the contract's codes."""
    return f"{column} IN ({status_codes_sql(statuses)})"


def transition_function_sql(
    transitions: Mapping[OrderStatus, frozenset[OrderStatus]] = ALLOWED_TRANSITIONS,
) -> str:
    """``CREATE OR REPLACE FUNCTION`` answering "may an order move from A to B?".

    The table is a literal ``VALUES`` list, so the function is IMMUTABLE and needs no lookup
    table that could drift from the contract.
    """
    rows = ",\n        ".join(
        f"({source}, {target})" for source, target in transition_pairs(transitions)
    )
    return (
        f"CREATE OR REPLACE FUNCTION {TRANSITION_FUNCTION}(\n"
        "    from_status integer, to_status integer\n"
        ")\n"
        "RETURNS boolean\n"
        "LANGUAGE sql IMMUTABLE PARALLEL SAFE\n"
        "AS $$\n"
        "    SELECT (from_status, to_status) IN (VALUES\n"
        f"        {rows}\n"
        "    )\n"
        "$$"
    )


if __name__ == "__main__":
    print("-- status CHECK (orders.status_code)")
    print(status_check_sql("status_code"))
    print()
    print("-- transition function")
    print(transition_function_sql() + ";")
