"""checkov over infra/arm: no failed check, every skip justified next to the resource it skips.

checkov reads each JSON file as its own template and does not follow templateLink, so the
modules are scanned because they are files in the scanned folder; the test makes sure every
resource of every template reached the report.
"""

from __future__ import annotations

import json
import subprocess
from typing import Any

import pytest

from tests.helpers.tools import tool
from tests.infra.arm_support import ARM_DIR, REPO_ROOT, load, resources, template_files

# Each skip is a `metadata.checkov` entry "CKV_ID: reason" on the resource it concerns.
EXPECTED_SKIPS = {
    ("CKV_AZURE_41", "/modules/keyvault-secrets.json"),
    ("CKV_AZURE_166", "/modules/registry.json"),
    ("CKV_AZURE_87", "/modules/defender.json"),
}
# checkov drops failed checks of resources whose name contains one of these calls (its
# arm/utils.py, filter_failed_checks_with_unrendered_resources); no name may use them.
HIDING_FUNCTIONS = ("toLower(", "trim(", "join(", "split(", "substring(")


@pytest.fixture(scope="module")
def report() -> dict[str, Any]:
    result = subprocess.run(
        [tool("checkov"), "--directory", str(ARM_DIR), "--framework", "arm", "--output", "json"],
        capture_output=True,
        text=True,
        check=False,
        cwd=REPO_ROOT,
        timeout=600,
    )
    assert result.stdout, result.stderr
    document = json.loads(result.stdout)
    assert isinstance(document, dict), "one report for the arm framework"
    return document


def test_checkov_finds_no_failed_check(report: dict[str, Any]):
    failed = [
        (c["check_id"], c["file_path"], c["resource"]) for c in report["results"]["failed_checks"]
    ]
    assert failed == []
    assert report["summary"]["parsing_errors"] == 0
    assert report["summary"]["passed"] > 0


def test_every_skip_is_expected_and_justified(report: dict[str, Any]):
    skipped = report["results"]["skipped_checks"]
    assert {(c["check_id"], c["file_path"]) for c in skipped} == EXPECTED_SKIPS
    for check in skipped:
        reason = check["check_result"]["suppress_comment"]
        assert reason != "No comment provided", check["check_id"]
        assert len(reason) > 40, check["check_id"]


def test_checkov_scans_every_resource_of_every_template(report: dict[str, Any]):
    expected = {
        (path.name, item["type"], item["name"])
        for path in template_files()
        for item in resources(load(path))
    }
    assert report["summary"]["resource_count"] == len(expected)


def test_no_resource_name_hides_failures_from_checkov():
    for path in template_files():
        for item in resources(load(path)):
            assert not any(f in item["name"] for f in HIDING_FUNCTIONS), (path.name, item["name"])
