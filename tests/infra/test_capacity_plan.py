"""docs/operations/capacity.md and infra/arm/parameters/prod.parameters.json state one plan.

The capacity page's table "The prod parameter file" is the source of truth: every row must be
the file's value, and the page's summary must name the same sizes.
"""

from __future__ import annotations

import json
import re
from typing import Any

from tests.helpers.tools import REPO_ROOT
from tests.infra.arm_support import load, parameter_file

CAPACITY = REPO_ROOT / "docs" / "operations" / "capacity.md"
ROW = re.compile(r"^\| `(?P<path>[\w.]+)` \| `(?P<value>[^`]+)` \|", re.M)


def planned() -> dict[str, Any]:
    text = CAPACITY.read_text(encoding="utf-8")
    section = text.split("### The prod parameter file", 1)[1].split("\n## ", 1)[0]
    return {m["path"]: json.loads(m["value"]) for m in ROW.finditer(section)}


def prod_value(path: str) -> Any:
    name, *inside = path.split(".")
    value = load(parameter_file("prod"))["parameters"][name]["value"]
    for key in inside:
        value = value[key]
    return value


def test_the_prod_parameter_file_is_the_capacity_plan():
    plan = planned()
    assert {
        "workerMaxReplicas",
        "eventHubsPartitionCount",
        "eventHubsProcessingUnits",
        "postgresSkuName",
        "postgresStorageSizeGB",
    } <= set(plan)
    assert {path: prod_value(path) for path in plan} == plan


def test_the_summary_names_the_same_sizes():
    text = CAPACITY.read_text(encoding="utf-8")
    plan = planned()
    workers = re.search(r"^\| workers \| (\d+) \u00d7 1 vCPU \|", text, re.M)
    assert workers is not None
    assert int(workers.group(1)) == plan["workerMaxReplicas"]
    assert (
        f"{plan['eventHubsProcessingUnits']} PUs, {plan['eventHubsPartitionCount']} partitions"
        in text
    )
    vcores = int(re.search(r"D(\d+)ds_v5", plan["postgresSkuName"]).group(1))  # type: ignore[union-attr]
    assert f"General Purpose {vcores} vCores" in text
