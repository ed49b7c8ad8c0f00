"""The cost model's arithmetic (``benchmarks/cost.py``) on a small fixture, and the committed
table of ``docs/operations/capacity.md`` being exactly what the script makes of the committed
benchmark JSON, prices and plan."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from benchmarks.cost import (
    BEGIN,
    END,
    PAGE,
    Model,
    load_model,
    render,
    tiered_actions_cost,
    units_from,
)

REPO = Path(__file__).resolve().parents[2]

PRICES: dict[str, Any] = {
    "hours_per_month": 730,
    "temporal_cloud": {
        "action_tiers": [
            {"up_to_millions": 5, "per_million": 50},
            {"up_to_millions": 10, "per_million": 45},
        ],
        "above_last_tier": {"per_million": 40},
        "active_storage_per_gbh": 0.042,
        "retained_storage_per_gbh": 0.001,
        "plan": {
            "minimum_per_month": 500,
            "share_of_usage": 0.10,
            "included_million_actions": 0,
            "included_active_gbh": 0,
            "included_retained_gbh": 0,
        },
    },
    "container_apps": {
        "vcpu_second_active": 0.000024,
        "gib_second": 0.000003,
        "free_vcpu_seconds_per_month": 0,
        "free_gib_seconds_per_month": 0,
    },
    "event_hubs_premium": {"per_pu_hour": 1.0},
    "postgres_flexible_server": {
        "vcore_hour": 0.36,
        "storage_gb_month": 0.1,
        "high_availability_factor": 2,
    },
    "log_analytics": {
        "ingestion_per_gb": 2.0,
        "free_gb_per_month": 0,
        "retention_gb_month": 0.1,
        "included_retention_days": 31,
    },
}
PLAN: dict[str, Any] = {
    "rates": [10, 1000],
    "status_changes_per_order": 0,
    "invalid_share": 0.0,
    "delivery_days": 5,
    "return_window_days": 30,
    "temporal_retention_days": 30,
    "postgres_retention_days": 73,
    "log_retention_days": 31,
    "utilisation_target": 0.6,
    "replica_vcpu": 1,
    "replica_gib": 2,
    "min_replicas": {"worker": 3, "bridge": 2, "api": 2},
    "event_hubs_pu": {10: 1, 1000: 2},
    "postgres_min_vcores": {10: 4, 1000: 8},
    "postgres_vcore_sizes": [2, 4, 8, 16],
    "postgres_min_storage_gb": 128,
    "postgres_max_storage_gb": 65536,
}


def _phase(cpu_key: str, cpu: dict[str, float], **figures: Any) -> dict[str, Any]:
    history_rows = figures.pop("history_rows", 1000.0)
    return {
        cpu_key: cpu,
        "actions": figures.get("actions", 3),
        "history_bytes": figures.get("history_bytes", 1000.0),
        "db": {
            "bytes_by_table": {
                "orders": figures.get("orders_bytes", 1000.0),
                "order_lines": 0.0,
                "order_status_history": history_rows,
            }
        },
        "logs": {"worker": {"bytes": 500.0, "lines": 1.0}},
        "kafka": {"order.status.v1": {"bytes": 1000.0, "records": 1.0}},
    }


BENCHMARK: dict[str, Any] = {
    "run": "fixture",
    "cpus": 2,
    "variants": [
        {
            "name": "design",
            **_phase("cpu_ms_per_order", {"worker": 6.0, "bridge": 1.2, "postgres": 3.0}),
            "status_change": _phase(
                "cpu_ms_per_change", {"worker": 3.0, "api": 0.6, "postgres": 1.0}, actions=3
            ),
            "invalid": _phase("cpu_ms_per_order", {"worker": 3.0, "bridge": 1.2, "postgres": 0.0}),
        }
    ],
}


def test_actions_are_priced_by_temporals_volume_tiers_as_its_example_shows() -> None:
    prices = load_model().prices["temporal_cloud"]

    # docs.temporal.io/cloud/pricing: 11.25M actions = 5 x 50 + 5 x 45 + 1.25 x 40 = 525.
    assert tiered_actions_cost(11.25, prices) == pytest.approx(525.0)
    assert tiered_actions_cost(0.0, prices) == 0.0


def test_actions_beyond_the_last_tier_take_the_assumed_price() -> None:
    # 5 x 50 + 5 x 45 + 2 x 40 (the fixture's price above its last tier).
    assert tiered_actions_cost(12, PRICES["temporal_cloud"]) == pytest.approx(555.0)


def test_usage_cost_per_million_new_orders_adds_up_by_component() -> None:
    model = Model(PRICES, PLAN)

    table = model.per_million(units_from(BENCHMARK))
    new = {component: by_kind["new"] for component, by_kind in table.items()}

    assert new["Temporal Cloud actions"] == pytest.approx(150.0)  # 3 x 50 per million
    # 1,000 bytes open for (5 + 30) days: 1e-6 GB x 840 h x 0.042, per million.
    assert new["Temporal Cloud active storage"] == pytest.approx(35.28)
    # Retained for 30 days: 1e-6 GB x 720 h x 0.001, per million.
    assert new["Temporal Cloud retained storage"] == pytest.approx(0.72)
    assert new["Temporal Cloud plan (share of usage)"] == pytest.approx(0.1 * (150 + 35.28 + 0.72))
    # 6 ms at 60 %: 0.01 vCPU-s of a 1 vCPU / 2 GiB replica at 0.000024 + 2 x 0.000003.
    assert new["Container Apps: worker"] == pytest.approx(0.30)
    assert new["Container Apps: bridge"] == pytest.approx(0.06)
    assert new["Container Apps: api"] == 0.0
    # 3 ms at 60 %: 0.005 vCore-s at 0.36 an hour, doubled by the standby.
    assert new["PostgreSQL compute"] == pytest.approx(1.0)
    # 2,000 bytes for 73 days (2.4 months of 730 h) at 0.1 a GB-month, doubled.
    assert new["PostgreSQL storage"] == pytest.approx(0.96)
    # 2 PUs at 1,000 orders/s carry 1,000 orders x 1,000 bytes a second: 1 byte = 2 / 3600 / 1e6.
    assert new["Event Hubs Premium (capacity share)"] == pytest.approx(2 / 3600 * 1000)
    # 500 bytes at 2.0 a GB, no retention beyond the included days.
    assert new["Log Analytics"] == pytest.approx(1.0)


def test_a_status_change_keeps_only_its_history_row_in_the_database() -> None:
    units = units_from(BENCHMARK)

    assert units["new"].db_bytes == 2000.0
    assert units["change"].db_bytes == 1000.0
    assert units["change"].cpu_ms == {"worker": 3.0, "api": 0.6, "postgres": 1.0}


def test_the_monthly_bill_sizes_replicas_from_the_measured_cpu_with_the_plans_minimums() -> None:
    model = Model(PRICES, PLAN)
    units = units_from(BENCHMARK)

    small, small_sizing = model.monthly(10, units)
    big, big_sizing = model.monthly(1000, units)

    replica_month = (0.000024 + 2 * 0.000003) * 730 * 3600
    # 10/s x 6 ms = 0.06 vCPU: the minimum of 3; 1,000/s x 6 ms / 0.6 = 10 replicas.
    assert small_sizing["worker replicas (1 vCPU, 2 GiB)"] == "3"
    assert big_sizing["worker replicas (1 vCPU, 2 GiB)"] == "10"
    assert big["Container Apps: worker"] == pytest.approx(10 * replica_month)
    # 1,000 x 3 ms / 0.6 = 5 vCores: the plan's 8 at that rate, doubled for the standby.
    assert big["PostgreSQL compute"] == pytest.approx(8 * 0.36 * 730 * 2)
    assert big["Event Hubs Premium"] == pytest.approx(2 * 730)
    # A small month pays the plan's minimum; a big one 10 % of its usage.
    assert small["Temporal Cloud plan"] == 500
    usage = sum(big[c] for c in big if c.startswith("Temporal Cloud") and "plan" not in c)
    assert big["Temporal Cloud plan"] == pytest.approx(0.1 * usage)


def _committed_section() -> str:
    page = PAGE.read_text()
    return page[page.index(BEGIN) + len(BEGIN) : page.index(END)].lstrip("\n")


def test_the_committed_cost_table_is_what_the_script_makes_of_the_committed_benchmark() -> None:
    section = _committed_section()
    found = re.search(r"From `(benchmarks/results/[^`]+\.json)`", section)
    assert found, "the section names the benchmark JSON it was made from"
    source = found.group(1)
    benchmark = json.loads((REPO / source).read_text())

    assert section == render(benchmark, load_model(), source=source)
